"""The Consul role's Python parts: configuration rendering and checks (filter), and the
controller-side secret files (lookup). No Consul binary is needed for any of this."""
import base64
import os
import shutil
import stat
import subprocess
import threading
import uuid
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError, AnsibleLookupError

from ansible_collections.hostnet.fabric.plugins.filter.consul import (
    consul_cluster_check, consul_config, gossip_key_ok, parse_version)
from ansible_collections.hostnet.fabric.plugins.lookup.secret import read_or_create

# throwaway gpg keys, the same helpers the signature tests use
from test_verify_signature import keyring  # noqa: F401  pylint: disable=unused-import

KEY = base64.b64encode(b'k' * 32).decode()
T1, T2, T3 = (str(uuid.uuid4()) for _i in range(3))


def settings(**over):
    base = {
        'node_name': 'kv1', 'datacenter': 'dc1', 'server': True, 'bootstrap_expect': 3,
        'bind_address': '10.0.0.5', 'advertise_address': '', 'client_address': '127.0.0.1',
        'retry_join': ['10.0.0.5', '10.0.0.6', '10.0.0.7'], 'data_dir': '/var/lib/consul',
        'http_port': 8500, 'dns_port': 8600, 'ui': False, 'allow_public': False, 'log_level': 'info',
        'extra': {}, 'encrypt_key': KEY,
        'acl': {'enabled': False, 'default_policy': 'deny', 'tokens': {}}, 'version': '1.20.1',
    }
    base.update(over)
    return base


def client(**over):
    return settings(**dict({'node_name': 'dh1', 'server': False, 'bind_address': '10.0.0.9'}, **over))


# --- rendering --------------------------------------------------------------------------------

def test_server_config():
    out = consul_config(settings())
    c = out['config']
    assert c['server'] is True and c['bootstrap_expect'] == 3
    assert c['bind_addr'] == c['advertise_addr'] == '10.0.0.5'
    # the agent's own address is not in its join list
    assert c['retry_join'] == ['10.0.0.6', '10.0.0.7']
    assert c['client_addr'] == '127.0.0.1'
    assert c['ui_config'] == {'enabled': False}
    assert c['ports'] == {'http': 8500, 'dns': 8600, 'grpc': -1, 'grpc_tls': -1}
    assert c['disable_update_check'] is True
    assert c['leave_on_terminate'] is False and c['skip_leave_on_interrupt'] is True
    assert c['log_level'] == 'INFO'
    assert 'acl' not in c


def test_secrets_are_kept_out_of_the_config():
    out = consul_config(settings(acl={'enabled': True, 'tokens': {'initial_management': T1, 'agent': T2}}))
    flat = repr(out['config'])
    assert KEY not in flat and T1 not in flat and T2 not in flat
    assert out['secrets']['encrypt'] == KEY
    assert out['secrets']['encrypt_verify_incoming'] is True and out['secrets']['encrypt_verify_outgoing'] is True
    assert out['secrets']['acl'] == {'tokens': {'initial_management': T1, 'agent': T2}}
    assert out['config']['acl'] == {'enabled': True, 'default_policy': 'deny', 'down_policy': 'extend-cache',
                                    'enable_token_persistence': True}


def test_client_config():
    c = consul_config(client(bootstrap_expect=3))['config']
    assert c['server'] is False and 'bootstrap_expect' not in c
    assert c['retry_join'] == ['10.0.0.5', '10.0.0.6', '10.0.0.7']
    assert c['leave_on_terminate'] is True


def test_docker_agent_gets_the_docker_token_as_default():
    out = consul_config(client(acl={'enabled': True, 'tokens': {'agent': T2, 'default': T3}}))
    assert out['secrets']['acl']['tokens'] == {'agent': T2, 'default': T3}


def test_no_encryption_means_no_secret():
    out = consul_config(settings(encrypt_key=''))
    assert out['secrets'] == {}


def test_single_server_needs_no_join_list():
    c = consul_config(settings(bootstrap_expect=1, retry_join=['10.0.0.5']))['config']
    assert c['retry_join'] == [] and c['bootstrap_expect'] == 1


def test_extra_is_merged_deeply():
    c = consul_config(settings(extra={'telemetry': {'disable_hostname': True}, 'log_json': True}))['config']
    assert c['telemetry'] == {'disable_hostname': True} and c['log_json'] is True


