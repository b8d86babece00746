#!/usr/bin/env bash
# The local multi-host lab of hostnet.fabric: N "machines" on this one machine, each a Docker
# container that boots systemd as PID 1 and runs its own Docker engine, joined by one
# user-defined Docker network (the underlay).
#
#   scripts/lab.sh up        [--name NAME] [--hosts N] [--distro bookworm|trixie]
#   scripts/lab.sh down      [--name NAME | --all]
#   scripts/lab.sh status    [--name NAME]
#   scripts/lab.sh inventory [--name NAME]     print the inventory path (regenerated from the live lab)
#   scripts/lab.sh images    [--distro D]      build/import the images only
#   scripts/lab.sh purge                       down --all, then delete images, caches, data-root
#
#   --name NAME    lab name, [a-z0-9-], up to 20 characters (default: default)
#   --hosts N      number of hosts, 1..50 (default 3)
#   --distro D     bookworm (Debian 12, Docker Engine 20.10) or trixie (Debian 13, Engine 26.1)
#
# What it makes, all named after the lab and labelled io.hostnet.lab=NAME:
#   containers hflab-NAME-1..N (hostname = container name), network hflab-NAME (a free /24 of
#   HOSTNET_LAB_POOL, host i at .10+i), volumes hflab-NAME-I-docker (the inner /var/lib/docker),
#   and .lab/NAME/inventory.yml + lab.env in the checkout.
# Shared by all labs: the images hostnet/lab-DISTRO:RECIPEHASH (rebuilt only when the recipe in
# this file changes), the rootfs tarballs and .deb cache in /var/cache/hostnet-lab, and the outer
# Docker engine.
#
# The outer engine: a running one is used (HOSTNET_LAB_DOCKER_HOST, else the lab's own socket,
# else /var/run/docker.sock). When none answers, `up` installs docker.io if missing and starts
# dockerd in the background with its own data-root (/var/lib/hostnet-lab/docker), exec-root,
# pidfile, config file and unix socket (/run/hostnet-lab/docker.sock), no default bridge, and
# records that the lab started it. `down` stops that engine (only that one) when no lab and no
# other container remains, and undoes what it did to the host: iptables chains and FORWARD
# policy, ip_forward, /etc/docker, /opt/containerd, /run/docker, cgroups.
#
# A failed `up` removes the whole lab again (and the engine if no lab remains) and says why.
#
# Environment:
#   HOSTNET_LAB_DOCKER_HOST=unix:///...   use this engine, never start or stop one
#   HOSTNET_LAB_MIRROR=URL                Debian mirror (default: the one in /etc/apt/sources*)
#   HOSTNET_LAB_POOL=10.213.0.0/16        where underlay /24s are taken from
#   HOSTNET_LAB_MTU=N                     underlay MTU (default: the MTU of the default route's
#                                         interface, at most 1500)
#   HOSTNET_LAB_BOOT_TIMEOUT=180          seconds to wait for systemd + docker.service in the hosts
#   HOSTNET_LAB_ENGINE_TIMEOUT=60         seconds to wait for the outer engine's socket
#   HOSTNET_LAB_DIR=REPO/.lab             where inventories are written
set -Eeuo pipefail
shopt -s inherit_errexit
trap 'printf "lab: ERROR: line %s: command failed: %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LAB_DIR="${HOSTNET_LAB_DIR:-$REPO/.lab}"
RUN=/run/hostnet-lab
DATA=/var/lib/hostnet-lab
CACHE=/var/cache/hostnet-lab
OWN_HOST="unix://$RUN/docker.sock"
SYSTEM_HOST=unix:///var/run/docker.sock
LABEL=io.hostnet.lab
PROBE_IMAGE=hostnet/probe:latest
WORKLOAD_CONTAINER=hfapp
POOL="${HOSTNET_LAB_POOL:-10.213.0.0/16}"
BOOT_TIMEOUT="${HOSTNET_LAB_BOOT_TIMEOUT:-180}"
ENGINE_TIMEOUT="${HOSTNET_LAB_ENGINE_TIMEOUT:-60}"
DISTROS=(bookworm trixie)

# Every capability this machine's bounding set allows, except SYS_RESOURCE (not in the bounding
# set: --privileged and --cap-add ALL fail here). BPF, PERFMON and CHECKPOINT_RESTORE are left
# out because Docker 20.10 rejects those names. See ../shared/lab-notes.md.
CAPS=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
    LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER
    SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_TIME
    SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG
    WAKE_ALARM BLOCK_SUSPEND AUDIT_READ)

# ---------------------------------------------------------------- output helpers
say() { printf 'lab: %s\n' "$*" >&2; }
die() {
    printf 'lab: ERROR: %s\n' "$*" >&2
    exit 1
}
quit() {
    trap - ERR
    exit "$1"
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Run a command quietly; on failure show the command and its output, then return its status.
quiet() {
    local out rc=0
    out="$("$@" 2>&1)" || rc=$?
    if [ "$rc" -ne 0 ]; then
        printf 'lab: command failed (exit %s): %s\n' "$rc" "$*" >&2
        [ -z "$out" ] || printf '%s\n' "$out" | tail -n 40 | sed 's/^/    /' >&2
    fi
    return "$rc"
}

usage() {
    sed -n '2,/^set -Eeuo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------- arguments
CMD="${1:-}"
[ "$#" -eq 0 ] || shift
NAME=default
HOSTS=3
DISTRO=bookworm
ALL=0
NAME_SET=0
while [ "$#" -gt 0 ]; do
    case "$1" in
    --name) NAME="${2:-}"; NAME_SET=1; shift 2 || die "--name needs a value" ;;
    --name=*) NAME="${1#*=}"; NAME_SET=1; shift ;;
    --hosts) HOSTS="${2:-}"; shift 2 || die "--hosts needs a value" ;;
    --hosts=*) HOSTS="${1#*=}"; shift ;;
    --distro) DISTRO="${2:-}"; shift 2 || die "--distro needs a value" ;;
    --distro=*) DISTRO="${1#*=}"; shift ;;
    --all) ALL=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see scripts/lab.sh --help)" ;;
    esac
done
case "$CMD" in
up | down | status | inventory | images | purge) ;;
-h | --help | help) usage; exit 0 ;;
'') usage >&2; exit 2 ;;
*) die "unknown command '$CMD' (up, down, status, inventory, images, purge)" ;;
esac
[[ "$NAME" =~ ^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$ ]] \
    || die "--name: must be 1-20 characters of a-z, 0-9 and '-', not starting or ending with '-' (got '$NAME')"
