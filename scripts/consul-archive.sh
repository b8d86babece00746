#!/usr/bin/env bash
# Obtains a real Consul binary for the tests, the way apt fetches packages, and turns it into
# what the role's `archive` method takes. Also fetches Debian 11's Docker engine for the
# molecule scenario `consul` (see docs/consul.md: Debian 12's dockerd has no consul:// store).
#
#   scripts/consul-archive.sh            print the path of consul_VERSION_linux_amd64.zip
#                                        (its consul_VERSION_SHA256SUMS is next to it)
#   scripts/consul-archive.sh dockerd    print the path of Debian 11's dockerd (Engine 20.10.5)
#
# Debian 11 (suite bullseye) carries the package consul (1.8.7), a static Go binary. A private
# apt configuration (its own sources list naming only bullseye, its own Dir::State::Lists,
# Dir::Cache and an empty dpkg status, all under /var/cache/hostnet-lab/consul) runs
# `apt-get update` and `apt-get download`, so this machine's own apt set-up is neither read
# nor changed. apt checks the suite's Release signature against Debian's archive keyring and
# each .deb against the Release's checksums. Everything is cached: a second call only reads.
#
# Environment:
#   HOSTNET_LAB_MIRROR=URL   Debian mirror (default: the first one in /etc/apt/sources*)
#   HOSTNET_CONSUL_CACHE=DIR cache directory (default /var/cache/hostnet-lab/consul)
set -Eeuo pipefail

CACHE="${HOSTNET_CONSUL_CACHE:-/var/cache/hostnet-lab/consul}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
SUITE=bullseye

die() {
    printf 'consul-archive: ERROR: %s\n' "$*" >&2
    exit 1
}
say() { printf 'consul-archive: %s\n' "$*" >&2; }

mirror() {
    if [ -n "${HOSTNET_LAB_MIRROR:-}" ]; then
        printf '%s\n' "$HOSTNET_LAB_MIRROR"
        return
    fi
    local m
    m=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1 || true)
    [ -n "$m" ] || m=$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' /etc/apt/sources.list 2>/dev/null | grep -v security | head -1 || true)
    printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

# apt-get with the private configuration
papt() {
    apt-get -q \
        -o Dir::Etc::SourceList="$CACHE/apt/sources.list" \
        -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
        -o Dir::State::Lists="$CACHE/apt/lists" \
        -o Dir::State::status="$CACHE/apt/status" \
        -o Dir::Cache="$CACHE/apt/cache" \
        -o APT::Architecture=amd64 -o APT::Architectures::=amd64 \
        -o Acquire::Languages=none -o APT::Sandbox::User=root \
        "$@"
}

# cached PACKAGE: the path of its .deb in $CACHE/debs, or nothing
cached() {
    local f
    for f in "$CACHE/debs/$1_"*_amd64.deb; do
        if [ -e "$f" ]; then
            printf '%s\n' "$f"
            return
        fi
    done
}

# fetch PACKAGE: the .deb of PACKAGE from bullseye, in $CACHE/debs; prints its path
fetch() {
    local pkg=$1 deb
    deb=$(cached "$pkg")
    if [ -n "$deb" ]; then
        printf '%s\n' "$deb"
        return
    fi
    command -v apt-get >/dev/null || die "apt-get is needed"
    [ -r "$KEYRING" ] || die "$KEYRING is missing (apt-get install debian-archive-keyring)"
    mkdir -p "$CACHE/apt/lists/partial" "$CACHE/apt/cache/archives/partial" "$CACHE/debs"
    printf 'deb [signed-by=%s] %s %s main\n' "$KEYRING" "$(mirror)" "$SUITE" >"$CACHE/apt/sources.list"
    : >"$CACHE/apt/status"
    if [ ! -e "$CACHE/apt/lists/.updated" ]; then
        say "apt-get update (private configuration: only $SUITE, lists in $CACHE/apt)"
        papt update >&2 || die "apt-get update of $SUITE failed"
        touch "$CACHE/apt/lists/.updated"
    fi
    say "apt-get download $pkg ($SUITE)"
    (cd "$CACHE/debs" && papt download "$pkg" >&2) || die "apt-get download $pkg failed"
    deb=$(cached "$pkg")
    [ -n "$deb" ] || die "apt-get download $pkg gave no .deb"
    printf '%s\n' "$deb"
}

# consul: the zip + SHA256SUMS the archive method takes
consul_archive() {
    local deb version work zip
    deb=$(fetch consul)
    version=$(dpkg-deb -f "$deb" Version | sed -e 's/^[0-9]*://' -e 's/[+~-].*//')
    [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "cannot read an upstream version from $deb ($version)"
    zip="$CACHE/consul_${version}_linux_amd64.zip"
    if [ ! -s "$zip" ] || [ ! -s "$CACHE/consul_${version}_SHA256SUMS" ]; then
        work=$(mktemp -d "$CACHE/.work.XXXXXX")
        # shellcheck disable=SC2064 # expand now
        trap "rm -rf '$work'" EXIT
        dpkg-deb -x "$deb" "$work/root"
        [ -x "$work/root/usr/bin/consul" ] || die "$deb holds no usr/bin/consul"
        "$work/root/usr/bin/consul" version | head -1 | grep -qx "Consul v$version" ||
            die "the binary in $deb does not report Consul v$version"
        cp "$work/root/usr/bin/consul" "$work/consul"
        # a zip like HashiCorp's: the binary alone, at the top
        (cd "$work" && python3 - "$work/consul.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as zf:
    info = zipfile.ZipInfo('consul', date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = 0o755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with open('consul', 'rb') as f:
        zf.writestr(info, f.read())
PY
        )
        mv "$work/consul.zip" "$zip"
        (cd "$CACHE" && sha256sum "$(basename "$zip")" >"consul_${version}_SHA256SUMS.tmp" &&
            mv "consul_${version}_SHA256SUMS.tmp" "consul_${version}_SHA256SUMS")
        say "made $zip from $(basename "$deb")"
    fi
    (cd "$CACHE" && sha256sum --quiet -c "consul_${version}_SHA256SUMS") >&2 || die "$zip does not match its SHA256SUMS"
    printf '%s\n' "$zip"
}

# dockerd of Debian 11's docker.io (Engine 20.10.5, built with the consul:// cluster store)
dockerd_binary() {
    local deb out="$CACHE/dockerd-bullseye"
    if [ ! -x "$out" ]; then
        deb=$(fetch docker.io)
        work=$(mktemp -d "$CACHE/.work.XXXXXX")
        # shellcheck disable=SC2064 # expand now
        trap "rm -rf '$work'" EXIT
        dpkg-deb -x "$deb" "$work/root"
        [ -x "$work/root/usr/sbin/dockerd" ] || die "$deb holds no usr/sbin/dockerd"
        cp "$work/root/usr/sbin/dockerd" "$out.tmp"
        mv "$out.tmp" "$out"
        say "extracted $out from $(basename "$deb")"
    fi
    printf '%s\n' "$out"
}

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
case "${1:-consul}" in
consul) consul_archive ;;
dockerd) dockerd_binary ;;
-h | --help) sed -n '2,/^set -E/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' ;;
*) die "unknown argument '$1' (consul or dockerd)" ;;
esac