def test_several_client_addresses_and_dns_off():
    c = consul_config(settings(client_address='127.0.0.1 10.0.0.5', dns_port=-1))['config']
    assert c['client_addr'] == '127.0.0.1 10.0.0.5' and c['ports']['dns'] == -1


def test_public_addresses_when_allowed():
    c = consul_config(settings(bind_address='8.8.8.8', client_address='0.0.0.0', allow_public=True))['config']
    assert c['bind_addr'] == '8.8.8.8' and c['client_addr'] == '0.0.0.0'


# --- every supported series gets the keys it knows ------------------------------------------

ACL_ON = {'enabled': True, 'tokens': {'initial_management': T1, 'agent': T2, 'default': T3}}


@pytest.mark.parametrize('version, ui_key, management, grpc_tls', [
    ('1.8.0', 'ui', 'master', False),
    ('1.8.7', 'ui', 'master', False),
    ('1.9.17', 'ui_config', 'master', False),
    ('1.10.12', 'ui_config', 'master', False),
    ('1.11.0', 'ui_config', 'initial_management', False),
    ('1.13.9', 'ui_config', 'initial_management', False),
    ('1.14.0', 'ui_config', 'initial_management', True),
    ('1.16.6', 'ui_config', 'initial_management', True),
    ('1.20.1', 'ui_config', 'initial_management', True),
    ('1.21.0+ent', 'ui_config', 'initial_management', True),
])
def test_every_series_is_rendered_with_its_own_keys(version, ui_key, management, grpc_tls):
    out = consul_config(settings(version=version, ui=True, acl=ACL_ON))
    c = out['config']
    assert out['version'] == version.split('+')[0]
    # ui (a bool) before 1.9, the ui_config stanza from 1.9
    assert c[ui_key] == (True if ui_key == 'ui' else {'enabled': True})
    assert ({'ui', 'ui_config'} - {ui_key}).isdisjoint(c)
    # the initial management token is called master before 1.11
    assert out['secrets']['acl']['tokens'] == {management: T1, 'agent': T2, 'default': T3}
    # ports.grpc_tls exists from 1.14
    assert c['ports'] == dict({'http': 8500, 'dns': 8600, 'grpc': -1}, **({'grpc_tls': -1} if grpc_tls else {}))


def test_client_of_an_old_series_has_no_management_token():
    out = consul_config(client(version='1.8.7', acl={'enabled': True, 'tokens': {'agent': T2, 'default': T3}}))
    assert out['secrets']['acl']['tokens'] == {'agent': T2, 'default': T3}
    assert out['config']['ui'] is False and 'ui_config' not in out['config']


@pytest.mark.parametrize('text, version', [
    ('Consul v1.8.7\nProtocol 2 spoken by default, understands 2 to 3 (agent will automatically use protocol >2 '
     'when speaking to compatible agents)\n', '1.8.7'),
    ('Consul v1.20.1\nRevision 2cdb2ee6\nBuild Date 2024-11-05T17:13:52Z\n', '1.20.1'),
    ('Consul v1.19.2+ent\n', '1.19.2'),
    ('1.14.0-rc1', '1.14.0'),
    ('1.20.1', '1.20.1'),
])
def test_version_is_read_from_consul_version(text, version):
    assert parse_version(text) == version


@pytest.mark.parametrize('version, message', [
    ('1.7.14', 'consul_version: Consul 1.7.14 is older than 1.8, the oldest series this role supports: install 1.8 '
               'or newer'),
    ('0.9.3', 'consul_version: Consul 0.9.3 is older than 1.8'),
    ('latest', "consul_version: must be a Consul release version such as 1.20.1 (or `consul version` output) "
               "(got 'latest')"),
    ('', 'consul_version: must be a Consul release version'),
    (None, 'consul_version: must be a Consul release version'),
    ('bash: consul: command not found', 'consul_version: must be a Consul release version'),
])
def test_unsupported_or_unknown_versions_are_refused(version, message):
    with pytest.raises(AnsibleFilterError) as err:
        consul_config(settings(version=version))
    assert message in str(err.value)


# --- refusals: each names the setting and the rule --------------------------------------------