if ! [[ "$HOSTS" =~ ^[0-9]+$ ]] || [ "$HOSTS" -lt 1 ] || [ "$HOSTS" -gt 50 ]; then
    die "--hosts: must be a number in 1..50 (got '$HOSTS')"
fi
case " ${DISTROS[*]} " in *" $DISTRO "*) ;; *) die "--distro: must be one of ${DISTROS[*]} (got '$DISTRO')" ;; esac
[ "$(id -u)" -eq 0 ] || die "the lab runs Docker engines and debootstrap: run it as root"

NET="hflab-$NAME"
STATE="$LAB_DIR/$NAME"
host_name() { printf 'hflab-%s-%s' "$NAME" "$1"; }

mkdir -p "$CACHE"

# Serialises everything that decides about the shared engine and the address pool.
lock() {
    exec 8>"$CACHE/lock"
    flock 8
}
unlock() { flock -u 8 2>/dev/null || true; }

# ---------------------------------------------------------------- Debian packages (this machine)
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    quiet apt-get update -q || die "apt-get update failed"
    # Without systemd, docker.io's postinst would start a system engine through its init.d
    # script; the lab starts its own. policy-rc.d forbids that for the install only.
    local policy="" rc=0
    if [ ! -d /run/systemd/system ] && [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
    fi
    quiet apt-get install -y -q --no-install-recommends "${missing[@]}" || rc=$?
    [ -z "$policy" ] || rm -f "$policy"
    [ "$rc" -eq 0 ] || die "apt-get install ${missing[*]} failed"
}

# ---------------------------------------------------------------- the outer Docker engine
DOCKER_HOST=""
ENGINE_OWNED=0
export DOCKER_HOST
dk() { docker -H "$DOCKER_HOST" "$@"; }

