#!/bin/sh
# verify-signature.sh KEYFILE FINGERPRINT FILE SIGNATURE
# Succeeds only if SIGNATURE is a good signature of FILE made by the key whose PRIMARY fingerprint
# is FINGERPRINT (or one of its subkeys), that key is neither revoked nor expired, and KEYFILE
# holds it. Any other key in KEYFILE is never trusted: gpg's status lines are read, not its exit
# code alone. Uses a throwaway gpg home, so the user's keyring is neither read nor changed.
set -eu
key=$1 fpr=$(printf '%s' "$2" | tr -d ' ' | tr 'a-f' 'A-F') file=$3 sig=$4
home=$(mktemp -d)
trap 'gpgconf --homedir "$home" --kill all >/dev/null 2>&1 || true; rm -rf "$home"' EXIT
gpg --batch --quiet --homedir "$home" --import "$key" 2>/dev/null || {
    echo "cannot import the key file $key" >&2
    exit 1
}
status=$(gpg --batch --homedir "$home" --trust-model always --status-fd 1 --verify "$sig" "$file" 2>/dev/null) || true
# VALIDSIG <signing key fpr> <date> <ts> <expire> <version> <reserved> <pk algo> <hash algo> <class> <primary key fpr>
primary=$(printf '%s\n' "$status" | awk '$1 == "[GNUPG:]" && $2 == "VALIDSIG" { print $NF }')
if printf '%s\n' "$status" | grep -Eq '^\[GNUPG:\] (BADSIG|ERRSIG|REVKEYSIG|EXPKEYSIG|EXPSIG|KEYREVOKED)'; then
    echo "BAD signature: $sig does not verify $file: $(printf '%s\n' "$status" | grep -E 'BADSIG|ERRSIG|REVKEYSIG|EXPKEYSIG|EXPSIG|KEYREVOKED' | head -1)" >&2
    exit 1
fi
if ! printf '%s\n' "$status" | grep -q '^\[GNUPG:\] GOODSIG' || [ -z "$primary" ]; then
    echo "BAD or missing signature: $sig does not verify $file" >&2
    exit 1
fi
if [ "$primary" != "$fpr" ]; then
    echo "the signature of $file was made by key $primary, which is not $fpr" >&2
    exit 1
fi
