#!/usr/bin/env bash
# The main job: set up (Debian packages + .venv), then run site.yml.
#
#   scripts/run.sh [ansible-playbook options...]
#
# Without -i/--inventory it runs against the local lab: `scripts/lab.sh up --name site` (3 Debian
# 12 hosts with Docker Engine 20.10; HOSTNET_SITE_DISTRO=trixie for Engine 26.1 and swarm mode)
# is brought up first and left up afterwards, so that what was built can be looked at:
#   scripts/lab.sh status                 what runs
#   scripts/lab.sh down --name site       remove it
# With -i INVENTORY it runs against those hosts instead.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO/scripts/setup.sh"
cd "$REPO"
export PATH="$REPO/.venv/bin:$PATH"

args=("$@")
own_inventory=0
for a in "${args[@]+"${args[@]}"}"; do
    case "$a" in
    -i | --inventory | --inventory=* | -i*) own_inventory=1 ;;
    esac
done

if [ "$own_inventory" = 0 ]; then
    lab="${HOSTNET_SITE_LAB:-site}"
    "$REPO/scripts/lab.sh" up --name "$lab" --distro "${HOSTNET_SITE_DISTRO:-bookworm}"
    inventory="$("$REPO/scripts/lab.sh" inventory --name "$lab")"
    args=(-i "$inventory" "${args[@]+"${args[@]}"}")
    echo "run: site.yml against the lab '$lab' ($inventory)"
fi

rc=0
"$REPO/.venv/bin/ansible-playbook" site.yml "${args[@]}" || rc=$?
if [ "$own_inventory" = 0 ]; then
    echo
    if [ "$rc" -eq 0 ]; then
        echo "run: site.yml converged on lab '$lab'; the matrices above show every overlay and fabric path working."
    else
        echo "run: site.yml FAILED (exit $rc) on lab '$lab'; it is left up for a look: scripts/lab.sh status"
    fi
    echo "run: remove the lab with: scripts/lab.sh down --name $lab"
fi
exit "$rc"
