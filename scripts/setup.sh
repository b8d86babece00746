#!/usr/bin/env bash
# Set up everything hostnet.fabric needs on a Debian 12 machine (run as root). Idempotent:
#   1. Debian packages (apt-get update only when something is missing),
#   2. the virtualenv $REPO/.venv from the pinned requirements.txt; pip runs only when
#      requirements.txt (or the base interpreter) changed since the last successful install,
#      which is recorded as a hash stamp inside .venv.
#
# Environment:
#   PYTHON=/path/to/python3.11   base interpreter for the venv (default: Debian's /usr/bin/python3)
#   SETUP_FRESH=1                delete and recreate .venv
#   SETUP_SKIP_APT=1             do not touch Debian packages (e.g. when not root)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
REQ="$REPO/requirements.txt"
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-/usr/bin/python3}"

# Debian packages the project needs (binaries, not Python libraries).
APT_PACKAGES=(
    ca-certificates # pip over HTTPS
    git             # ansible-lint / ansible-test list files through git
    python3         # base interpreter of the venv (3.11 on Debian 12)
    python3-venv    # venv + ensurepip for it
    iproute2        # ip netns / ip link: integration tests and the build smoke test
    iputils-ping    # connectivity checks in integration tests; hostnet.fabric.netns_ping runs its ping
    nftables        # nft: hostnet.fabric.vxlan_firewall and its integration tests
    iptables        # vxlan_firewall forward_bridges (Docker's FORWARD chain) and its integration tests
    jq              # scripts/test.sh reads module results
    rsync           # scripts/test.sh copies the collection for ansible-test
    shellcheck      # ansible-test sanity's shellcheck test
    docker.io       # dockerd: docker_daemon_opts tests read its version; the lab runs its engine
    debootstrap     # the lab's host images
    busybox-static  # the lab's probe image
    gpg             # the consul role checks release signatures (and its tests sign a test mirror)
    time            # GNU time: bench/run.py reads the peak RSS of a measured process with it
    iperf3          # bench/run.py B4: TCP throughput across the fabric against the underlay
)

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

# One setup at a time (test.sh and run.sh may both call this).
exec 9>"/tmp/hostnet-fabric-setup.$(printf '%s' "$REPO" | sha256sum | cut -c1-12).lock"
flock 9

# ---------------------------------------------------------------- Debian packages
apt_missing() {
    local pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        if [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" != installed ]; then
            printf '%s\n' "$pkg"
        fi
    done
}

if [ "${SETUP_SKIP_APT:-0}" = 1 ]; then
    say "skipping Debian packages (SETUP_SKIP_APT=1)"
else
    mapfile -t missing < <(apt_missing)
    if [ "${#missing[@]}" -eq 0 ]; then
        say "Debian packages: all ${#APT_PACKAGES[@]} present"
    else
        [ "$(id -u)" -eq 0 ] || die "missing Debian packages (${missing[*]}) and not root; install them or set SETUP_SKIP_APT=1"
        export DEBIAN_FRONTEND=noninteractive
        say "Debian packages: installing ${missing[*]}"
        apt-get update -qq
        # Without systemd (CI, containers) package scripts would start services such as dockerd
        # through their init.d scripts; nothing here wants that - the lab starts its own engine.
        policy=""
        if [ ! -d /run/systemd/system ] && [ ! -e /usr/sbin/policy-rc.d ]; then
            policy=/usr/sbin/policy-rc.d
            printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
        fi
        rc=0
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
        [ -z "$policy" ] || rm -f "$policy"
        [ "$rc" -eq 0 ] || die "apt-get install failed (exit $rc)"
        mapfile -t still < <(apt_missing)
        [ "${#still[@]}" -eq 0 ] || die "still missing after apt-get install: ${still[*]}"
        say "Debian packages: done"
    fi
fi

# ---------------------------------------------------------------- virtualenv
if [ ! -x "$PYTHON" ]; then
    PYTHON="$(command -v python3.11 || command -v python3 || true)"
    if [ -z "$PYTHON" ]; then
        die "no python3 interpreter found (set PYTHON=...)"
    fi
fi
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' \
    || die "$PYTHON is $("$PYTHON" -V 2>&1); ansible-core 2.19 needs Python >= 3.11"

PYID='import sys; print(sys.version.split()[0], sys.base_prefix)'
base_id="$("$PYTHON" -c "$PYID")"
want="$(printf '%s\n%s\n' "$(sha256sum <"$REQ")" "$base_id" | sha256sum | cut -d' ' -f1)"

if [ "${SETUP_FRESH:-0}" = 1 ] && [ -e "$VENV" ]; then
    say "removing $VENV (SETUP_FRESH=1)"
    rm -rf "$VENV"
fi
if [ -e "$VENV" ]; then
    venv_id="$("$VENV/bin/python" -c "$PYID" 2>/dev/null || true)"
    if [ "$venv_id" != "$base_id" ]; then
        say "venv: $VENV is broken or built on another interpreter (${venv_id:-none}); recreating it"
        rm -rf "$VENV"
    fi
fi

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    say "venv: $VENV up to date ($("$VENV/bin/python" -V 2>&1))"
else
    if [ ! -x "$VENV/bin/python" ]; then
        say "venv: creating $VENV with $PYTHON ($("$PYTHON" -V 2>&1))"
        "$PYTHON" -m venv "$VENV"
    fi
    say "venv: installing requirements.txt (changed since last install)"
    rm -f "$STAMP"
    export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
    "$VENV/bin/python" -m pip install -q -r "$REQ"
    "$VENV/bin/python" -m pip check >/dev/null || die "pip check failed in $VENV"
    printf '%s\n' "$want" >"$STAMP"
    say "venv: done"
fi

say "ok ($("$VENV/bin/ansible" --version 2>/dev/null | head -n1))"
