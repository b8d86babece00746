"""netns: when removing (or re-pointing) a name destroys something, and when it does not.

The holder scan itself is tested on a fake /proc in test_netns_info.py and on the real kernel in
tests/integration/test_netns.py; here it is replaced, so that only the decision is under test."""
import pytest

from ansible_collections.hostnet.fabric.plugins.module_utils import _netlink as nlu
from ansible_collections.hostnet.fabric.plugins.module_utils._module import FabricError
from ansible_collections.hostnet.fabric.plugins.module_utils._plan import Plan
from ansible_collections.hostnet.fabric.plugins.modules import netns

HELD = [{'kind': 'process', 'pid': 4242, 'comm': 'nginx'}]


def params(**kw):
    p = dict((k, s.get('default')) for k, s in netns.argument_spec().items())
    p.update(kw)
    return netns.validate(p)


def before(interfaces=('lo', 'eth0'), inode=11, stale=False):
    return {'name': 'web', 'path': '/run/netns/web', 'stale': stale, 'inode': None if stale else inode,
            'interfaces': list(interfaces)}


@pytest.fixture
def holders(monkeypatch):
    found = []
    monkeypatch.setattr(nlu, 'netns_holders', lambda path: list(found))
    return found


def plan_for(p, current):
    plan = Plan()
    after = netns.converge(None, p, current, plan)
    return plan.texts, after


def test_absent_while_a_process_holds_it_only_drops_the_name(holders):
    holders.extend(HELD)
    texts, after = plan_for(params(name='web', state='absent'), before())
    assert texts == ['remove the name web; the namespace lives on, held by process 4242 (nginx) (nothing is destroyed)']
    assert after is None


def test_absent_when_only_the_name_holds_interfaces_needs_force(holders):
    with pytest.raises(FabricError) as exc:
        plan_for(params(name='web', state='absent'), before())
    assert str(exc.value) == ("force: namespace 'web' still holds interfaces eth0 and nothing else keeps it alive: "
                              "removing its name destroys them; set force: true to remove it")
    texts, _after = plan_for(params(name='web', state='absent', force=True), before())
    assert texts == ['remove namespace web and destroy its interfaces eth0']


def test_absent_of_an_empty_namespace_and_of_a_stale_file(holders):
    assert plan_for(params(name='web', state='absent'), before(interfaces=['lo']))[0] == ['remove namespace web']
    assert plan_for(params(name='web', state='absent'), before(stale=True))[0] == [
        'remove stale left-over file /run/netns/web (nothing mounted on it)']
    assert plan_for(params(name='web', state='absent'), None)[0] == []


def test_repointing_away_from_a_namespace_a_process_still_holds(holders, monkeypatch):
    monkeypatch.setattr(nlu, 'netns_inode', lambda name=None, pid=None: (1, 99) if pid else (1, 1))
    p = params(name='web', pid=77)
    with pytest.raises(FabricError) as exc:
        plan_for(p, before())
    assert str(exc.value).startswith("force: namespace 'web' refers to another namespace that still holds interfaces "
                                     "eth0 and nothing else keeps it alive")
    holders.extend(HELD)
    texts, after = plan_for(p, before())
    assert texts == ['unmount namespace web (it refers to another namespace, which lives on, held by process 4242 '
                     '(nginx))', 'attach the network namespace of process 77 as web']
    assert after['inode'] == 99
