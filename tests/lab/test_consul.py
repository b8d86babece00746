"""hostnet.fabric.consul on the lab's real Debian hosts, without a Consul binary.

No Consul release can be obtained on the build machines (see docs/consul.md), so these tests run
the role in check mode with --diff: every check runs for real, the configuration each host would
get is read from the diff, and the hosts must be exactly as before. The archive handed to the role
is a stand-in zip holding a file named `consul`: only the install *mechanics* (checksum
verification, unpacking on the controller) see it; nothing here runs it. Real agents are started
by the molecule scenario `consul` when a release archive is supplied (HOSTNET_CONSUL_ARCHIVE).
"""
import hashlib
import json
import sys
import uuid
import zipfile
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'collections'))
from ansible_collections.hostnet.fabric.plugins.lookup.secret import read_or_create

# what a lab host must not have after any of these runs
FOOTPRINT = ('getent passwd consul', 'test -e /etc/consul.d', 'test -e /var/lib/consul',
             'test -e /usr/local/bin/consul', 'test -e /etc/systemd/system/consul.service')


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / 'consul_1.20.1_linux_amd64.zip'
    with zipfile.ZipFile(path, 'w') as zf:
        zf.writestr('consul', '#!/bin/sh\necho "stand-in: never executed by these tests" >&2\nexit 99\n')
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def once_only(lab, why):
    """Tests of what happens on the controller, whatever the hosts' distro, run on one lab only."""
    if lab.distro != 'bookworm':
        pytest.skip('%s, whatever the hosts run: tested once, on the bookworm lab' % why)


def footprint(lab):
    return {h: [c for c in FOOTPRINT if lab.sh(h, c, check=False).returncode == 0] for h in lab.hosts}


def run_role(lab, tmp_path, role_vars, *args):
    pb = [{'name': 'consul', 'hosts': 'all', 'gather_facts': False,
           'roles': [{'role': 'hostnet.fabric.consul', 'vars': role_vars}]}]
    path = tmp_path / ('consul-%s.yml' % uuid.uuid4().hex[:6])
    path.write_text(yaml.safe_dump(pb, sort_keys=False))
    return lab.playbook(path, *args)


def results(data):
    for play in (data or {}).get('plays', []):
        for task in play['tasks']:
            for host, res in task['hosts'].items():
                yield task['task']['name'], host, res


def failed_messages(data):
    return [str(r.get('msg')) for _task, _host, r in results(data) if r.get('failed')]


def base_vars(tmp_path, archive):
    path, sha = archive
    return {'consul_install_from': 'archive', 'consul_archive': str(path), 'consul_archive_sha256': sha,
            'consul_secrets_dir': str(tmp_path / 'secrets'), 'consul_download_dir': str(tmp_path / 'cache')}


def test_check_mode_renders_every_agent_and_changes_nothing(lab, tmp_path, archive):
    before = footprint(lab)
    assert all(v == [] for v in before.values()), before
    role_vars = dict(base_vars(tmp_path, archive), consul_acl=True, consul_docker_agent=True)
    # secrets that already exist (a second run): they must reach no output
    secrets = tmp_path / 'secrets'
    gossip = read_or_create(str(secrets / 'gossip.key'), 'gossip')
    tokens = [read_or_create(str(secrets / ('%s.token' % n)), 'uuid')
              for n in ('management', 'agent', 'agent_accessor', 'docker', 'docker_accessor')]
    rc, data = run_role(lab, tmp_path, role_vars, '--check', '--diff')
    assert rc == 0, failed_messages(data)
    raw = json.dumps(data)
    for secret in [gossip] + tokens:
        assert secret not in raw, 'a secret reached the output'

    server = lab.group('kv_servers')[0]
    server_ip = lab.hostvars(server)['hostnet_underlay_ip']
    rendered = {}
    for name, host, res in results(data):
        if name.endswith('Agent configuration (no secrets in it, so it shows in diffs)'):
            assert res.get('changed'), (host, res)
            diff = res['diff'][0] if isinstance(res['diff'], list) else res['diff']
            rendered[host] = json.loads(diff['after'])
        if ': Secrets (' in name:
            assert res.get('censored'), 'the secrets task is not no_log'
    assert sorted(rendered) == sorted(lab.hosts)
    for host, conf in rendered.items():
        ip = lab.hostvars(host)['hostnet_underlay_ip']
        assert conf['bind_addr'] == conf['advertise_addr'] == ip
        assert conf['client_addr'] == '127.0.0.1', 'the API must stay on loopback by default'
        assert conf['ui_config'] == {'enabled': False}
        assert conf['acl']['enabled'] is True and conf['acl']['default_policy'] == 'deny'
        assert 'encrypt' not in conf and 'tokens' not in conf['acl']
        assert conf['server'] is (host == server)
        if host == server:
            assert conf['bootstrap_expect'] == len(lab.group('kv_servers'))
        else:
            assert conf['retry_join'] == [server_ip]
    # check mode: the hosts are exactly as before
    assert footprint(lab) == before


