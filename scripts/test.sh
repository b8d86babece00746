#!/usr/bin/env bash
# The one test command of hostnet.fabric.
#
#   scripts/test.sh [STAGE...]
#
# Stages, run in this order (default: all of them):
#   unit         pytest tests/unit
#   integration  pytest tests/integration (real kernel objects: needs root)
#   lint         ansible-lint, production profile (.ansible-lint)
#   sanity       ansible-test sanity on a copy of the collection in a temporary
#                .../ansible_collections/hostnet/fabric
#   build        ansible-galaxy collection build + install into a temporary collections path,
#                then run hostnet.fabric.bridge from there against a throwaway netns
#   lab          pytest tests/lab: real systemd lab hosts with Docker engines (scripts/lab.sh),
#                one lab per distro (Debian 12: Engine 20.10, Debian 13: Engine 26.1)
#   molecule     molecule test -s SCENARIO for every scenario under molecule/ (on the lab)
#
# It first runs scripts/setup.sh (Debian packages + .venv). It stops at the first failing
# stage and prints a summary line per stage (pass/fail/not run, seconds); exit code 0 only
# when every selected stage passed. pytest finding no test (exit 5) is a failure.
#
# Environment:
#   STAGES="unit lint"   stages to run when no arguments are given
#   KEEP_GOING=1         run the remaining stages after a failure
#   PYTEST_WORKERS=2     pytest-xdist workers for the integration tests
#   LAB_WORKERS=2        pytest-xdist workers for the lab tests (one per distro; 0: no xdist, in turn)
#   PYTEST_ARGS="..."    extra pytest arguments (unit and integration), quoted as in a shell,
#                        e.g. PYTEST_ARGS='-x -k "bridge and not check"'
#   SANITY_ARGS="..."    extra ansible-test sanity arguments, e.g. "--test pylint"
#   KEEP_TMP=1           keep the temporary directories of the sanity and build stages
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
ALL_STAGES=(unit integration lint sanity build lab molecule)
SANITY_PYTHON=3.11

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------- stage selection
if [ "$#" -gt 0 ]; then
    selected=("$@")
elif [ -n "${STAGES:-}" ]; then
    read -r -a selected <<<"${STAGES//,/ }"
else
    selected=("${ALL_STAGES[@]}")
fi
for s in "${selected[@]}"; do
    case " ${ALL_STAGES[*]} " in
    *" $s "*) ;;
    *)
        case "$s" in
        -h | --help | help) usage; exit 0 ;;
        esac
        echo "test.sh: unknown stage '$s' (stages: ${ALL_STAGES[*]})" >&2
        exit 2
        ;;
    esac
done
# Keep the canonical order whatever order they were given in.
stages=()
for s in "${ALL_STAGES[@]}"; do
    case " ${selected[*]} " in *" $s "*) stages+=("$s") ;; esac
done

# split like a shell would (quotes group words: PYTEST_ARGS='-k "bridge and not check"'), with
# no expansion of anything inside (xargs parses quotes, it runs no shell)
split_words() { printf '%s' "$1" | xargs -r -n1 printf '%s\n'; }
mapfile -t pytest_args < <(split_words "${PYTEST_ARGS:-}")
mapfile -t sanity_args < <(split_words "${SANITY_ARGS:-}")

# ---------------------------------------------------------------- set-up
"$REPO/scripts/setup.sh"

export PATH="$VENV/bin:$PATH"
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"
if [ ! -t 1 ]; then
    export NO_COLOR=1 ANSIBLE_NOCOLOR=1 PY_COLORS=0
fi
cd "$REPO"