answers() { timeout 20 docker -H "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# Set DOCKER_HOST to an engine that answers, without starting one. Returns 1 if none does.
engine_resolve() {
    ENGINE_OWNED=0
    if [ -n "${HOSTNET_LAB_DOCKER_HOST:-}" ]; then
        DOCKER_HOST="$HOSTNET_LAB_DOCKER_HOST"
        answers "$DOCKER_HOST" || die "HOSTNET_LAB_DOCKER_HOST=$DOCKER_HOST does not answer"
        return 0
    fi
    if [ -S "$RUN/docker.sock" ] && answers "$OWN_HOST"; then
        DOCKER_HOST="$OWN_HOST"
        [ -f "$RUN/engine.owner" ] && ENGINE_OWNED=1
        return 0
    fi
    if [ -S /var/run/docker.sock ] && answers "$SYSTEM_HOST"; then
        DOCKER_HOST="$SYSTEM_HOST"
        return 0
    fi
    DOCKER_HOST=""
    return 1
}

engine_pid() {
    local pid cmdline
    pid="$(cat "$RUN/docker.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    # only a dockerd that uses our pidfile counts as ours
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    [[ "$cmdline" == *"--pidfile $RUN/docker.pid "* ]] || return 1
    printf '%s\n' "$pid"
}

# What the engine is going to change on the host, recorded before it starts so `down` can undo it.
DOCKER_CHAINS_FILTER=(DOCKER DOCKER-ISOLATION-STAGE-1 DOCKER-ISOLATION-STAGE-2 DOCKER-USER)
record_host_state() {
    local c
    {
        printf 'ip_forward=%s\n' "$(cat /proc/sys/net/ipv4/ip_forward)"
        printf 'forward_policy=%s\n' "$(iptables -S FORWARD 2>/dev/null | awk '$1 == "-P" { print $3 }')"
        for c in "${DOCKER_CHAINS_FILTER[@]}"; do
            iptables -n -L "$c" >/dev/null 2>&1 && printf 'had_filter_%s=1\n' "${c//-/_}"
        done
        iptables -t nat -n -L DOCKER >/dev/null 2>&1 && printf 'had_nat_DOCKER=1\n'
        [ -e /etc/docker ] && printf 'had_etc_docker=1\n'
        [ -e /opt/containerd ] && printf 'had_opt_containerd=1\n'
        [ -e /run/docker ] && printf 'had_run_docker=1\n'
        :
    } >"$RUN/host-state"
}

# systemd in every lab host takes inotify instances of the same user (root; the hosts have no
# user namespace): the kernel's default of 128 per user runs out at about a dozen booted hosts,
# and systemd then fails to boot ("Failed to allocate manager object"). Raised while labs run;
# the old value is restored with the rest of the host state when the lab's engine stops.
INOTIFY_MIN=1024
inotify_ensure() {
    local f=/proc/sys/fs/inotify/max_user_instances cur
    cur="$(cat "$f")"
    [ "$cur" -lt "$INOTIFY_MIN" ] || return 0
    if [ -f "$RUN/host-state" ] && ! grep -q '^inotify_instances=' "$RUN/host-state"; then
        printf 'inotify_instances=%s\n' "$cur" >>"$RUN/host-state"
    fi
    printf '%s\n' "$INOTIFY_MIN" >"$f"
    say "raised fs.inotify.max_user_instances from $cur to $INOTIFY_MIN (systemd in each lab host takes some)"
}

# Delete every rule (in any chain of TABLE) that jumps to CHAIN, then the chain itself.
drop_chain() {
    local table="$1" chain="$2" rule
    iptables -t "$table" -n -L "$chain" >/dev/null 2>&1 || return 0
    while read -r rule; do
        # shellcheck disable=SC2086 # a rule as printed by iptables -S: word splitting wanted
        iptables -t "$table" ${rule/#-A /-D } 2>/dev/null || true
    done < <(iptables -t "$table" -S | grep -E -- "^-A .* -j $chain( |$)" || true)
    iptables -t "$table" -F "$chain" 2>/dev/null || true
}

restore_host_state() {
    local c key
    [ -f "$RUN/host-state" ] || return 0
    declare -A had=()
    while IFS='=' read -r key _; do had[$key]=1; done <"$RUN/host-state"
    # flush first (the chains jump to each other), then delete
    for c in "${DOCKER_CHAINS_FILTER[@]}"; do
        [ -n "${had[had_filter_${c//-/_}]:-}" ] || drop_chain filter "$c"
    done
    for c in "${DOCKER_CHAINS_FILTER[@]}"; do
        [ -n "${had[had_filter_${c//-/_}]:-}" ] || iptables -X "$c" 2>/dev/null || true
    done
    if [ -z "${had[had_nat_DOCKER]:-}" ]; then
        drop_chain nat DOCKER
        iptables -t nat -X DOCKER 2>/dev/null || true
    fi
    # masquerading rules of lab networks the engine could not remove itself (bridge gone)
    while read -r rule; do
        dev="$(sed -E 's/.* ! -o (br-[0-9a-f]+) .*/\1/' <<<"$rule")"
        [ -e "/sys/class/net/$dev" ] && continue
        # shellcheck disable=SC2086
        iptables -t nat ${rule/#-A /-D } 2>/dev/null || true
    done < <(iptables -t nat -S POSTROUTING 2>/dev/null | grep -E -- '^-A POSTROUTING -s [0-9./]+ ! -o br-[0-9a-f]+ -j MASQUERADE$' || true)
    local policy ipf
    policy="$(sed -n 's/^forward_policy=//p' "$RUN/host-state")"
    [ -z "$policy" ] || iptables -P FORWARD "$policy" 2>/dev/null || true
    ipf="$(sed -n 's/^ip_forward=//p' "$RUN/host-state")"
    [ -z "$ipf" ] || printf '%s\n' "$ipf" >/proc/sys/net/ipv4/ip_forward
    ipf="$(sed -n 's/^inotify_instances=//p' "$RUN/host-state")"
    [ -z "$ipf" ] || printf '%s\n' "$ipf" >/proc/sys/fs/inotify/max_user_instances
    # directories dockerd/containerd create at their default places even with our own roots
    if [ -z "${had[had_etc_docker]:-}" ]; then rm -f /etc/docker/key.json; rmdir /etc/docker 2>/dev/null || true; fi
    if [ -z "${had[had_opt_containerd]:-}" ]; then
        find /opt/containerd -depth -type d -empty -delete 2>/dev/null || true
    fi
    if [ -z "${had[had_run_docker]:-}" ]; then
        find /run/docker -depth -type d -empty -delete 2>/dev/null || true
    fi
}

# Empty cgroups under the engine's cgroup parent (systemd in the hosts makes sub-cgroups).
remove_cgroups() {
    local d
    for d in /sys/fs/cgroup/*/hostnet-lab /sys/fs/cgroup/hostnet-lab; do
        [ -d "$d" ] || continue
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
}

unmount_under() {
    local m
    while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done < <(awk -v p="$1/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
}

# Processes left from an engine of ours (containerd, shims): anything running from our exec-root.
stray_pids() {
    local p
    for p in /proc/[0-9]*; do
        case "$(cat "$p/comm" 2>/dev/null || true)" in dockerd | containerd | containerd-shim* | runc) ;; *) continue ;; esac
        [[ "$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null || true)" == *"$RUN/"* ]] && printf '%s\n' "${p#/proc/}"
    done
    return 0
}

engine_stop() {
    local pid i
    pid="$(engine_pid || true)"
    if [ -n "$pid" ]; then
        say "stopping the lab's Docker engine (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 300; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && { say "dockerd did not stop in 30 s: killing it"; kill -KILL "$pid" 2>/dev/null || true; }
    fi
    for i in 1 2 3 4 5 6 7 8 9 10; do
        mapfile -t left < <(stray_pids)
        [ "${#left[@]}" -eq 0 ] && break
        if [ "$i" -lt 5 ]; then
            kill -TERM "${left[@]}" 2>/dev/null || true
        else
            kill -KILL "${left[@]}" 2>/dev/null || true
        fi
        sleep 0.5
    done
    unmount_under "$RUN"
    unmount_under "$DATA"
    restore_host_state
    remove_cgroups
    rm -rf "$RUN"
}

engine_start() {
    local t0 pid i
    t0="$(now)"
    ensure_packages docker.io
    # leftovers of an engine of ours that died or hangs
    pid="$(engine_pid || true)"
    if [ -n "$pid" ]; then
        say "an engine started by the lab (pid $pid) runs but does not answer on $OWN_HOST: stopping it"
    fi
    if [ -e "$RUN" ]; then
        engine_stop
    fi
    mkdir -p "$RUN" "$DATA"
    : >"$RUN/engine.owner"
    record_host_state
    # Our own config file, so /etc/docker/daemon.json (a system engine's) is never read; the
    # libtrust key goes to our data directory instead of /etc/docker/key.json.
    printf '{"deprecated-key-path": "%s/key.json"}\n' "$DATA" >"$RUN/daemon.json"
    say "starting dockerd: data-root $DATA/docker, socket $RUN/docker.sock"
    # setsid: its own session, so it outlives this script; 8>&-: it must not hold our lock.
    setsid dockerd \
        --config-file "$RUN/daemon.json" \
        --data-root "$DATA/docker" \
        --exec-root "$RUN/exec" \
        --pidfile "$RUN/docker.pid" \
        -H "$OWN_HOST" \
        --bridge=none \
        --cgroup-parent=/hostnet-lab \
        --containerd-namespace=hostnet-lab \
        --containerd-plugins-namespace=hostnet-lab-plugins \
        </dev/null >>"$RUN/dockerd.log" 2>&1 7>&- 8>&- &
    pid=$!
    printf 'pid=%s\nstarted=%s\n' "$pid" "$(date -Is)" >"$RUN/engine.owner"
    for ((i = 0; i < ENGINE_TIMEOUT * 2; i++)); do
        if ! kill -0 "$pid" 2>/dev/null && ! engine_pid >/dev/null; then
            tail -n 20 "$RUN/dockerd.log" | sed 's/^/    /' >&2
            engine_stop
            die "dockerd exited while starting (its log is above)"
        fi
        if answers "$OWN_HOST"; then
            DOCKER_HOST="$OWN_HOST"
            ENGINE_OWNED=1
            say "engine $(dk version --format '{{.Server.Version}}') up in $(since "$t0") s (pid $pid)"
            return 0
        fi
        sleep 0.5
    done
    tail -n 20 "$RUN/dockerd.log" | sed 's/^/    /' >&2
    engine_stop
    die "dockerd did not answer on $OWN_HOST within ${ENGINE_TIMEOUT}s (its log is above)"
}

# Names of the labs on the current engine (from their labelled networks and containers).
lab_names() {
    {
        dk network ls --filter "label=$LABEL" --format "{{.Label \"$LABEL\"}}"
        dk ps -a --filter "label=$LABEL" --format "{{.Label \"$LABEL\"}}"
    } | sort -u | sed '/^$/d'
}

# Stop the engine if the lab started it and nothing runs on it any more. Call with the lock held.
engine_maybe_stop() {
    [ "$ENGINE_OWNED" = 1 ] || return 0
    if [ -n "$(lab_names)" ]; then
        say "the lab's engine keeps running: labs left: $(lab_names | tr '\n' ' ')"
        return 0
    fi
    if [ -n "$(dk ps -aq)" ]; then
        say "the lab's engine keeps running: it has containers that are not the lab's"
        return 0
    fi
    engine_stop
    DOCKER_HOST=""
    ENGINE_OWNED=0
}

# ---------------------------------------------------------------- images
# Debian mirror: the one this machine's apt uses for Debian (not -security), unless overridden.
debian_mirror() {
    if [ -n "${HOSTNET_LAB_MIRROR:-}" ]; then
        printf '%s\n' "$HOSTNET_LAB_MIRROR"
        return
    fi
    local m
    m="$({
        cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }'
        cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }'
    } | grep -E '/debian/?$' | grep -v -e security -e snapshot | sed -n 1p || true)"
    printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

image_packages() {
    # python3-requests / python3-docker: what community.docker's modules need on the host
    # nftables: the native fabric's VXLAN firewall; iperf3: the fabric's data-path benchmark
    local pkgs=(systemd systemd-sysv dbus python3 python3-apt python3-requests python3-docker iproute2
        iputils-ping iptables nftables iperf3 procps docker.io)
    # Debian 13 ships the docker CLI in its own package
    [ "$1" = trixie ] && pkgs+=(docker-cli)
    local IFS=,
    printf '%s\n' "${pkgs[*]}"
}

# Runs on the debootstrapped tree, before it is packed. Part of the recipe hash.
customize_rootfs() {
    local root="$1" distro="$2" u
    # every host gets its own machine-id on first boot
    : >"$root/etc/machine-id"
    rm -f "$root/var/lib/dbus/machine-id"
    # units that have nothing to do in a container (no consoles, no kernel modules to load)
    for u in getty.target console-getty.service systemd-modules-load.service \
        sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
        sys-fs-fuse-connections.mount systemd-remount-fs.service systemd-firstboot.service; do
        ln -sf /dev/null "$root/etc/systemd/system/$u"
    done
    # the inner engine starts empty (its data is a volume per host)
    rm -rf "${root:?}/var/lib/docker" "${root:?}/var/lib/containerd"
    mkdir -p "$root/var/lib/docker"
    [ -e "$root/etc/systemd/system/multi-user.target.wants/docker.service" ] \
        || ln -sf /lib/systemd/system/docker.service "$root/etc/systemd/system/multi-user.target.wants/docker.service"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log "$root/var/log/apt"
    printf 'distro=%s\nrecipe=%s\n' "$distro" "$RECIPE_HASH" >"$root/etc/hostnet-lab-release"
}

# pyroute2 for hostnet.fabric's modules on the lab hosts (Debian's python3-pyroute2 is too old):
# the version requirements.txt pins, a pure-Python wheel unpacked into /usr/local.
pyroute2_pin() {
    local pin
    pin="$(sed -n 's/^pyroute2==\([0-9.]*\).*/\1/p' "$REPO/requirements.txt" 2>/dev/null || true)"
    printf '%s\n' "${pin:-0.9.7}"
}

install_pyroute2() {
    local root="$1" version wheel py pip=(python3 -m pip)
    version="$(pyroute2_pin)"
    mkdir -p "$CACHE/wheels"
    wheel="$(find "$CACHE/wheels" -name "pyroute2-$version-py3-none-any.whl" | sed -n 1p)"
    if [ -z "$wheel" ]; then
        [ -x "$REPO/.venv/bin/python" ] && pip=("$REPO/.venv/bin/python" -m pip)
        quiet "${pip[@]}" download --no-deps --only-binary=:all: -d "$CACHE/wheels" "pyroute2==$version" \
            || die "could not fetch the pyroute2 $version wheel (pip from scripts/setup.sh's .venv or python3-pip is needed)"
        wheel="$CACHE/wheels/pyroute2-$version-py3-none-any.whl"
    fi
    for py in "$root"/usr/lib/python3.[0-9]*; do
        [ -x "$root/usr/bin/${py##*/}" ] || continue
        mkdir -p "$root/usr/local/lib/${py##*/}/dist-packages"
        python3 -m zipfile -e "$wheel" "$root/usr/local/lib/${py##*/}/dist-packages/"
    done
}

recipe() {
    printf 'hostnet-lab image recipe 1\nsuite=%s\nvariant=minbase\ninclude=%s\n' "$1" "$(image_packages "$1")"
    printf 'pyroute2=%s\n' "$(pyroute2_pin)"
    declare -f install_pyroute2 customize_rootfs
    printf 'CMD ["/lib/systemd/systemd"]\nENV container=docker\n'
}
recipe_hash() { recipe "$1" | sha256sum | cut -c1-12; }
image_tag() { printf 'hostnet/lab-%s:%s\n' "$1" "$(recipe_hash "$1")"; }

build_rootfs_tar() {
    local distro="$1" out="$2" mirror work t0 rc=0
    ensure_packages debootstrap
    mirror="$(debian_mirror)"
    work="$(mktemp -d "$CACHE/build-$distro.XXXXXX")"
    BUILD_WORK="$work"
    mkdir -p "$CACHE/debs"
    t0="$(now)"
    say "debootstrap $distro (minbase + $(image_packages "$distro")) from $mirror"
    (
        trap 'unmount_under "$work"' EXIT
        debootstrap --variant=minbase --include="$(image_packages "$distro")" \
            --cache-dir="$CACHE/debs" "$distro" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1
    ) || rc=$?
    if [ "$rc" -ne 0 ]; then
        tail -n 25 "$work/debootstrap.log" | sed 's/^/    /' >&2
        [ ! -f "$work/root/debootstrap/debootstrap.log" ] || tail -n 15 "$work/root/debootstrap/debootstrap.log" | sed 's/^/    /' >&2
        unmount_under "$work"
        rm -rf "$work"
        die "debootstrap of $distro failed (exit $rc; log above)"
    fi
    say "debootstrap $distro done in $(since "$t0") s"
    install_pyroute2 "$work/root"
    RECIPE_HASH="$(recipe_hash "$distro")" customize_rootfs "$work/root" "$distro"
    tar --numeric-owner --xattrs --xattrs-include='*' -C "$work/root" -cf "$work/rootfs.tar" .
    mv "$work/rootfs.tar" "$out"
    rm -rf "$work"
    BUILD_WORK=""
}

image_ensure() {
    local distro="$1" tag hash tar t0 old
    tag="$(image_tag "$distro")"
    if dk image inspect "$tag" >/dev/null 2>&1; then
        say "image $tag present (recipe unchanged)"
        return 0
    fi
    exec 7>"$CACHE/build-$distro.lock"
    flock 7
    # build directories of a build that was killed (we hold the build lock: none is running)
    for old in "$CACHE/build-$distro".*/; do
        [ -d "$old" ] || continue
        unmount_under "${old%/}"
        rm -rf "${old:?}"
    done
    if dk image inspect "$tag" >/dev/null 2>&1; then
        flock -u 7
        return 0
    fi
    t0="$(now)"
    hash="$(recipe_hash "$distro")"
    tar="$CACHE/rootfs-$distro-$hash.tar"
    if [ -f "$tar" ]; then
        say "rootfs tarball $tar cached"
    else
        # tarballs of older recipes are of no use any more
        rm -f "$CACHE/rootfs-$distro-"*.tar
        build_rootfs_tar "$distro" "$tar"
    fi
    quiet dk import \
        --change 'CMD ["/lib/systemd/systemd"]' \
        --change 'ENV container=docker' \
        "$tar" "$tag" || die "docker import of $tar failed"
    say "image $tag built in $(since "$t0") s ($(du -h "$tar" | cut -f1) rootfs)"
    # images of older recipes (the engine refuses while a container still uses one)
    dk images --format '{{.Repository}}:{{.Tag}}' "hostnet/lab-$distro" | grep -v -x -F "$tag" \
        | xargs -r docker -H "$DOCKER_HOST" image rm >/dev/null 2>&1 || true
    flock -u 7
}

# The probe image: Debian's static busybox and its applet links, nothing else.
make_probe_tree() {
    local root="$1" a
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root"
    cp /bin/busybox "$root/bin/busybox"
    for a in $("$root/bin/busybox" --list); do
        [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\n' >"$root/etc/group"
}

probe_tar() {
    local hash tar work
    ensure_packages busybox-static
    hash="$({ dpkg-query -W busybox-static; declare -f make_probe_tree; } | sha256sum | cut -c1-12)"
    tar="$CACHE/probe-$hash.tar"
    if [ ! -f "$tar" ]; then
        rm -f "$CACHE"/probe-*.tar
        work="$(mktemp -d "$CACHE/probe.XXXXXX")"
        make_probe_tree "$work"
        tar --numeric-owner -C "$work" -cf "$tar.tmp" .
        mv "$tar.tmp" "$tar"
        rm -rf "$work"
    fi
    printf '%s\n' "$tar"
}

# ---------------------------------------------------------------- labs
free_subnet() {
    local routes nets
    routes="$(ip -4 -o route show table all 2>/dev/null | awk '{ print ($1 == "local" || $1 == "broadcast") ? $2 : $1 }')"
    # shellcheck disable=SC2046 # a list of network ids
    nets="$(dk network inspect --format '{{range .IPAM.Config}}{{.Subnet}} {{end}}' $(dk network ls -q) 2>/dev/null || true)"
    python3 - "$POOL" "$NAME" <<EOF
import hashlib, ipaddress, sys
pool, name = ipaddress.ip_network(sys.argv[1]), sys.argv[2]
used = []
for word in """$routes $nets""".split():
    try:
        used.append(ipaddress.ip_network(word if word != 'default' else '0.0.0.0/32', strict=False))
    except ValueError:
        pass
cands = list(pool.subnets(new_prefix=24)) if pool.prefixlen <= 24 else [pool]
start = int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(cands)
for i in range(len(cands)):
    c = cands[(start + i) % len(cands)]
    if not any(c.overlaps(u) for u in used if u.version == 4 and u.prefixlen > 0):
        print(c)
        sys.exit(0)
sys.exit('no free /24 left in %s' % pool)
EOF
}

underlay_mtu() {
    local dev mtu=1500
    if [ -n "${HOSTNET_LAB_MTU:-}" ]; then
        printf '%s\n' "$HOSTNET_LAB_MTU"
        return
    fi
    dev="$(ip -4 route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')"
    [ -n "$dev" ] && [ -r "/sys/class/net/$dev/mtu" ] && mtu="$(cat "/sys/class/net/$dev/mtu")"
    [ "$mtu" -gt 1500 ] && mtu=1500
    printf '%s\n' "$mtu"
}

hexec() { dk exec "$@"; }

# systemd up (running or degraded) and docker.service active with an engine that answers.
wait_host() {
    local h="$1" deadline state="" active=""
    deadline=$(($(date +%s) + BOOT_TIMEOUT))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        [ "$(dk inspect -f '{{.State.Running}}' "$h" 2>/dev/null)" = true ] \
            || { say "$h is not running: $(dk inspect -f '{{.State.Status}} exit={{.State.ExitCode}} {{.State.Error}}' "$h" 2>&1)"; return 1; }
        state="$(hexec "$h" systemctl is-system-running 2>/dev/null || true)"
        case "$state" in
        running | degraded)
            active="$(hexec "$h" systemctl is-active docker.service 2>/dev/null || true)"
            if [ "$active" = active ] && hexec "$h" docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
                return 0
            fi
            ;;
        maintenance | stopping | offline) ;;
        esac
        sleep 1
    done
    say "$h: not ready after ${BOOT_TIMEOUT}s: systemd '$state', docker.service '${active:-?}'"
    return 1
}

diagnose_host() {
    local h="$1" failed
    if [ "$(dk inspect -f '{{.State.Running}}' "$h" 2>/dev/null)" != true ]; then
        say "$h is not running ($(dk inspect -f '{{.State.Status}}, exit {{.State.ExitCode}} {{.State.Error}}' "$h" 2>&1)); its log:"
        dk logs --tail 20 "$h" 2>&1 | sed 's/^/    /' >&2 || true
        return 0
    fi
    failed="$(hexec "$h" systemctl --failed --no-legend --plain 2>/dev/null | awk '{ print $1 }' | tr '\n' ' ' || true)"
    say "$h: systemd $(hexec "$h" systemctl is-system-running 2>/dev/null || true), failed units: ${failed:-none}"
    if [ "$(hexec "$h" systemctl is-active docker.service 2>/dev/null || true)" != active ]; then
        say "$h: docker.service is not active; its journal:"
        hexec "$h" journalctl -u docker.service -n 20 --no-pager 2>&1 | sed 's/^/    /' >&2 || true
    fi
}

lab_remove() {
    local name="$1" ids
    ids="$(dk ps -aq --filter "label=$LABEL=$name" 2>/dev/null || true)"
    # shellcheck disable=SC2086 # a list of ids
    [ -z "$ids" ] || quiet dk rm -f -v $ids >/dev/null || true
    ids="$(dk network ls -q --filter "label=$LABEL=$name" 2>/dev/null || true)"
    # shellcheck disable=SC2086
    [ -z "$ids" ] || quiet dk network rm $ids >/dev/null || true
    ids="$(dk volume ls -q --filter "label=$LABEL=$name" 2>/dev/null || true)"
    # shellcheck disable=SC2086
    [ -z "$ids" ] || quiet dk volume rm -f $ids >/dev/null || true
    rm -rf "${LAB_DIR:?}/$name"
    rmdir "$LAB_DIR" 2>/dev/null || true
}

# Writes $STATE/inventory.yml and lab.env from the live lab.
write_inventory() {
    local i h ip iface distro subnet mtu inv
    distro="$(dk network inspect -f "{{index .Labels \"$LABEL.distro\"}}" "$NET")"
    subnet="$(dk network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$NET")"
    mtu="$(dk network inspect -f '{{index .Options "com.docker.network.driver.mtu"}}' "$NET")"
    mapfile -t hosts < <(dk ps -a --filter "label=$LABEL=$NAME" --format "{{.Label \"$LABEL.index\"}} {{.Names}}" | sort -n | awk '{ print $2 }')
    [ "${#hosts[@]}" -gt 0 ] || die "lab $NAME has no hosts"
    mkdir -p "$STATE"
    inv="$STATE/inventory.yml"
    {
        printf -- '---\n# Generated by scripts/lab.sh for lab "%s" (%s, %s hosts). Do not edit:\n' "$NAME" "$distro" "${#hosts[@]}"
        printf '# "scripts/lab.sh inventory --name %s" writes it again, "scripts/lab.sh down --name %s" removes it.\n' "$NAME" "$NAME"
        printf 'all:\n  vars:\n'
        printf '    ansible_connection: community.docker.docker\n'
        printf '    # the docker CLI of the connection plugin talks to the lab'"'"'s outer engine\n'
        printf '    ansible_docker_extra_args: "-H %s"\n' "$DOCKER_HOST"
        printf '    ansible_python_interpreter: /usr/bin/python3\n'
        printf '    hostnet_lab_name: %s\n    hostnet_lab_distro: %s\n' "$NAME" "$distro"
        printf '    hostnet_lab_docker_host: "%s"\n' "$DOCKER_HOST"
        printf '    hostnet_underlay_network: %s\n    hostnet_underlay_subnet: %s\n' "$NET" "$subnet"
        printf '    hostnet_underlay_mtu: %s\n' "$mtu"
        printf '    hostnet_probe_image: "%s"\n' "$PROBE_IMAGE"
        # the native VXLAN fabric (hostnet.fabric.vxlan_fabric): a segment for the workloads the role plugs in, and a
        # docker: true segment (a Docker bridge network "hfdk" on every host for `docker run --network hfdk`); per
        # host a workload namespace and the workload container, in the host's block (host number = the underlay
        # address's last byte, block N = 10.42.0.N*16/28); the VXLAN port open to the fabric's hosts only
        printf '    vxlan_fabric_segments:\n'
        printf '      - {name: fabric, vni: 4242, subnet: 10.42.0.0/24}\n'
        printf '      - {name: hfdk, vni: 4300, subnet: 10.60.0.0/24, docker: true}\n'
        printf '    vxlan_fabric_firewall: true\n'
        printf '    hostnet_workload_container: %s\n' "$WORKLOAD_CONTAINER"
        printf '  hosts:\n'
        i=0
        for h in "${hosts[@]}"; do
            i=$((i + 1))
            ip="$(dk inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$h")"
            iface="$(hexec "$h" ip -o -4 addr show | awk -v ip="$ip" '{ split($4, a, "/"); if (a[1] == ip) { print $2; exit } }')"
            [ -n "$iface" ] || die "$h: no interface holds the underlay address $ip"
            printf '    %s:\n      ansible_host: %s\n      hostnet_underlay_ip: %s\n      hostnet_underlay_iface: %s\n' \
                "$h" "$h" "$ip" "$iface"
            printf '      vxlan_fabric_workloads:\n        - {name: work, segment: fabric, address: 10.42.0.%s}\n' \
                "$(( ${ip##*.} * 16 + 1 ))"
            printf '        - {name: app, segment: fabric, address: 10.42.0.%s, container: %s}\n' \
                "$(( ${ip##*.} * 16 + 2 ))" "$WORKLOAD_CONTAINER"
        done
        printf '  children:\n'
        printf '    kv_servers:\n      hosts:\n        %s: {}\n' "${hosts[0]}"
        for g in docker_hosts fabric_hosts; do
            printf '    %s:\n      hosts:\n' "$g"
            for h in "${hosts[@]}"; do printf '        %s: {}\n' "$h"; done
        done
    } >"$inv.tmp"
    mv "$inv.tmp" "$inv"
    {
        printf 'LAB_NAME=%s\nLAB_DISTRO=%s\nLAB_HOSTS=%s\nLAB_SUBNET=%s\n' "$NAME" "$distro" "${#hosts[@]}" "$subnet"
        printf 'LAB_DOCKER_HOST=%s\nLAB_INVENTORY=%s\nLAB_NETWORK=%s\n' "$DOCKER_HOST" "$inv" "$NET"
        printf 'LAB_HOST_NAMES="%s"\n' "${hosts[*]}"
    } >"$STATE/lab.env"
}

# The engine the named lab lives on: its lab.env's, else whichever answers.
engine_for_lab() {
    local h=""
    [ -f "$STATE/lab.env" ] && h="$(sed -n 's/^LAB_DOCKER_HOST=//p' "$STATE/lab.env")"
    if [ -n "$h" ] && answers "$h"; then
        DOCKER_HOST="$h"
        ENGINE_OWNED=0
        [ "$h" = "$OWN_HOST" ] && [ -f "$RUN/engine.owner" ] && ENGINE_OWNED=1
        return 0
    fi
    engine_resolve
}

lab_healthy() {
    local h
    [ -n "$(dk network ls -q --filter "label=$LABEL=$NAME")" ] || return 1
    mapfile -t hs < <(dk ps -a --filter "label=$LABEL=$NAME" --format '{{.Names}}')
    [ "${#hs[@]}" -eq "$HOSTS" ] || return 1
    for h in "${hs[@]}"; do
        [ "$(dk inspect -f '{{.State.Running}}' "$h")" = true ] || return 1
        case "$(hexec "$h" systemctl is-system-running 2>/dev/null || true)" in running | degraded) ;; *) return 1 ;; esac
        [ "$(hexec "$h" systemctl is-active docker.service 2>/dev/null || true)" = active ] || return 1
    done
}

