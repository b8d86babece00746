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
#
# It first runs scripts/setup.sh (Debian packages + .venv). It stops at the first failing
# stage and prints a summary line per stage (pass/fail/not run, seconds); exit code 0 only
# when every selected stage passed. pytest finding no test (exit 5) is a failure.
#
# Environment:
#   STAGES="unit lint"   stages to run when no arguments are given
#   KEEP_GOING=1         run the remaining stages after a failure
#   PYTEST_ARGS="..."    extra pytest arguments (unit and integration), e.g. "-x -k bridge"
#   SANITY_ARGS="..."    extra ansible-test sanity arguments, e.g. "--test pylint"
#   KEEP_TMP=1           keep the temporary directories of the sanity and build stages
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
ALL_STAGES=(unit integration lint sanity build)
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

read -r -a pytest_args <<<"${PYTEST_ARGS:-}"
read -r -a sanity_args <<<"${SANITY_ARGS:-}"

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
    [ -d "$dir" ] || fail "$dir does not exist"
    # collections/ansible_collections/hostnet/fabric links back to the repository root, so
    # `ansible_collections.hostnet.fabric.*` imports resolve to this checkout.
    PYTHONPATH="$REPO/collections${PYTHONPATH:+:$PYTHONPATH}" \
        python -m pytest "$dir" ${pytest_args[@]+"${pytest_args[@]}"} || rc=$?
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
    run_pytest tests/integration
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
        --exclude=/.ansible/ --exclude=.pytest_cache/ --exclude=__pycache__/ --exclude='/*.tar.gz' \
        "$REPO/" "$dest/"
    note "copied the collection to $dest"
    ensure_get_pip_standin
    (cd "$dest" && ansible-test sanity --venv --python "$SANITY_PYTHON" \
        ${sanity_args[@]+"${sanity_args[@]}"}) || rc=$?
    return "$rc"
}

# Build-stage helpers; they use the stage's globals $work, $cfg, $ns and set $out.
build_cleanup() {
    if [ -n "${ns:-}" ] && ip netns list 2>/dev/null | grep -qw "^$ns"; then
        ip netns delete "$ns" || true
    fi
    drop_tmp "$work"
}

# Run hostnet.fabric.bridge ad hoc from the installed copy only: no ansible.cfg of the
# checkout, no PYTHONPATH, no other collections path. The result lands in $out (JSON).
build_adhoc() {
    local tree="$work/tree.$1"
    shift
    (cd "$work" && env -u PYTHONPATH ANSIBLE_CONFIG="$cfg" \
        ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false \
        ansible localhost -i localhost, -c local -e "ansible_python_interpreter=$VENV/bin/python" \
        -o -t "$tree" -m hostnet.fabric.bridge "$@") || true
    out="$tree/localhost"
    [ -s "$out" ] || fail "no result written for: $*"
}

build_expect() { # FIELD VALUE: jq -c .FIELD of the last result must print VALUE
    local got
    got="$(jq -c ".$1" "$out")"
    [ "$got" = "$2" ] || fail "expected .$1 == $2, got $got in $(cat "$out")"
}

stage_build() {
    local tarball
    # Globals, not locals: build_cleanup runs from the EXIT trap after this function returned
    # (the stage's subshell keeps them to itself anyway).
    work="$(make_tmp build)" ns="" cfg="" out=""
    trap build_cleanup EXIT

    ansible-galaxy collection build "$REPO" --output-path "$work/dist"
    tarball="$(ls "$work"/dist/hostnet-fabric-*.tar.gz)"
    note "built $(basename "$tarball"): $(du -h "$tarball" | cut -f1), $(tar -tzf "$tarball" | wc -l) entries"
    if tar -tzf "$tarball" | grep -E '^(\./)?(\.venv|\.git|collections|tests/output)(/|$)|(^|/)__pycache__(/|$)'; then
        fail "the tarball contains files that build_ignore in galaxy.yml should keep out (listed above)"
    fi
    ansible-galaxy collection install --offline -p "$work/collections" "$tarball"
    cfg="$work/ansible.cfg"
    printf '[defaults]\n' >"$cfg"

    # Where the module came from (must be the installed copy).
    (cd "$work" && env -u PYTHONPATH ANSIBLE_CONFIG="$cfg" ANSIBLE_COLLECTIONS_PATH="$work/collections" \
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false ansible-galaxy collection list hostnet.fabric)

    if [ "$(id -u)" -eq 0 ] && ip netns add "hfbuild$BASHPID" 2>/dev/null; then
        ns="hfbuild$BASHPID"
    else
        note "cannot create a network namespace here: running the module in check mode only"
    fi

    if [ -n "$ns" ]; then
        build_adhoc 1 -a "name=hfbuildtest netns=$ns"
        build_expect failed null
        build_expect changed true
        build_expect bridge.kind '"bridge"'
        ip -n "$ns" -d link show hfbuildtest | grep -qw bridge || fail "no bridge hfbuildtest in netns $ns"
        build_adhoc 2 -a "name=hfbuildtest netns=$ns"
        build_expect failed null
        build_expect changed false
        build_adhoc 3 -a "name=hfbuildtest netns=$ns state=absent"
        build_expect failed null
        build_expect changed true
        if ip -n "$ns" link show hfbuildtest >/dev/null 2>&1; then
            fail "bridge hfbuildtest still in netns $ns after state=absent"
        fi
        note "installed hostnet.fabric.bridge: created, left unchanged, removed a bridge in netns $ns"
    else
        build_adhoc 1 --check -a "name=hfbuildtest"
        build_expect failed null
        build_expect changed true
        note "installed hostnet.fabric.bridge ran in check mode"
    fi
}

# ---------------------------------------------------------------- run
declare -A result seconds
headline() {
    case "$1" in
    unit) echo "pytest tests/unit" ;;
    integration) echo "pytest tests/integration (real kernel, root)" ;;
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