@pytest.mark.parametrize('over, message', [
    ({'datacenter': 'dc 1'}, 'consul_datacenter: must be letters, digits'),
    ({'node_name': '-kv'}, 'consul_node_name: must be 1-63'),
    ({'data_dir': 'var/lib/consul'}, 'consul_data_dir: must be an absolute path'),
    ({'log_level': 'loud'}, 'consul_log_level: must be one of trace'),
    ({'bind_address': 'eth0'}, 'consul_bind_address: must be an IP address'),
    ({'bind_address': '0.0.0.0'}, 'consul_bind_address: must be one address of this host'),
    ({'bind_address': '8.8.8.8'}, 'consul_bind_address: is a public address; set consul_allow_public=true'),
    ({'advertise_address': '1.1.1.1'}, 'consul_advertise_address: is a public address'),
    ({'client_address': '0.0.0.0'}, 'consul_client_address: listening on every address (0.0.0.0) needs consul_allow_public=true'),
    ({'client_address': '127.0.0.1 8.8.4.4'}, 'consul_client_address: is a public address'),
    ({'client_address': ''}, 'consul_client_address: must name at least one address'),
    ({'http_port': 0}, 'consul_http_port: must be 1-65535'),
    ({'http_port': -1}, 'consul_http_port: must be 1-65535'),
    ({'dns_port': 70000}, 'consul_dns_port: must be 1-65535 or -1 (off)'),
    ({'bootstrap_expect': 0}, 'consul_bootstrap_expect: must be at least 1 on a server'),
    ({'retry_join': ['10.0.0.5']}, 'consul_bootstrap_expect: is 3, but no other server is given to join'),
    ({'encrypt_key': 'not-a-key'}, 'consul_encrypt_key: must be the base64 of a 16, 24 or 32 byte key'),
    ({'acl': {'enabled': True, 'default_policy': 'maybe', 'tokens': {}}}, 'consul_acl_default_policy: must be allow or deny'),
    ({'acl': {'enabled': True, 'tokens': {'agent': T2}}}, 'consul_acl: a server with ACLs on needs the initial management token'),
    ({'acl': {'enabled': True, 'tokens': {'initial_management': T1}}}, 'consul_acl: an agent with ACLs on needs its agent token'),
    ({'acl': {'enabled': True, 'tokens': {'initial_management': 'secret', 'agent': T2}}},
     'consul_acl_initial_management_token: must be a UUID'),
    ({'acl': {'enabled': True, 'tokens': {'initial_management': T1, 'agent': T2, 'replication': T3}}},
     "consul_acl_tokens: unknown token type 'replication'"),
    ({'extra': {'server': False}}, "consul_config_extra: may not set 'server'"),
    ({'extra': {'ui': True}}, "consul_config_extra: may not set 'ui'"),
    ({'extra': {'addresses': {'http': '0.0.0.0'}}}, "consul_config_extra: may not set 'addresses'"),
    ({'extra': {'acl_token': T1}}, "consul_config_extra: may not carry secrets ('acl_token')"),
    ({'extra': {'encrypt_verify_incoming': False}}, "consul_config_extra: may not carry secrets ('encrypt_verify_incoming')"),
    ({'extra': {'encrypt': KEY}}, "consul_config_extra: may not carry secrets ('encrypt')"),
    ({'extra': ['x']}, 'consul_config_extra: must be a dictionary'),
])
def test_refusals(over, message):
    with pytest.raises(AnsibleFilterError) as err:
        consul_config(settings(**over))
    assert message in str(err.value)


def test_client_needs_servers_to_join():
    with pytest.raises(AnsibleFilterError, match='consul_retry_join: a client agent needs at least one server'):
        consul_config(client(retry_join=[]))


def test_refusals_never_show_secret_values():
    for over in ({'encrypt_key': 'c2VjcmV0LXRvby1zaG9ydC0yMGI='},
                 {'acl': {'enabled': True, 'tokens': {'initial_management': 'my-real-secret', 'agent': T2}}}):
        with pytest.raises(AnsibleFilterError) as err:
            consul_config(settings(**over))
        assert 'c2VjcmV0' not in str(err.value) and 'my-real-secret' not in str(err.value)