# ---------------------------------------------------------------- commands
UP_OK=0
BUILD_WORK=""
on_exit() {
    local rc=$?
    if [ -n "$BUILD_WORK" ] && [ -d "$BUILD_WORK" ]; then
        unmount_under "$BUILD_WORK"
        rm -rf "$BUILD_WORK"
    fi
    [ "$CMD" != up ] || up_cleanup "$rc"
}

up_cleanup() {
    local rc="$1"
    [ "$UP_OK" = 1 ] && return 0
    trap - EXIT INT TERM
    set +e
    say "up of lab '$NAME' failed (exit $rc): removing what it made"
    if [ -n "$DOCKER_HOST" ]; then
        if [ "${DIAGNOSED:-0}" = 0 ] && [ "$rc" -lt 128 ]; then
            for h in $(dk ps -a --filter "label=$LABEL=$NAME" --format '{{.Names}}' 2>/dev/null); do
                diagnose_host "$h"
            done
        fi
        lock
        lab_remove "$NAME"
        engine_maybe_stop
        unlock
    elif [ -e "$RUN/engine.owner" ] && ! answers "$OWN_HOST"; then
        # the engine did not get as far as answering
        lock
        engine_stop
        unlock
    fi
    say "lab '$NAME' is not up; nothing of it is left running"
    exit "$([ "$rc" -eq 0 ] && echo 1 || echo "$rc")"
}