@pytest.mark.parametrize('extra, message', [
    ({'consul_bootstrap_expect': 3}, 'consul_bootstrap_expect: is 3, but no other server is given to join'),
    ({'consul_client_address': '0.0.0.0'}, 'consul_client_address: listening on every address (0.0.0.0) needs consul_allow_public=true'),
    ({'consul_bind_address': '8.8.8.8'}, 'consul_bind_address: is a public address'),
    ({'consul_server_group': 'no_such_group'}, 'a client agent needs at least one server address to join'),
    ({'consul_config_extra': {'encrypt': 'x'}}, "consul_config_extra: may not carry secrets ('encrypt')"),
    ({'consul_archive_sha256': '0' * 64}, 'refusing to install it'),
    ({'consul_archive_sha256': ''}, 'an archive is never installed unverified'),
    ({'consul_version': 'latest'}, 'consul_version: must be a release version'),
    ({'consul_verify_signature': 'maybe'}, 'consul_verify_signature: must be auto, true or false'),
    ({'consul_secrets_dir': '{{ "/tmp/hostnet-consul-secrets-" ~ inventory_hostname }}'},
     'consul_secrets_dir differs between hosts'),
])
def test_bad_settings_are_refused_before_anything_changes(lab, tmp_path, archive, extra, message):
    once_only(lab, 'the checks run on the controller before anything touches a host')
    before = footprint(lab)
    rc, data = run_role(lab, tmp_path, dict(base_vars(tmp_path, archive), **extra))
    assert rc != 0
    text = ' '.join(failed_messages(data))
    assert message in text, text
    assert footprint(lab) == before
    changed = [(n, h) for n, h, r in results(data) if r.get('changed')]
    assert changed == [], changed


def test_server_group_checked_as_a_whole(lab, tmp_path, archive):
    """Two servers: bootstrap_expect 3 is refused (it names both servers), the server count alone
    gives a warning about even counts."""
    inv = yaml.safe_load(lab.inventory.read_text())
    pair = lab.hosts[:2]
    inv['all']['children']['consul_pair'] = {'hosts': {h: {} for h in pair}}
    path = tmp_path / 'inventory.yml'
    path.write_text(yaml.safe_dump(inv))
    role_vars = dict(base_vars(tmp_path, archive), consul_server_group='consul_pair')
    before = footprint(lab)

    rc, data = run_role(lab, tmp_path, dict(role_vars, consul_bootstrap_expect=3), '-i', str(path))
    assert rc != 0
    text = ' '.join(failed_messages(data))
    assert 'consul_bootstrap_expect is 3 but there are 2 servers (%s): the cluster would never elect a leader' \
        % ', '.join(pair) in text, text
    assert footprint(lab) == before

    rc, data = run_role(lab, tmp_path, role_vars, '--check', '-i', str(path))
    assert rc == 0, failed_messages(data)
    warnings = [str(r.get('msg')) for n, _host, r in results(data)
                if n.endswith('Warn about risky settings') and 'msg' in r]
    assert warnings and '2 Consul servers: an even count tolerates no more failures than 1 servers' in warnings[0]
    assert footprint(lab) == before


# --- the release method, against a local mirror signed with a test key ---------------------------