@pytest.mark.parametrize('key, ok', [
    (base64.b64encode(os.urandom(16)).decode(), True), (base64.b64encode(os.urandom(24)).decode(), True),
    (base64.b64encode(os.urandom(32)).decode(), True), (base64.b64encode(os.urandom(20)).decode(), False),
    ('%%%', False), ('', False),
])
def test_gossip_key_ok(key, ok):
    assert gossip_key_ok(key) is ok


# --- the agents together -------------------------------------------------------------------------

def rendered(n_servers, n_clients=1, **over):
    servers = ['10.0.0.%d' % (5 + i) for i in range(n_servers)]
    out = []
    for i, addr in enumerate(servers):
        out.append(consul_config(settings(node_name='kv%d' % i, bind_address=addr, retry_join=servers,
                                          bootstrap_expect=n_servers, **over)))
    for i in range(n_clients):
        out.append(consul_config(client(node_name='dh%d' % i, bind_address='10.0.1.%d' % (i + 1),
                                        retry_join=servers, **over)))
    return out


def test_cluster_consistent():
    assert consul_cluster_check(rendered(3), 0) == {'errors': [], 'warnings': []}


def test_cluster_even_server_count_is_warned():
    res = consul_cluster_check(rendered(2), 0)
    assert res['errors'] == []
    assert res['warnings'] == ['2 Consul servers: an even count tolerates no more failures than 1 servers would '
                               '(quorum is 2); use an odd number']


@pytest.mark.parametrize('expect, why', [(5, 'never elect a leader'), (1, 'elect a leader before all join')])
def test_cluster_bootstrap_expect_must_match(expect, why):
    res = consul_cluster_check(rendered(3), expect)
    assert res['errors'] == ['consul_bootstrap_expect is %d but there are 3 servers (kv0, kv1, kv2): the cluster '
                             'would %s' % (expect, why)]


def test_cluster_without_servers():
    clients_only = rendered(1, 2)[1:]
    assert consul_cluster_check(clients_only, 0)['errors'] == [
        'no Consul server among the agents (put at least one host in the server group)']


def test_cluster_disagreements():
    agents = rendered(1) + [consul_config(client(node_name='odd', datacenter='dc2', encrypt_key='',
                                                 retry_join=['10.0.0.5']))]
    errors = consul_cluster_check(agents, 0)['errors']
    assert 'agents disagree on datacenter (dc1, dc2): every agent of a datacenter needs the same setting' in errors
    assert any(e.startswith('agents disagree on gossip encryption (False, True)') for e in errors)


def test_cluster_acl_disagreement_and_duplicate_names():
    acl = {'enabled': True, 'tokens': {'agent': T2}}
    agents = rendered(1) + [consul_config(client(node_name='kv0', acl=acl, retry_join=['10.0.0.5']))]
    errors = consul_cluster_check(agents, 0)['errors']
    assert 'node names used by more than one agent: kv0 (Consul refuses the second)' in errors
    assert any(e.startswith('agents disagree on ACLs') for e in errors)


# --- controller secrets ------------------------------------------------------------------------------

def test_secret_is_made_once_with_mode_0600(tmp_path):
    path = tmp_path / 'deep' / 'gossip.key'
    first = read_or_create(str(path), 'gossip')
    assert gossip_key_ok(first) and len(base64.b64decode(first)) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_or_create(str(path), 'gossip') == first


def test_uuid_secret(tmp_path):
    value = read_or_create(str(tmp_path / 't'), 'uuid')
    assert str(uuid.UUID(value)) == value


def test_check_mode_makes_nothing(tmp_path):
    assert read_or_create(str(tmp_path / 'k'), 'gossip', create=False) == ''
    assert not (tmp_path / 'k').exists()


def test_readable_secret_is_refused(tmp_path):
    path = tmp_path / 'k'
    read_or_create(str(path), 'gossip')
    path.chmod(0o644)
    with pytest.raises(AnsibleLookupError, match=r'mode 0644 lets others read it; it must be 0600'):
        read_or_create(str(path), 'gossip')


def test_damaged_secret_is_refused(tmp_path):
    path = tmp_path / 'k'
    path.write_text('hello\n')
    path.chmod(0o600)
    with pytest.raises(AnsibleLookupError, match=r'its content is not the base64 of a 16, 24 or 32 byte key'):
        read_or_create(str(path), 'gossip')
    with pytest.raises(AnsibleLookupError, match=r'its content is not a UUID'):
        read_or_create(str(path), 'uuid')