cmd_up() {
    local t0 t1 subnet mtu i h ip tag probe hosts_up=() started c
    t0="$(now)"
    ensure_packages docker.io debootstrap busybox-static iptables python3

    lock
    if ! engine_resolve; then
        engine_start
    fi
    inotify_ensure
    if [ -n "$(dk network ls -q --filter "label=$LABEL=$NAME")$(dk ps -aq --filter "label=$LABEL=$NAME")" ]; then
        local have_distro
        have_distro="$(dk network inspect -f "{{index .Labels \"$LABEL.distro\"}}" "$NET" 2>/dev/null || true)"
        if [ "$have_distro" = "$DISTRO" ] && lab_healthy; then
            unlock
            write_inventory
            UP_OK=1
            say "lab '$NAME' is already up ($DISTRO, $HOSTS hosts); inventory: $STATE/inventory.yml"
            return 0
        fi
        UP_OK=1 # not ours to remove
        die "lab '$NAME' exists but is not up as asked ($DISTRO, $HOSTS hosts, all booted): run 'scripts/lab.sh down --name $NAME' first"
    fi
    for ((i = 1; i <= HOSTS; i++)); do
        h="$(host_name "$i")"
        if dk inspect "$h" >/dev/null 2>&1; then
            UP_OK=1
            die "a container named $h exists and is not labelled as part of lab '$NAME': not touching it"
        fi
    done
    if dk network inspect "$NET" >/dev/null 2>&1; then
        UP_OK=1
        die "a network named $NET exists and is not labelled as part of lab '$NAME': not touching it"
    fi
    subnet="$(free_subnet)" || die "no free /24 for the underlay in $POOL"
    mtu="$(underlay_mtu)"
    quiet dk network create --driver bridge --subnet "$subnet" --gateway "${subnet%.*}.1" \
        -o "com.docker.network.driver.mtu=$mtu" \
        --label "$LABEL=$NAME" --label "$LABEL.distro=$DISTRO" --label "$LABEL.hosts=$HOSTS" \
        "$NET" >/dev/null || die "could not create the underlay network $NET ($subnet)"
    unlock
    say "underlay $NET: $subnet, MTU $mtu (engine $DOCKER_HOST)"

    image_ensure "$DISTRO"
    tag="$(image_tag "$DISTRO")"
    probe="$(probe_tar)"

    t1="$(now)"
    local caps=()
    for c in "${CAPS[@]}"; do caps+=(--cap-add "$c"); done
    for ((i = 1; i <= HOSTS; i++)); do
        h="$(host_name "$i")"
        ip="${subnet%.*}.$((10 + i))"
        quiet dk volume create --label "$LABEL=$NAME" "$h-docker" >/dev/null || die "could not create volume $h-docker"
        quiet dk run -d --name "$h" --hostname "$h" \
            --label "$LABEL=$NAME" --label "$LABEL.index=$i" \
            --network "$NET" --ip "$ip" \
            "${caps[@]}" \
            --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
            --security-opt systempaths=unconfined \
            --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
            --tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
            --mount "type=volume,src=$h-docker,dst=/var/lib/docker" \
            "$tag" >/dev/null || die "docker run of $h failed"
        hosts_up+=("$h")
    done
    for h in "${hosts_up[@]}"; do
        if ! wait_host "$h"; then
            diagnose_host "$h"
            DIAGNOSED=1
            die "$h did not boot (systemd running/degraded and docker.service active) within ${BOOT_TIMEOUT}s"
        fi
    done
    started="$(since "$t1")"
    for h in "${hosts_up[@]}"; do
        quiet dk exec -i "$h" docker import --change 'CMD ["/bin/sh"]' - "$PROBE_IMAGE" <"$probe" >/dev/null \
            || die "could not load $PROBE_IMAGE into $h's engine"
        # the site's application container: no network of Docker's, the native fabric plugs it in (a container
        # workload of the inventory); restarted with its engine, like a real service
        quiet dk exec "$h" docker run -d --name "$WORKLOAD_CONTAINER" --network none --restart unless-stopped \
            --label "$LABEL.workload=1" "$PROBE_IMAGE" sleep 2147483647 >/dev/null \
            || die "could not start the workload container $WORKLOAD_CONTAINER in $h"
    done
    write_inventory
    UP_OK=1
    say "lab '$NAME' up: $HOSTS x $DISTRO ($tag) on $NET $subnet; hosts booted in $started s, up took $(since "$t0") s"
    for h in "${hosts_up[@]}"; do
        say "  $h  $(dk inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$h")  $(hexec "$h" systemctl is-system-running 2>/dev/null || true), docker $(hexec "$h" docker version --format '{{.Server.Version}}')"
    done
    say "inventory: $STATE/inventory.yml"
}

