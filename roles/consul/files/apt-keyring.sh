#!/bin/sh
# apt-keyring.sh KEYFILE FINGERPRINT OUT
# Writes OUT, a binary keyring for apt's Signed-By that holds only the key whose PRIMARY
# fingerprint is FINGERPRINT, after checking in a throwaway gpg home (the user's keyring is
# neither read nor changed) that KEYFILE holds exactly that one primary key and that it is
# neither revoked nor expired. Anything else is refused and OUT is left as it was.
set -eu
key=$1 fpr=$(printf '%s' "$2" | tr -d ' ' | tr 'a-f' 'A-F') out=$3
home=$(mktemp -d)
trap 'gpgconf --homedir "$home" --kill all >/dev/null 2>&1 || true; rm -rf "$home" "$out.tmp"' EXIT
gpg --batch --quiet --homedir "$home" --import "$key" 2>/dev/null || {
    echo "cannot import the key file $key (not an OpenPGP key?)" >&2
    exit 1
}
# pub:VALIDITY:...  then fpr:::::::::FINGERPRINT: for the primary key
listing=$(gpg --batch --homedir "$home" --with-colons --fixed-list-mode --list-keys 2>/dev/null)
primaries=$(printf '%s\n' "$listing" | awk -F: '$1 == "pub" { want = 1; next } $1 == "fpr" && want { print $10; want = 0 }')
count=$(printf '%s\n' "$primaries" | grep -c . || true)
if [ "$count" -ne 1 ]; then
    echo "the key file $key holds $count primary keys ($(printf '%s' "$primaries" | tr '\n' ' ')): it must hold only $fpr" >&2
    exit 1
fi
if [ "$primaries" != "$fpr" ]; then
    echo "the key file $key holds the key $primaries, which is not $fpr" >&2
    exit 1
fi
validity=$(printf '%s\n' "$listing" | awk -F: '$1 == "pub" { print $2; exit }')
case "$validity" in
r) echo "the key $fpr in $key is revoked" >&2; exit 1 ;;
e) echo "the key $fpr in $key has expired" >&2; exit 1 ;;
esac
gpg --batch --homedir "$home" --export "$fpr" >"$out.tmp"
[ -s "$out.tmp" ] || { echo "could not export $fpr" >&2; exit 1; }
if [ -f "$out" ] && cmp -s "$out.tmp" "$out"; then
    echo unchanged
else
    mv "$out.tmp" "$out"
    echo written
fi