# ---------------------------------------------------------------- helpers
note() { printf '%s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; return 1; }

make_tmp() { mktemp -d "${TMPDIR:-/tmp}/hostnet-fabric-$1.XXXXXX"; }

drop_tmp() {
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        note "kept $1 (KEEP_TMP=1)"
    else
        rm -rf "$1"
    fi
}

run_pytest() {
    local dir="$1" rc=0
    shift
    [ -d "$dir" ] || fail "$dir does not exist"
    # collections/ansible_collections/hostnet/fabric links back to the repository root, so
    # `ansible_collections.hostnet.fabric.*` imports resolve to this checkout.
    PYTHONPATH="$REPO/collections${PYTHONPATH:+:$PYTHONPATH}" \
        python -m pytest "$dir" -rs "$@" ${pytest_args[@]+"${pytest_args[@]}"} || rc=$?
    if [ "$rc" -eq 5 ]; then
        fail "pytest collected no tests in $dir (exit code 5): there must be tests here"
    fi
    return "$rc"
}

# ---------------------------------------------------------------- stages
stage_unit() {
    run_pytest tests/unit
}

stage_integration() {
    [ "$(id -u)" -eq 0 ] || fail "the integration tests create real kernel objects and must run as root"
    # each test waits mostly on ansible-playbook subprocesses and uses namespaces of its own
    # (unique names), so two workers are safe and halve the time on 2 cores
    run_pytest tests/integration -n "${PYTEST_WORKERS:-2}" -p no:cacheprovider --durations=15
}

stage_lab() {
    [ "$(id -u)" -eq 0 ] || fail "the lab tests run Docker engines in systemd lab hosts and must run as root"
    # -n 2 --dist loadgroup: one worker per distro (tests/lab/conftest.py groups the tests by distro), so the
    # Debian 12 and Debian 13 sessions run side by side; each waits mostly on its lab hosts. LAB_WORKERS=0: in turn.
    local workers=(-n "${LAB_WORKERS:-2}" --dist loadgroup)
    [ "${LAB_WORKERS:-2}" = 0 ] && workers=()
    run_pytest tests/lab -p no:cacheprovider --durations=30 "${workers[@]}" || return
    # every lab is down: the engine the labs started must be stopped and nothing of it left
    local lab_engine='dockerd .*/run/hostnet-lab/'
    if [ ! -e /run/hostnet-lab/engine.owner ] && pgrep -f "$lab_engine" >/dev/null; then
        fail "the labs are down, but a dockerd started by scripts/lab.sh still runs: $(pgrep -af "$lab_engine")"
    fi
}

stage_molecule() {
    [ "$(id -u)" -eq 0 ] || fail "the molecule scenarios run on the lab and must run as root"
    local scenario rc=0
    local var
    for scenario in $(find molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -n1 basename | sort); do
        # a scenario that needs something this machine cannot provide says so in its molecule.yml
        # ("# requires-env: VAR"): it is skipped, loudly, when VAR is not set
        var=$(sed -n 's/^# requires-env: *//p' "molecule/$scenario/molecule.yml")
        if [ -n "$var" ] && [ -z "${!var:-}" ]; then
            note "SKIPPED molecule scenario $scenario: \$$var is not set:" \
                "$(sed -n 's/^# requires-why: *//p' "molecule/$scenario/molecule.yml" | tr '\n' ' ')"
            continue
        fi
        note "molecule test -s $scenario"
        (cd "$REPO" && molecule test -s "$scenario") || { rc=$?; note "scenario $scenario FAILED"; break; }
    done
    return "$rc"
}

stage_lint() {
    ansible-lint --version
    ansible-lint -c "$REPO/.ansible-lint"
}

# ansible-test bootstraps pip in each of its virtualenvs with a get-pip.py it downloads from a
# host this machine cannot reach. Put a stand-in in its cache that does the same from what is
# reachable: the pip wheel bundled with ensurepip, then the requested pip from the index.
ensure_get_pip_standin() {
    local version cache
    version="$(cd / && python - <<'EOF'
from types import SimpleNamespace
try:
    from ansible_test._internal.python_requirements import get_venv_packages
    print(get_venv_packages(SimpleNamespace(version='3.11'))['pip'])
except Exception:  # layout of ansible-test changed: fall back to the 2.19 value
    print('24.2')
EOF
)"
    cache="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
    [ -s "$cache" ] && return 0
    mkdir -p "$(dirname "$cache")"
    cat >"$cache" <<'EOF'
# Stand-in for get-pip.py, written by hostnet.fabric's scripts/test.sh.
# ansible-test bootstraps pip in its venvs with a get-pip.py downloaded from a host that is not
# reachable here. This does the same job with what is reachable: the pip wheel that ensurepip
# bundles, then the requested pip version from the package index.
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install', '--upgrade', '-q'] + args))
EOF
    note "wrote the get-pip stand-in for ansible-test: $cache"
}

stage_sanity() {
    local work dest rc=0
    work="$(make_tmp sanity)"
    # shellcheck disable=SC2064 # expand now: $work is local
    trap "drop_tmp '$work'" EXIT
    dest="$work/ansible_collections/hostnet/fabric"
    mkdir -p "$dest"
    rsync -a \
        --exclude=/.venv/ --exclude=/.git/ --exclude=/collections/ --exclude=/tests/output/ \
        --exclude=/.ansible/ --exclude=/.lab/ --exclude=.pytest_cache/ --exclude=__pycache__/ --exclude='/*.tar.gz' \
        "$REPO/" "$dest/"
    note "copied the collection to $dest"
    ensure_get_pip_standin
    (cd "$dest" && ansible-test sanity --venv --python "$SANITY_PYTHON" \
        ${sanity_args[@]+"${sanity_args[@]}"}) || rc=$?
    return "$rc"
}

build_cleanup() { # EXIT trap of the build stage; uses its globals $work and $ns
    if [ -n "${ns:-}" ] && ip netns list 2>/dev/null | grep -qw "^$ns"; then
        ip netns delete "$ns" || true
    fi
    drop_tmp "$work"
}

