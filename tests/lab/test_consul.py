"""hostnet.fabric.consul on the lab's real Debian hosts.

Check mode with --diff and the refusals run with a stand-in release zip (a file named `consul` that is
never executed: only the install mechanics on the controller see it), on every lab distro. The real
Consul 1.8.7 (Debian 11's package, made into a release zip by scripts/consul-archive.sh) validates what
the role renders and runs as real agents with the `archive`, `binary` and `package` methods on the
Debian 12 scratch lab; the molecule scenario `consul` runs it as a three-server cluster under site.yml.
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
    server_ip = lab.store_ip()
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


# --- real agents on the scratch lab (2 hosts: the first a server, the second a client) -----------

CLEANUP = ('systemctl stop consul 2>/dev/null; dpkg --purge consul >/dev/null 2>&1; '
           'rm -rf /etc/consul.d /var/lib/consul /usr/local/bin/consul /etc/systemd/system/consul.service '
           '/etc/apt/sources.list.d/hostnet-consul.list /usr/share/keyrings/hostnet-consul-archive-keyring.gpg; '
           'userdel consul 2>/dev/null; groupdel consul 2>/dev/null; systemctl daemon-reload; true')

API = '''python3 - "$@" <<'PY'
import json, sys, urllib.request
method, path, token, body = sys.argv[1:5]
req = urllib.request.Request('http://127.0.0.1:8500' + path, data=body.encode() if body else None, method=method)
if token:
    req.add_header('X-Consul-Token', token)
try:
    with urllib.request.urlopen(req, timeout=5) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
PY'''


def api(lab, host, method, path, token='', body=''):
    """(status, body) of a request to the host's agent on loopback."""
    proc = lab.docker('exec', host, 'sh', '-c', API, 'api', method, path, token, body)
    status, _sep, text = proc.stdout.strip().partition(' ')
    return int(status), text


@pytest.fixture
def agents(scratch_lab, tmp_path):
    """The scratch lab with no Consul before and after the test."""
    once_only(scratch_lab, 'real Consul agents are run on the Debian 12 lab')
    for h in scratch_lab.hosts:
        scratch_lab.sh(h, CLEANUP)
    yield scratch_lab
    for h in scratch_lab.hosts:
        scratch_lab.sh(h, CLEANUP)


def changed_tasks(data):
    return [(n, h) for n, h, r in results(data) if r.get('changed')]


def assert_cluster_up(lab, version, token=''):
    server = lab.group('kv_servers')[0]
    for h in lab.hosts:
        assert lab.out(h, '%s version | head -1' % (
            '/usr/bin/consul' if lab.sh(h, 'test -x /usr/bin/consul', check=False).returncode == 0
            else '/usr/local/bin/consul')) == 'Consul v%s' % version
        assert lab.out(h, 'systemctl is-active consul') == 'active'
        status, leader = api(lab, h, 'GET', '/v1/status/leader')
        assert status == 200 and lab.hostvars(server)['hostnet_underlay_ip'] in leader, leader
    status, members = api(lab, server, 'GET', '/v1/agent/members', token)
    assert status == 200, members
    alive = sorted(m['Name'] for m in json.loads(members) if m['Status'] == 1)
    assert alive == sorted(lab.hosts), members
    conf = json.loads(lab.out(server, 'cat /etc/consul.d/consul.json'))
    # rendered for 1.8: `ui`, no `ui_config`, no `ports.grpc_tls`
    assert conf['ui'] is False and 'ui_config' not in conf and 'grpc_tls' not in conf['ports'], conf


