#!/bin/sh
# verify-signature.sh KEYFILE FINGERPRINT FILE SIGNATURE
# Checks that KEYFILE holds the key with FINGERPRINT and that SIGNATURE is its valid detached
# signature of FILE. Uses a throwaway gpg home, so the user's keyring is neither read nor changed.
set -eu
key=$1 fpr=$(printf '%s' "$2" | tr -d ' ' | tr 'a-f' 'A-F') file=$3 sig=$4
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
found=$(gpg --batch --homedir "$home" --with-colons --import-options show-only --import "$key" 2>/dev/null |
    awk -F: '$1 == "fpr" { print $10 }')
printf '%s\n' "$found" | grep -qx "$fpr" || {
    echo "the key in $key is not $fpr (it is: $(printf '%s' "$found" | tr '\n' ' '))" >&2
    exit 1
}
gpg --batch --homedir "$home" --import "$key" 2>/dev/null
gpg --batch --homedir "$home" --trust-model always --verify "$sig" "$file" || {
    echo "BAD or missing signature: $sig does not verify $file with key $fpr" >&2
    exit 1
}