@pytest.fixture
def mirror(lab, tmp_path, archive):
    """A release mirror on 127.0.0.1 (zip, SHA256SUMS, detached signature) and a throwaway gpg key.

    The role's download, checksum and signature code runs as it would against
    releases.hashicorp.com; only the key's fingerprint is the test key's, not HashiCorp's."""
    once_only(lab, 'the release is fetched and verified on the controller')
    import functools
    import http.server
    import shutil
    import subprocess
    import threading

    if not shutil.which('gpg'):
        pytest.skip('gpg is not installed on the controller (scripts/setup.sh installs it)')
    home = tmp_path / 'gnupg'
    home.mkdir(mode=0o700)
    gpg = ['gpg', '--batch', '--homedir', str(home), '--pinentry-mode', 'loopback', '--passphrase', '']
    subprocess.run(gpg + ['--quick-gen-key', 'hostnet test <test@example.invalid>', 'ed25519', 'sign', 'never'],
                   check=True, capture_output=True)
    fpr = [line.split(':')[9] for line in subprocess.run(
        gpg + ['--with-colons', '--fingerprint'], check=True, capture_output=True, text=True).stdout.splitlines()
        if line.startswith('fpr:')][0]
    root = tmp_path / 'mirror'
    rel = root / '1.20.1'
    rel.mkdir(parents=True)
    zip_path, sha = archive
    shutil.copy(zip_path, rel / zip_path.name)
    sums = rel / 'consul_1.20.1_SHA256SUMS'
    sums.write_text('%s  consul_1.20.1_linux_arm64.zip\n%s  %s\n' % ('1' * 64, sha, zip_path.name))
    subprocess.run(gpg + ['--detach-sign', '--output', str(sums) + '.sig', str(sums)], check=True, capture_output=True)
    (root / 'key.asc').write_text(subprocess.run(gpg + ['--armor', '--export', fpr], check=True, capture_output=True,
                                                 text=True).stdout)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = 'http://127.0.0.1:%d' % server.server_address[1]
    try:
        yield {'root': root, 'sums': sums, 'zip': rel / zip_path.name, 'fpr': fpr,
               'vars': {'consul_install_from': 'release', 'consul_release_url': url,
                        'consul_gpg_key_url': url + '/key.asc', 'consul_gpg_fingerprint': fpr,
                        'consul_verify_signature': True,
                        'consul_secrets_dir': str(tmp_path / 'secrets'),
                        'consul_download_dir': str(tmp_path / 'cache')}}
    finally:
        server.shutdown()
        subprocess.run(['gpgconf', '--homedir', str(home), '--kill', 'all'], check=False, capture_output=True)


def test_release_from_a_signed_mirror(lab, tmp_path, mirror):
    before = footprint(lab)
    rc, data = run_role(lab, tmp_path, mirror['vars'], '--check')
    assert rc == 0, failed_messages(data)
    # verified, downloaded and unpacked on the controller (under the archive's checksum), nothing on the hosts
    sha = hashlib.sha256(mirror['zip'].read_bytes()).hexdigest()
    assert (tmp_path / 'cache' / 'unpacked' / sha / 'consul').is_file()
    assert footprint(lab) == before


@pytest.mark.parametrize('damage, message', [
    ('sums', 'BAD signature'),
    ('fingerprint', 'is not 0000000000000000000000000000000000000000'),
    ('zip', 'did not match'),
    ('unlisted', 'lists no consul_1.20.1_linux_amd64.zip'),
])
def test_release_tampering_is_refused(lab, tmp_path, mirror, damage, message):
    role_vars = dict(mirror['vars'])
    if damage == 'sums':
        # a checksum list that is not the signed one
        mirror['sums'].write_text(mirror['sums'].read_text().replace('1' * 64, '2' * 64))
    elif damage == 'fingerprint':
        role_vars['consul_gpg_fingerprint'] = '0' * 40
    elif damage == 'zip':
        with zipfile.ZipFile(mirror['zip'], 'a') as zf:
            zf.writestr('extra', 'tampered')
    elif damage == 'unlisted':
        role_vars['consul_verify_signature'] = False
        mirror['sums'].write_text('%s  consul_1.20.1_linux_arm64.zip\n' % ('1' * 64))
    before = footprint(lab)
    rc, data = run_role(lab, tmp_path, role_vars, '--check')
    assert rc != 0
    text = ' '.join(failed_messages(data)) + json.dumps(data)
    assert message in text, failed_messages(data)
    assert not (tmp_path / 'cache' / 'unpacked').exists(), 'something was unpacked from a refused release'
    assert footprint(lab) == before