def test_archive_method_runs_real_agents(agents, tmp_path, real_archive):
    """Debian 11's Consul 1.8.7 as a release zip: installed, configured for 1.8, agents up with gossip
    encryption and default-deny ACLs; Docker's token writes only below docker/; anonymous is refused;
    a second run changes nothing; no secret reaches the output."""
    lab = agents
    role_vars = {'consul_install_from': 'archive', 'consul_archive': str(real_archive['zip']),
                 'consul_archive_sha256sums': str(real_archive['sums']), 'consul_version': real_archive['version'],
                 'consul_acl': True, 'consul_docker_agent': True,
                 'consul_secrets_dir': str(tmp_path / 'secrets'), 'consul_download_dir': str(tmp_path / 'cache')}
    rc, data = run_role(lab, tmp_path, role_vars)
    assert rc == 0, failed_messages(data)
    secrets = tmp_path / 'secrets'
    management = (secrets / 'management.token').read_text().strip()
    docker = (secrets / 'docker.token').read_text().strip()
    assert_cluster_up(lab, real_archive['version'], management)
    server = lab.group('kv_servers')[0]
    # 1.8 calls the initial management token `master`
    tokens = json.loads(lab.out(server, 'cat /etc/consul.d/secrets.json'))['acl']['tokens']
    assert sorted(tokens) == ['agent', 'default', 'master']
    client = [h for h in lab.hosts if h != server][0]
    assert api(lab, client, 'PUT', '/v1/kv/docker/hostnet-test', docker, 'ok')[0] == 200
    assert api(lab, client, 'PUT', '/v1/kv/other/hostnet-test', docker, 'no')[0] == 403
    assert api(lab, client, 'PUT', '/v1/kv/docker/anon', 'anonymous', 'no')[0] == 403
    assert api(lab, client, 'GET', '/v1/kv/docker/hostnet-test', 'anonymous')[0] == 403

    rc, again = run_role(lab, tmp_path, role_vars)
    assert rc == 0, failed_messages(again)
    assert changed_tasks(again) == [], changed_tasks(again)
    raw = json.dumps(data) + json.dumps(again)
    for secret in [(secrets / 'gossip.key').read_text().strip()] + [
            (secrets / ('%s.token' % n)).read_text().strip() for n in ('management', 'agent', 'docker')]:
        assert secret not in raw, 'a secret reached the output'


def test_binary_method_runs_real_agents(agents, tmp_path, real_binary):
    """An already installed 1.8.7 (copied in by hand): the role asks it for its version, renders for
    1.8 and starts the agents; a second run changes nothing."""
    lab = agents
    for h in lab.hosts:
        lab.docker('cp', str(real_binary), '%s:/usr/local/bin/consul' % h)
    role_vars = {'consul_install_from': 'binary', 'consul_secrets_dir': str(tmp_path / 'secrets'),
                 # the version variable says 1.20.1 (its default): the binary's own answer must win
                 'consul_version': '1.20.1'}
    rc, data = run_role(lab, tmp_path, role_vars)
    assert rc == 0, failed_messages(data)
    assert_cluster_up(lab, '1.8.7')
    rc, again = run_role(lab, tmp_path, role_vars)
    assert rc == 0 and changed_tasks(again) == [], changed_tasks(again)


def test_binary_method_refuses_an_old_release(agents, tmp_path):
    lab = agents
    for h in lab.hosts:
        lab.sh(h, "printf '#!/bin/sh\\necho Consul v1.7.14\\n' > /usr/local/bin/consul; chmod 755 /usr/local/bin/consul")
    rc, data = run_role(lab, tmp_path, {'consul_install_from': 'binary', 'consul_secrets_dir': str(tmp_path / 's')})
    assert rc != 0
    text = ' '.join(failed_messages(data))
    assert 'consul_version: Consul 1.7.14 is older than 1.8, the oldest series this role supports' in text, text
    assert changed_tasks(data) == []
    assert lab.sh(lab.hosts[0], 'test -e /etc/consul.d', check=False).returncode != 0


# --- the package method, against a signed apt repository made here ------------------------------