def test_concurrent_runs_agree_on_one_secret(tmp_path):
    path = str(tmp_path / 'k')
    got = []
    threads = [threading.Thread(target=lambda: got.append(read_or_create(path, 'gossip'))) for _i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8, 'a concurrent run failed'
    assert len(set(got)) == 1 and gossip_key_ok(got[0])


def test_symlinks_are_refused(tmp_path):
    (tmp_path / 'dangling').symlink_to(tmp_path / 'nowhere')
    with pytest.raises(AnsibleLookupError, match='not a regular file'):
        read_or_create(str(tmp_path / 'dangling'), 'gossip')
    assert not (tmp_path / 'nowhere').exists()
    real = tmp_path / 'real'
    read_or_create(str(real), 'uuid')
    (tmp_path / 'link').symlink_to(real)
    with pytest.raises(AnsibleLookupError, match='not a regular file'):
        read_or_create(str(tmp_path / 'link'), 'uuid')


def test_every_secret_file_gets_its_own_value(tmp_path):
    values = [read_or_create(str(tmp_path / ('%d.token' % i)), 'uuid') for i in range(5)]
    assert len(set(values)) == 5


# --- the package method's key check (roles/consul/files/apt-keyring.sh), with throwaway keys -------

KEYRING_SCRIPT = Path(__file__).resolve().parents[2] / 'roles' / 'consul' / 'files' / 'apt-keyring.sh'
needs_gpg = pytest.mark.skipif(not shutil.which('gpg'), reason='gpg is not installed (scripts/setup.sh installs it)')


def apt_keyring(keyfile, fpr, out):
    return subprocess.run(['sh', str(KEYRING_SCRIPT), str(keyfile), fpr, str(out)],
                          capture_output=True, text=True, check=False)


@needs_gpg
def test_apt_keyring_holds_only_the_pinned_key(tmp_path, keyring):
    good = keyring.new('repo <repo@example.invalid>')
    keyfile = tmp_path / 'gpg'
    keyring.export(keyfile, good)
    out = tmp_path / 'keyring.gpg'
    spaced = ' '.join(good[i:i + 4] for i in range(0, 40, 4)).lower()
    res = apt_keyring(keyfile, spaced, out)
    assert res.returncode == 0 and res.stdout.strip() == 'written', res.stderr
    # a binary (not armored) keyring that holds exactly that key
    listing = subprocess.run(['gpg', '--batch', '--with-colons', '--show-keys', str(out)], capture_output=True,
                             text=True, check=True).stdout
    assert [line.split(':')[9] for line in listing.splitlines() if line.startswith('fpr:')][0] == good
    assert not out.read_bytes().startswith(b'-----BEGIN')
    assert apt_keyring(keyfile, good, out).stdout.strip() == 'unchanged'


@needs_gpg
@pytest.mark.parametrize('case, message', [
    ('other', 'which is not 0000000000000000000000000000000000000000'),
    ('two', 'holds 2 primary keys'),
    ('revoked', 'is revoked'),
    ('garbage', 'cannot import the key file'),
])
def test_apt_keyring_refuses(tmp_path, keyring, case, message):
    good = keyring.new('repo <repo@example.invalid>')
    keyfile = tmp_path / 'gpg'
    keyring.export(keyfile, good)
    fpr = good
    if case == 'other':
        fpr = '0' * 40
    elif case == 'two':
        keyring.export(keyfile, good, keyring.new('evil <evil@example.invalid>'))
    elif case == 'revoked':
        rev = next((keyring.home / 'openpgp-revocs.d').glob('%s.rev' % good))
        (keyring.home / 'rev.asc').write_text(rev.read_text().replace(':-----BEGIN', '-----BEGIN'))
        keyring.gpg('--import', keyring.home / 'rev.asc')
        keyring.export(keyfile, good)
    elif case == 'garbage':
        keyfile.write_text('<html>not a key</html>\n')
    out = tmp_path / 'keyring.gpg'
    out.write_bytes(b'old')
    res = apt_keyring(keyfile, fpr, out)
    assert res.returncode == 1 and message in res.stderr, res.stderr
    assert out.read_bytes() == b'old', 'a refused key replaced the keyring'
