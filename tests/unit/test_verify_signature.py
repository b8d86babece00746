"""roles/consul/files/verify-signature.sh with real gpg signatures made by throwaway keys: only a
good signature by the pinned primary key (or its subkey) passes; a second key in the key file,
a revoked key, a changed file or another fingerprint is refused."""
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / 'roles' / 'consul' / 'files' / 'verify-signature.sh'

pytestmark = pytest.mark.skipif(not shutil.which('gpg'), reason='gpg is not installed (scripts/setup.sh installs it)')


class Keys:
    def __init__(self, home):
        self.home = home
        home.mkdir(mode=0o700)

    def gpg(self, *args, text=True):
        return subprocess.run(['gpg', '--batch', '--homedir', str(self.home), '--pinentry-mode', 'loopback',
                               '--passphrase', ''] + [str(a) for a in args],
                              check=True, capture_output=True, text=text).stdout

    def new(self, uid):
        self.gpg('--quick-gen-key', uid, 'ed25519', 'sign', 'never')
        return [line.split(':')[9] for line in self.gpg('--with-colons', '--fingerprint', uid).splitlines()
                if line.startswith('fpr:')][0]

    def export(self, path, *fprs):
        path.write_text(self.gpg('--armor', '--export', *fprs))

    def sign(self, fpr, path):
        self.gpg('--yes', '--local-user', fpr, '--detach-sign', '--output', '%s.sig' % path, path)


@pytest.fixture
def keyring(tmp_path):
    keys = Keys(tmp_path / 'gnupg')
    yield keys
    # gpg starts an agent per home to make keys and signatures: stop it, leave nothing running
    subprocess.run(['gpgconf', '--homedir', str(keys.home), '--kill', 'all'], check=False, capture_output=True)


@pytest.fixture
def signed(tmp_path, keyring):
    keys = keyring
    good = keys.new('release <release@example.invalid>')
    sums = tmp_path / 'SUMS'
    sums.write_text('%s  consul_1.20.1_linux_amd64.zip\n' % ('a' * 64))
    keys.sign(good, sums)
    keyfile = tmp_path / 'key.asc'
    keys.export(keyfile, good)
    return keys, good, sums, keyfile


def verify(keyfile, fpr, sums):
    return subprocess.run(['sh', str(SCRIPT), str(keyfile), fpr, str(sums), '%s.sig' % sums],
                          capture_output=True, text=True, check=False)


def test_good_signature_passes(signed):
    _keys, good, sums, keyfile = signed
    res = verify(keyfile, good, sums)
    assert res.returncode == 0, res.stderr
    # the fingerprint may be given with spaces and in lower case, as it is often printed
    spaced = ' '.join(good[i:i + 4] for i in range(0, 40, 4)).lower()
    assert verify(keyfile, spaced, sums).returncode == 0


def test_changed_file_is_refused(signed):
    _keys, good, sums, keyfile = signed
    sums.write_text(sums.read_text().replace('a' * 64, 'b' * 64))
    res = verify(keyfile, good, sums)
    assert res.returncode == 1 and 'BAD signature' in res.stderr, res.stderr


def test_another_fingerprint_is_refused(signed):
    _keys, _good, sums, keyfile = signed
    res = verify(keyfile, '0' * 40, sums)
    assert res.returncode == 1 and 'which is not ' + '0' * 40 in res.stderr, res.stderr


def test_a_second_key_in_the_key_file_is_not_trusted(signed):
    keys, good, sums, keyfile = signed
    evil = keys.new('evil <evil@example.invalid>')
    keys.sign(evil, sums)  # replaces the signature with one by the other key
    keys.export(keyfile, good, evil)  # the key file holds the pinned key AND the other one
    res = verify(keyfile, good, sums)
    assert res.returncode == 1 and 'made by key %s, which is not %s' % (evil, good) in res.stderr, res.stderr


def test_revoked_key_is_refused(signed):
    keys, good, sums, keyfile = signed
    # gpg made a revocation certificate when it made the key: import it, then export the revoked key
    rev = next((keys.home / 'openpgp-revocs.d').glob('%s.rev' % good))
    text = rev.read_text().replace(':-----BEGIN PGP PUBLIC KEY BLOCK-----', '-----BEGIN PGP PUBLIC KEY BLOCK-----')
    (keys.home / 'rev.asc').write_text(text)
    keys.gpg('--import', keys.home / 'rev.asc')
    keys.export(keyfile, good)
    res = verify(keyfile, good, sums)
    assert res.returncode == 1 and 'REVKEYSIG' in res.stderr, res.stderr


def test_missing_signature_is_refused(signed):
    _keys, good, sums, keyfile = signed
    Path('%s.sig' % sums).unlink()
    res = verify(keyfile, good, sums)
    assert res.returncode == 1 and 'missing signature' in res.stderr, res.stderr