# Runs hostnet.fabric.bridge from the installed copy: converge a bridge in the netns, run it
# again (must be unchanged), check the kernel, remove it. Without a netns: check mode only.
write_build_playbook() {
    cat >"$1" <<'EOF'
---
- name: Smoke test of the installed hostnet.fabric collection
  hosts: localhost
  gather_facts: false
  vars:
    ns: ""
  tasks:
    - name: Create a bridge in the throwaway namespace
      hostnet.fabric.bridge:
        name: hfbuildtest
        netns: "{{ ns }}"
      register: created
      when: ns | length > 0

    - name: Converge it again
      hostnet.fabric.bridge:
        name: hfbuildtest
        netns: "{{ ns }}"
      register: again
      when: ns | length > 0

    - name: Read the kernel's view
      ansible.builtin.command: ip -n {{ ns }} -d link show hfbuildtest
      register: kernel
      changed_when: false
      when: ns | length > 0

    - name: Remove it
      hostnet.fabric.bridge:
        name: hfbuildtest
        netns: "{{ ns }}"
        state: absent
      register: removed
      when: ns | length > 0

    - name: Check the results
      ansible.builtin.assert:
        that:
          - created is changed
          - created.bridge.kind == 'bridge'
          - again is not changed
          - "' bridge ' in kernel.stdout"
          - removed is changed
          - removed.bridge is none
      when: ns | length > 0

    - name: Check mode in the current namespace (no netns could be made)
      hostnet.fabric.bridge:
        name: hfbuildtest
      check_mode: true
      register: checked
      when: ns | length == 0

    - name: Check the check-mode result
      ansible.builtin.assert:
        that:
          - checked is changed
          - checked.bridge.kind == 'bridge'
      when: ns | length == 0
EOF
}

stage_build() {
    local tarball
    # Globals, not locals: build_cleanup runs from the EXIT trap after this function returned
    # (the stage's subshell keeps them to itself anyway).
    work="$(make_tmp build)" ns=""
    trap build_cleanup EXIT

    ansible-galaxy collection build "$REPO" --output-path "$work/dist"
    tarball="$(ls "$work"/dist/hostnet-fabric-*.tar.gz)"
    note "built $(basename "$tarball"): $(du -h "$tarball" | cut -f1), $(tar -tzf "$tarball" | wc -l) entries"
    if tar -tzf "$tarball" | grep -E '^(\./)?(\.venv|\.git|collections|tests/output)(/|$)|(^|/)__pycache__(/|$)'; then
        fail "the tarball contains files that build_ignore in galaxy.yml should keep out (listed above)"
    fi

    # From here on only the installed copy is visible: not the checkout's ansible.cfg (which
    # points at ./collections), no PYTHONPATH, no collections from sys.path.
    cd "$work"
    printf '[defaults]\ncollections_path = %s\ncollections_scan_sys_path = false\n' \
        "$work/collections" >"$work/ansible.cfg"
    export ANSIBLE_CONFIG="$work/ansible.cfg"
    unset PYTHONPATH ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS
    ansible-galaxy collection install --offline -p "$work/collections" "$tarball"
    ansible-galaxy collection list hostnet.fabric

    if [ "$(id -u)" -eq 0 ] && ip netns add "hfbuild$BASHPID" 2>/dev/null; then
        ns="hfbuild$BASHPID"
        note "throwaway network namespace: $ns"
    else
        note "cannot create a network namespace here: running the module in check mode only"
    fi
    write_build_playbook "$work/smoke.yml"
    ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$VENV/bin/python" \
        -e "ns=$ns" "$work/smoke.yml"
}

# ---------------------------------------------------------------- run
declare -A result seconds
headline() {
    case "$1" in
    unit) echo "pytest tests/unit" ;;
    integration) echo "pytest tests/integration (real kernel, root)" ;;
    lab) echo "pytest tests/lab (systemd + Docker lab hosts, root)" ;;
    molecule) echo "molecule test for every scenario under molecule/ (on the lab)" ;;
    lint) echo "ansible-lint (profile production)" ;;
    sanity) echo "ansible-test sanity --venv --python $SANITY_PYTHON on a copy of the collection" ;;
    build) echo "ansible-galaxy collection build + install + run hostnet.fabric.bridge" ;;
    esac
}

failed=""
for s in "${stages[@]}"; do
    if [ -n "$failed" ] && [ "${KEEP_GOING:-0}" != 1 ]; then
        result[$s]="not run"
        continue
    fi
    printf '\n===== [%s] %s =====\n' "$s" "$(headline "$s")"
    t0="$(date +%s%N)"
    set +e
    (
        set -euo pipefail
        "stage_$s"
    )
    rc=$?
    set -e
    seconds[$s]="$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')"
    if [ "$rc" -eq 0 ]; then
        result[$s]=PASS
    else
        result[$s]="FAIL (exit $rc)"
        failed="${failed:+$failed }$s"
    fi
    printf '===== [%s] %s in %ss =====\n' "$s" "${result[$s]}" "${seconds[$s]}"
done

printf '\n===== summary =====\n'
for s in "${stages[@]}"; do
    if [ -n "${seconds[$s]:-}" ]; then
        printf '%-12s %-14s %7ss\n' "$s" "${result[$s]}" "${seconds[$s]}"
    else
        printf '%-12s %-14s %8s\n' "$s" "${result[$s]}" "-"
    fi
done
if [ -n "$failed" ]; then
    printf 'test.sh: FAILED: %s\n' "$failed"
    exit 1
fi
printf 'test.sh: all %d stage(s) passed\n' "${#stages[@]}"