@pytest.fixture
def apt_repo(agents, tmp_path, real_binary):
    """A signed apt repository in HashiCorp's layout (suite bookworm, component main) holding a
    package `consul` with the real 1.8.7 binary at /usr/bin/consul, plus HashiCorp's example
    configuration and unit (which the role must not use). InRelease is signed with a throwaway key;
    the repository is copied into every host and used through a file: URL, the key is on the
    controller. apt checks the signature and the package's checksum for real."""
    import shutil
    import subprocess

    if not shutil.which('gpg') or not shutil.which('dpkg-scanpackages'):
        pytest.skip('gpg and dpkg-dev are needed on the controller to make a signed apt repository')
    home = tmp_path / 'gnupg'
    home.mkdir(mode=0o700)
    gpg = ['gpg', '--batch', '--homedir', str(home), '--pinentry-mode', 'loopback', '--passphrase', '']
    subprocess.run(gpg + ['--quick-gen-key', 'hostnet apt test <apt@example.invalid>', 'ed25519', 'sign', 'never'],
                   check=True, capture_output=True)
    fpr = [line.split(':')[9] for line in subprocess.run(
        gpg + ['--with-colons', '--fingerprint'], check=True, capture_output=True, text=True).stdout.splitlines()
        if line.startswith('fpr:')][0]
    pkg = tmp_path / 'pkg'
    (pkg / 'DEBIAN').mkdir(parents=True)
    (pkg / 'usr' / 'bin').mkdir(parents=True)
    shutil.copy(real_binary, pkg / 'usr' / 'bin' / 'consul')
    (pkg / 'etc' / 'consul.d').mkdir(parents=True)
    (pkg / 'etc' / 'consul.d' / 'consul.hcl').write_text('data_dir = "/opt/consul"\nserver = true\n')
    (pkg / 'usr' / 'lib' / 'systemd' / 'system').mkdir(parents=True)
    (pkg / 'usr' / 'lib' / 'systemd' / 'system' / 'consul.service').write_text(
        '[Service]\nExecStart=/usr/bin/consul agent -config-dir=/etc/consul.d/\n')
    (pkg / 'DEBIAN' / 'control').write_text(
        'Package: consul\nVersion: 1.8.7-1\nArchitecture: amd64\nMaintainer: hostnet test <apt@example.invalid>\n'
        'Description: Consul 1.8.7 (test package)\n')
    repo = tmp_path / 'repo'
    pool = repo / 'pool' / 'main'
    pool.mkdir(parents=True)
    subprocess.run(['dpkg-deb', '--root-owner-group', '-Zgzip', '-b', str(pkg), str(pool / 'consul_1.8.7-1_amd64.deb')],
                   check=True, capture_output=True)
    dist = repo / 'dists' / 'bookworm'
    (dist / 'main' / 'binary-amd64').mkdir(parents=True)
    packages = subprocess.run(['dpkg-scanpackages', '-m', 'pool'], cwd=repo, check=True, capture_output=True,
                              text=True).stdout
    (dist / 'main' / 'binary-amd64' / 'Packages').write_text(packages)

    def release():
        body = 'Origin: hostnet test\nSuite: bookworm\nCodename: bookworm\nArchitectures: amd64\nComponents: main\n' \
               'Date: Thu, 01 Jan 2026 00:00:00 UTC\nSHA256:\n'
        data = (dist / 'main' / 'binary-amd64' / 'Packages').read_bytes()
        body += ' %s %d main/binary-amd64/Packages\n' % (hashlib.sha256(data).hexdigest(), len(data))
        (dist / 'Release').write_text(body)
        subprocess.run(gpg + ['--yes', '--clearsign', '--output', str(dist / 'InRelease'), str(dist / 'Release')],
                       check=True, capture_output=True)
    release()
    keyfile = tmp_path / 'repo-key.asc'
    keyfile.write_text(subprocess.run(gpg + ['--armor', '--export', fpr], check=True, capture_output=True,
                                      text=True).stdout)

    def publish():
        for h in agents.hosts:
            agents.sh(h, 'rm -rf /srv/hostnet-test-repo')
            agents.docker('cp', str(repo), '%s:/srv/hostnet-test-repo' % h)
            agents.sh(h, 'chmod -R a+rX /srv/hostnet-test-repo')
    publish()
    try:
        yield {'lab': agents, 'fpr': fpr, 'dist': dist, 'release': release, 'publish': publish,
               'vars': {'consul_install_from': 'package', 'consul_apt_url': 'file:/srv/hostnet-test-repo',
                        'consul_apt_key_url': 'file://%s' % keyfile, 'consul_apt_key_fingerprint': fpr,
                        'consul_secrets_dir': str(tmp_path / 'secrets'),
                        'consul_download_dir': str(tmp_path / 'cache')}}
    finally:
        for h in agents.hosts:
            agents.sh(h, 'rm -rf /srv/hostnet-test-repo; apt-get update -qq >/dev/null 2>&1 || true')
        subprocess.run(['gpgconf', '--homedir', str(home), '--kill', 'all'], check=False, capture_output=True)