cmd_down() {
    local t0 names=() n
    t0="$(now)"
    if [ "$ALL" = 0 ] && ! engine_for_lab; then
        rm -rf "${STATE:?}"
        rmdir "$LAB_DIR" 2>/dev/null || true
        if [ -f "$RUN/engine.owner" ]; then
            lock
            engine_stop
            unlock
        fi
        say "no engine answers: lab '$NAME' is not running"
        return 0
    fi
    if [ "$ALL" = 1 ] && ! engine_resolve; then
        rm -rf "${LAB_DIR:?}"
        if [ -f "$RUN/engine.owner" ]; then
            lock
            engine_stop
            unlock
        fi
        say "no engine answers: no lab is running"
        return 0
    fi
    lock
    if [ "$ALL" = 1 ]; then
        mapfile -t names < <(lab_names)
        # inventories of labs whose containers are already gone
        for n in "$LAB_DIR"/*/; do [ -d "$n" ] && names+=("$(basename "$n")"); done
    else
        names=("$NAME")
    fi
    for n in $(printf '%s\n' "${names[@]}" | sort -u); do
        say "removing lab '$n'"
        lab_remove "$n"
    done
    engine_maybe_stop
    unlock
    say "down done in $(since "$t0") s"
}

# Exit status with --name: 0 the lab is up and every host booted, 1 it is there but not
# healthy, 3 there is no such lab. Without --name: 0.
cmd_status() {
    local n h
    if ! engine_resolve; then
        printf 'engine: none answers (none started by the lab)\n'
        [ "$NAME_SET" = 1 ] && quit 3
        return 0
    fi
    if [ "$ENGINE_OWNED" = 1 ]; then
        printf 'engine: %s, Docker %s, started by the lab (pid %s)\n' "$DOCKER_HOST" \
            "$(dk version --format '{{.Server.Version}}')" "$(engine_pid || echo '?')"
    else
        printf 'engine: %s, Docker %s, not started by the lab\n' "$DOCKER_HOST" "$(dk version --format '{{.Server.Version}}')"
    fi
    mapfile -t labs < <(lab_names)
    [ "${#labs[@]}" -gt 0 ] || printf 'no labs\n'
    for n in "${labs[@]}"; do
        [ "$NAME_SET" = 0 ] || [ "$n" = "$NAME" ] || continue
        printf 'lab %s: %s, underlay hflab-%s %s, inventory %s\n' "$n" \
            "$(dk network inspect -f "{{index .Labels \"$LABEL.distro\"}}" "hflab-$n" 2>/dev/null || echo '?')" \
            "$n" "$(dk network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "hflab-$n" 2>/dev/null || echo 'missing')" \
            "$([ -f "$LAB_DIR/$n/inventory.yml" ] && echo "$LAB_DIR/$n/inventory.yml" || echo none)"
        for h in $(dk ps -a --filter "label=$LABEL=$n" --format "{{.Label \"$LABEL.index\"}} {{.Names}}" | sort -n | awk '{ print $2 }'); do
            if [ "$(dk inspect -f '{{.State.Running}}' "$h")" = true ]; then
                printf '  %-28s %-15s systemd %-12s docker.service %s\n' "$h" \
                    "$(dk inspect -f "{{(index .NetworkSettings.Networks \"hflab-$n\").IPAddress}}" "$h" 2>/dev/null)" \
                    "$(hexec "$h" systemctl is-system-running 2>/dev/null || true)" \
                    "$(hexec "$h" systemctl is-active docker.service 2>/dev/null || true)"
            else
                printf '  %-28s %s\n' "$h" "$(dk inspect -f '{{.State.Status}}' "$h")"
            fi
        done
    done
    [ "$NAME_SET" = 1 ] || return 0
    case " ${labs[*]} " in *" $NAME "*) ;; *) quit 3 ;; esac
    HOSTS="$(dk network inspect -f "{{index .Labels \"$LABEL.hosts\"}}" "$NET" 2>/dev/null || echo 0)"
    lab_healthy || quit 1
}

cmd_inventory() {
    engine_for_lab || die "no Docker engine answers: lab '$NAME' is not up"
    [ -n "$(dk network ls -q --filter "label=$LABEL=$NAME")" ] || die "lab '$NAME' is not up"
    write_inventory
    printf '%s\n' "$STATE/inventory.yml"
}

cmd_images() {
    local registered=0
    lock
    engine_resolve || engine_start
    # keep the engine alive while building: register a placeholder network for this run
    if [ "$ENGINE_OWNED" = 1 ]; then
        quiet dk network create --label "$LABEL=images-$$" "hflab-images-$$" >/dev/null && registered=1
    fi
    unlock
    image_ensure "$DISTRO"
    probe_tar >/dev/null
    lock
    [ "$registered" = 0 ] || quiet dk network rm "hflab-images-$$" >/dev/null || true
    engine_maybe_stop
    unlock
}

cmd_purge() {
    ALL=1
    cmd_down
    lock
    if engine_resolve && [ "$ENGINE_OWNED" = 0 ]; then
        dk images --format '{{.Repository}}:{{.Tag}}' | grep -E '^hostnet/lab-' | xargs -r docker -H "$DOCKER_HOST" image rm >/dev/null || true
    fi
    if [ ! -S "$RUN/docker.sock" ]; then
        rm -rf "$DATA"
    fi
    unlock
    rm -rf "$CACHE"
    say "purged images, rootfs/probe tarballs, .deb cache and $DATA"
}

trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"cmd_$CMD"
