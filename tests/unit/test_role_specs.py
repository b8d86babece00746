"""Each role's meta/argument_specs.yml documents exactly its defaults/main.yml, with the same defaults."""
from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / 'roles'
ROLE_DIRS = sorted(p for p in ROLES.iterdir() if (p / 'meta' / 'argument_specs.yml').exists())


def test_there_are_roles_to_check():
    assert ROLE_DIRS, 'no role with meta/argument_specs.yml found under roles/'


@pytest.mark.parametrize('role', ROLE_DIRS, ids=lambda p: p.name)
def test_argument_specs_match_defaults(role):
    specs = yaml.safe_load((role / 'meta' / 'argument_specs.yml').read_text())['argument_specs']['main']['options']
    defaults = yaml.safe_load((role / 'defaults' / 'main.yml').read_text()) or {}
    assert sorted(specs) == sorted(defaults)
    for name, spec in specs.items():
        assert spec.get('default') == defaults[name], name
        assert name.startswith(role.name + '_'), 'public variables are <role>_*: %s' % name
        assert spec.get('description'), name