def test_package_method_runs_real_agents(apt_repo, tmp_path):
    """The package from the signed repository: the key is checked against its fingerprint and written as
    the repository's own keyring, apt installs the package, the role renders for the version the
    installed binary reports (1.8.7, although consul_version says 1.20.1) and starts the agents from
    its own unit and files only; a second run changes nothing."""
    lab = apt_repo['lab']
    rc, data = run_role(lab, tmp_path, apt_repo['vars'])
    assert rc == 0, failed_messages(data)
    for h in lab.hosts:
        assert lab.out(h, "dpkg-query -W -f '${Status} ${Version}' consul") == 'install ok installed 1.8.7-1'
        assert lab.out(h, 'cat /etc/apt/sources.list.d/hostnet-consul.list').splitlines()[-1] == (
            'deb [signed-by=/usr/share/keyrings/hostnet-consul-archive-keyring.gpg] file:/srv/hostnet-test-repo '
            'bookworm main')
        listing = lab.out(h, 'gpg --batch --with-colons --show-keys /usr/share/keyrings/hostnet-consul-archive-keyring.gpg'
                          ' 2>/dev/null || true')
        if listing:
            assert apt_repo['fpr'] in listing
        # the package's own unit and example configuration are not what runs
        assert '-config-file=/etc/consul.d/consul.json' in lab.out(h, 'systemctl cat consul')
    assert_cluster_up(lab, '1.8.7')
    rc, again = run_role(lab, tmp_path, apt_repo['vars'])
    assert rc == 0 and changed_tasks(again) == [], changed_tasks(again)


@pytest.mark.parametrize('damage, message', [
    ('fingerprint', 'which is not 0000000000000000000000000000000000000000'),
    # apt's own words when a Packages index does not match the signed Release
    ('packages', 'Hash Sum mismatch'),
])
def test_package_method_refuses_an_untrusted_repository(apt_repo, tmp_path, damage, message):
    """Another fingerprint: the key is refused on the controller, nothing reaches the hosts. A Packages
    index changed after signing: apt refuses the repository, nothing is installed."""
    lab = apt_repo['lab']
    role_vars = dict(apt_repo['vars'])
    if damage == 'fingerprint':
        role_vars['consul_apt_key_fingerprint'] = '0' * 40
    else:
        index = apt_repo['dist'] / 'main' / 'binary-amd64' / 'Packages'
        index.write_text(index.read_text().replace('Version: 1.8.7-1', 'Version: 1.8.7-2'))
        apt_repo['publish']()
    rc, data = run_role(lab, tmp_path, role_vars)
    assert rc != 0
    text = ' '.join(failed_messages(data)) + json.dumps(data)
    assert message in text, failed_messages(data)
    for h in lab.hosts:
        assert lab.sh(h, 'dpkg-query -W consul', check=False).returncode != 0, 'a package from an untrusted repository'
        assert lab.sh(h, 'test -e /etc/consul.d/consul.json', check=False).returncode != 0
        if damage == 'fingerprint':
            assert lab.sh(h, 'test -e /etc/apt/sources.list.d/hostnet-consul.list', check=False).returncode != 0