# --- the real Consul 1.8.7 (Debian 11's package, made into a release zip by scripts/consul-archive.sh) ---

ARCHIVE_SCRIPT = Path(__file__).resolve().parents[2] / 'scripts' / 'consul-archive.sh'


@pytest.fixture(scope='session')
def real_archive():
    """consul_1.8.7_linux_amd64.zip and its SHA256SUMS, fetched (once, cached) the way apt fetches packages."""
    import subprocess
    proc = subprocess.run([str(ARCHIVE_SCRIPT)], capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, 'scripts/consul-archive.sh failed:\n%s' % proc.stderr
    zip_path = Path(proc.stdout.strip())
    version = zip_path.name.split('_')[1]
    return {'zip': zip_path, 'version': version, 'sums': zip_path.parent / ('consul_%s_SHA256SUMS' % version)}


@pytest.fixture(scope='session')
def real_binary(real_archive, tmp_path_factory):
    out = tmp_path_factory.mktemp('consul-bin')
    with zipfile.ZipFile(real_archive['zip']) as zf:
        zf.extract('consul', out)
    (out / 'consul').chmod(0o755)
    return out / 'consul'


def test_real_binary_validates_what_is_rendered_for_its_series(real_archive, real_binary, tmp_path):
    """Server and client configurations with every feature the role turns on (gossip encryption,
    ACLs with all three tokens, DNS off, UI on) pass the real binary's `consul validate` when rendered
    for its release; rendered for 1.14+ they are refused by it (the test can fail)."""
    import subprocess
    from ansible_collections.hostnet.fabric.plugins.filter.consul import consul_config

    version_out = subprocess.run([str(real_binary), 'version'], capture_output=True, text=True, check=True).stdout
    assert version_out.splitlines()[0] == 'Consul v%s' % real_archive['version']
    key = read_or_create(str(tmp_path / 'gossip.key'), 'gossip')
    t1, t2, t3 = (str(uuid.uuid4()) for _i in range(3))
    common = {'datacenter': 'dc1', 'client_address': '127.0.0.1', 'data_dir': str(tmp_path / 'data'),
              'http_port': 8500, 'dns_port': -1, 'ui': True, 'log_level': 'info', 'extra': {}, 'encrypt_key': key,
              'retry_join': ['10.0.0.5', '10.0.0.6', '10.0.0.7']}
    agents = {
        'server': dict(common, node_name='kv1', server=True, bootstrap_expect=3, bind_address='10.0.0.5',
                       acl={'enabled': True, 'default_policy': 'deny',
                            'tokens': {'initial_management': t1, 'agent': t2}}),
        'client': dict(common, node_name='dh1', server=False, bind_address='10.0.0.9',
                       acl={'enabled': True, 'default_policy': 'deny', 'tokens': {'agent': t2, 'default': t3}}),
    }

    def validate(settings, version):
        out = consul_config(dict(settings, version=version))
        d = tmp_path / ('%s-%s' % (settings['node_name'], version))
        d.mkdir()
        (d / 'consul.json').write_text(json.dumps(out['config']))
        (d / 'secrets.json').write_text(json.dumps(out['secrets']))
        return subprocess.run([str(real_binary), 'validate', str(d / 'consul.json'), str(d / 'secrets.json')],
                              capture_output=True, text=True, check=False)

    for kind, settings in agents.items():
        res = validate(settings, version_out)
        why = '%s rendered for %s: %s%s' % (kind, real_archive['version'], res.stdout, res.stderr)
        assert res.returncode == 0, why
        assert 'Configuration is valid!' in res.stdout
        for secret in (key, t1, t2, t3):
            assert secret not in res.stdout + res.stderr
        newer = validate(settings, '1.20.1')
        assert newer.returncode != 0 and 'grpc_tls' in newer.stdout + newer.stderr, newer
