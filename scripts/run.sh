#!/usr/bin/env bash
# Main job: set up (Debian packages + .venv), then run site.yml from the repository root.
#   scripts/run.sh [ansible-playbook options...]     e.g. scripts/run.sh --check --diff
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO/scripts/setup.sh"
cd "$REPO"
export PATH="$REPO/.venv/bin:$PATH"
exec "$REPO/.venv/bin/ansible-playbook" site.yml "$@"
