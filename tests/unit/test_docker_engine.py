"""The engine probe's facts (docker_engine_info) and docker_daemon's auto decision (docker_cluster_settings):
which engines get a cluster store, which URL, and when live-restore must be off."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hostnet.fabric.plugins.filter.docker_engine import docker_cluster_settings
from ansible_collections.hostnet.fabric.plugins.module_utils._daemon_config import ConfigError
from ansible_collections.hostnet.fabric.plugins.modules.docker_engine_info import (
    engine_facts,
    labelled_networks,
    network_url,
    networks_url,
)

INFO_2010 = {'ServerVersion': '20.10.24+dfsg1', 'ClusterStore': 'etcd://10.0.0.5:2379',
             'ClusterAdvertise': '10.0.0.11:2376', 'LiveRestoreEnabled': True,
             'Swarm': {'LocalNodeState': 'inactive', 'ControlAvailable': False}}


def test_facts_of_a_running_engine_20_10_with_a_store():
    f = engine_facts('Docker version 20.10.24+dfsg1, build 297e128\n', INFO_2010,
                     '{"live-restore": true}', '/etc/docker/daemon.json')
    assert f == {'installed': True, 'version': '20.10.24', 'version_major': 20, 'cluster_store_supported': True,
                 'cluster_store_backends': [], 'running': True, 'server_version': '20.10.24+dfsg1', 'cluster_store': 'etcd://10.0.0.5:2379',
                 'cluster_advertise': '10.0.0.11:2376', 'live_restore': True, 'swarm_state': 'inactive',
                 'swarm_manager': False, 'daemon_json': {'live-restore': True}, 'daemon_json_exists': True}


def test_facts_of_engine_26_in_a_swarm_without_daemon_json():
    info = {'ServerVersion': '26.1.5+dfsg1', 'Swarm': {'LocalNodeState': 'active', 'ControlAvailable': True}}
    f = engine_facts('Docker version 26.1.5+dfsg1, build a72d7cd', info, None, '/etc/docker/daemon.json')
    assert (f['version'], f['version_major'], f['cluster_store_supported']) == ('26.1.5', 26, False)
    assert (f['cluster_store'], f['cluster_advertise'], f['live_restore']) == ('', '', False)
    assert (f['swarm_state'], f['swarm_manager']) == ('active', True)
    assert (f['daemon_json'], f['daemon_json_exists']) == ({}, False)


@pytest.mark.parametrize('version, supported', [('20.10.5', True), ('19.03.15', True), ('22.06.0', True),
                                                ('23.0.0', False), ('28.5.2', False)])
def test_cluster_store_exists_up_to_engine_22(version, supported):
    assert engine_facts('Docker version %s' % version, None, None, 'x')['cluster_store_supported'] is supported


def test_engine_not_installed_nor_running():
    f = engine_facts(None, None, '', '/etc/docker/daemon.json')
    assert f['installed'] is False and f['version'] is None and f['version_major'] is None
    assert f['cluster_store_supported'] is False and f['running'] is False and f['server_version'] is None
    assert f['swarm_state'] == '' and f['daemon_json'] == {} and f['daemon_json_exists'] is True


def test_installed_but_not_running():
    f = engine_facts('Docker version 20.10.24', None, None, 'x')
    assert f['installed'] and not f['running'] and f['cluster_store'] == '' and f['live_restore'] is False


def test_bad_daemon_json_is_an_error_naming_the_file():
    with pytest.raises(ConfigError, match=r'/etc/docker/daemon.json is not valid JSON'):
        engine_facts('Docker version 20.10.24', None, '{broken', '/etc/docker/daemon.json')


def test_unreadable_version_is_an_error():
    with pytest.raises(ConfigError, match='cannot read a version'):
        engine_facts('dockerd: something else', None, None, 'x')


# --------------------------------------------------------------------------- docker_cluster_settings
E2010 = engine_facts('Docker version 20.10.24', dict(INFO_2010, ClusterStore='', ClusterAdvertise=''), None, 'x')
E26 = engine_facts('Docker version 26.1.5', {'Swarm': {'LocalNodeState': 'inactive'}}, None, 'x')
AUTO = dict(store='auto', advertise='auto', live_restore='auto')


def test_engine_20_10_with_etcd_gets_the_store_and_keeps_live_restore():
    s = docker_cluster_settings(E2010, kv_server='kv1', kv_address='10.0.0.5', advertise_iface='eth1', **AUTO)
    assert s['cluster_store'] == 'etcd://10.0.0.5:2379' and s['cluster_advertise'] == 'eth1:2376'
    assert s['live_restore'] is True and s['swarm'] is False
    assert s['reason'] == 'Engine 20.10.24 with etcd on kv1'


def test_engine_20_10_with_consul_uses_the_local_agent():
    s = docker_cluster_settings(E2010, kv_backend='consul', kv_server='kv1', consul_port=8501, **AUTO)
    assert s['cluster_store'] == 'consul://127.0.0.1:8501' and s['cluster_advertise'] == 'eth0:2376'
    assert s['live_restore'] is True and not s['swarm']


def test_engine_26_gets_no_store_and_live_restore_off_for_swarm():
    s = docker_cluster_settings(E26, kv_server='kv1', kv_address='10.0.0.5', **AUTO)
    assert (s['cluster_store'], s['cluster_advertise'], s['live_restore'], s['swarm']) == ('', '', False, True)
    assert s['reason'] == 'Engine 26.1.5 has no cluster store (removed in 23.0); overlays use swarm mode'
    # live-restore forced on: the reason says why that will not work
    s = docker_cluster_settings(E26, store='auto', advertise='auto', live_restore=True)
    assert s['reason'].endswith('overlays use swarm mode (which Docker refuses with live-restore on)')


def test_engine_20_10_without_kv_server_uses_swarm():
    s = docker_cluster_settings(E2010, kv_server='', **AUTO)
    assert (s['cluster_store'], s['live_restore'], s['swarm']) == ('', False, True)
    assert s['reason'].startswith('there is no key/value server')


def test_a_store_the_engine_already_has_keeps_live_restore_on():
    # no store wanted (none left unmanaged) but the engine runs with one: no swarm, live-restore stays
    s = docker_cluster_settings(E2010 | {'cluster_store': 'etcd://10.0.0.9:2379'}, kv_server='', **AUTO)
    assert (s['cluster_store'], s['live_restore'], s['swarm']) == ('', True, False)


@pytest.mark.parametrize('value, expected', [(True, True), (False, False), ('false', False), ('yes', True)])
def test_explicit_live_restore_is_kept(value, expected):
    s = docker_cluster_settings(E26, store='', advertise='', live_restore=value)
    assert s['live_restore'] is expected and s['swarm'] is True


def test_explicit_store_and_advertise_pass_through_without_a_version():
    s = docker_cluster_settings(engine_facts(None, None, None, 'x'), store='etcd://1.2.3.4:2379',
                                advertise='10.0.0.11:2376', live_restore=True)
    assert (s['cluster_store'], s['cluster_advertise'], s['live_restore'], s['swarm']) == \
        ('etcd://1.2.3.4:2379', '10.0.0.11:2376', True, False)
    assert s['reason'] == 'the cluster store was set explicitly'


def test_auto_advertise_follows_an_explicit_store():
    assert docker_cluster_settings(E2010, store='etcd://a:2379', advertise='auto')['cluster_advertise'] == 'eth0:2376'
    assert docker_cluster_settings(E2010, store='', advertise='auto')['cluster_advertise'] == ''


def test_auto_store_on_a_host_without_dockerd_is_refused():
    with pytest.raises(AnsibleFilterError, match=r'docker_daemon_cluster_store=auto: dockerd is not installed'):
        docker_cluster_settings(engine_facts(None, None, None, 'x'), kv_server='kv1', kv_address='10.0.0.5', **AUTO)


def test_etcd_server_without_an_address_is_refused():
    with pytest.raises(AnsibleFilterError, match=r'docker_daemon_kv_address: empty, but the etcd server kv1 needs'):
        docker_cluster_settings(E2010, kv_server='kv1', kv_address='', **AUTO)


def test_unknown_backend_is_refused():
    with pytest.raises(AnsibleFilterError, match=r"docker_daemon_kv_backend: must be etcd or consul \(got 'zk'\)"):
        docker_cluster_settings(E2010, kv_backend='zk', **AUTO)


def test_bad_live_restore_is_refused():
    with pytest.raises(AnsibleFilterError, match=r"docker_daemon_live_restore: must be auto, true or false"):
        docker_cluster_settings(E2010, live_restore='sometimes')


def test_input_must_be_the_engine_facts():
    with pytest.raises(AnsibleFilterError, match='the input must be the engine facts'):
        docker_cluster_settings('20.10')


def test_store_drivers_are_read_from_the_go_package_paths_in_the_binary(tmp_path):
    from ansible_collections.hostnet.fabric.plugins.modules.docker_engine_info import store_drivers
    debian12 = tmp_path / 'dockerd12'
    debian12.write_bytes(b'\0x' * 1000 + b'github.com/docker/libkv/store/etcd.New\0github.com/docker/libkv/store/boltdb.'
                         b'(*BoltDB).Get\0github.com/docker/libkv/store/zookeeper/zk.go\0libkv/store/consulx')
    debian11 = tmp_path / 'dockerd11'
    debian11.write_bytes(debian12.read_bytes() + b'\0github.com/docker/libkv/store/consul.Register\0')
    assert store_drivers(str(debian12)) == ['boltdb', 'etcd', 'zookeeper']
    assert store_drivers(str(debian11)) == ['boltdb', 'consul', 'etcd', 'zookeeper']


def test_drivers_are_kept_only_while_the_engine_has_a_cluster_store():
    assert engine_facts('Docker version 20.10.5', None, None, 'x', ['etcd', 'consul'])['cluster_store_backends'] == \
        ['consul', 'etcd']
    assert engine_facts('Docker version 26.1.5', None, None, 'x', ['etcd'])['cluster_store_backends'] == []


DEBIAN12 = engine_facts('Docker version 20.10.24+dfsg1', None, None, 'x', ['boltdb', 'etcd', 'zookeeper'])
DEBIAN11 = engine_facts('Docker version 20.10.5+dfsg1', None, None, 'x', ['boltdb', 'consul', 'etcd', 'zookeeper'])


def test_consul_is_refused_on_an_engine_built_without_its_driver():
    with pytest.raises(AnsibleFilterError, match=r"cluster store consul://127.0.0.1:8500: the installed Engine "
                       r"20.10.24 was built without the consul:// driver \(it has: boltdb, etcd, zookeeper\).*"
                       r"hostnet_kv_backend: etcd"):
        docker_cluster_settings(DEBIAN12, kv_backend='consul', kv_server='kv1')
    with pytest.raises(AnsibleFilterError, match='without the consul:// driver'):
        docker_cluster_settings(DEBIAN12, store='consul://10.0.0.5:8500')


def test_consul_passes_where_the_driver_is_and_etcd_on_debian_12():
    assert docker_cluster_settings(DEBIAN11, kv_backend='consul', kv_server='kv1')['cluster_store'] == \
        'consul://127.0.0.1:8500'
    assert docker_cluster_settings(DEBIAN12, kv_server='kv1', kv_address='10.0.0.5')['cluster_store'] == \
        'etcd://10.0.0.5:2379'
    # no store, or facts from before the drivers were read: nothing to check
    assert docker_cluster_settings(DEBIAN12, kv_backend='consul')['cluster_store'] == ''
    older = dict(DEBIAN12)
    del older['cluster_store_backends']
    assert docker_cluster_settings(older, kv_backend='consul', kv_server='kv1')['cluster_store'].startswith('consul')


LABEL = 'hostnet.fabric.vxlan_fabric.segment'


def test_networks_are_filtered_by_the_engine_on_their_label():
    # the engine's filter syntax: {"label": ["KEY"]} (any value), URL-encoded
    assert networks_url(LABEL) == '/networks?filters=%7B%22label%22%3A%20%5B%22hostnet.fabric.vxlan_fabric.segment%22%5D%7D'


def test_labelled_networks_keep_only_those_with_the_label_sorted_by_name():
    data = [{'Name': 'zz', 'Id': '2', 'Driver': 'bridge', 'Labels': {LABEL: 'zz'}},
            {'Name': 'bridge', 'Id': '0', 'Driver': 'bridge', 'Labels': {}},
            {'Name': 'host', 'Id': '9', 'Driver': 'host', 'Labels': None},
            {'Name': 'aa', 'Id': '1', 'Driver': 'bridge', 'Labels': {LABEL: 'aa', 'other': 'x'}}]
    assert [(n['name'], n['id'], n['driver'], n['label']) for n in labelled_networks(data, LABEL)] == [
        ('aa', '1', 'bridge', 'aa'), ('zz', '2', 'bridge', 'zz')]


# what Engine 26.1 answers to GET /networks/ID for a network the vxlan_fabric role made, with two containers
INSPECT = {
    'Name': 'hfdk', 'Id': '3f1c2a9b', 'Scope': 'local', 'Driver': 'bridge', 'EnableIPv6': False,
    'IPAM': {'Driver': 'default', 'Options': {},
             'Config': [{'Subnet': '10.60.0.0/24', 'IPRange': '10.60.0.16/28', 'Gateway': '10.60.0.1'}]},
    'Internal': False, 'Attachable': False,
    'Containers': {
        'c2': {'Name': 'web2', 'EndpointID': 'e2', 'MacAddress': '02:42:0a:3c:00:13', 'IPv4Address': '10.60.0.19/24',
               'IPv6Address': ''},
        'c1': {'Name': 'web1', 'EndpointID': 'e1', 'MacAddress': '02:42:0a:3c:00:12', 'IPv4Address': '10.60.0.18/24',
               'IPv6Address': ''}},
    'Options': {'com.docker.network.bridge.name': 'hfbr4300', 'com.docker.network.driver.mtu': '1450'},
    'Labels': {LABEL: 'hfdk'},
}


def test_an_inspected_network_gives_its_options_ipam_and_containers():
    assert labelled_networks([INSPECT], LABEL) == [{
        'name': 'hfdk', 'id': '3f1c2a9b', 'driver': 'bridge', 'label': 'hfdk',
        'options': {'com.docker.network.bridge.name': 'hfbr4300', 'com.docker.network.driver.mtu': '1450'},
        'ipam': [{'subnet': '10.60.0.0/24', 'ip_range': '10.60.0.16/28', 'gateway': '10.60.0.1'}],
        'containers': [{'name': 'web1', 'ipv4_address': '10.60.0.18', 'mac_address': '02:42:0a:3c:00:12'},
                       {'name': 'web2', 'ipv4_address': '10.60.0.19', 'mac_address': '02:42:0a:3c:00:13'}],
    }]


def test_a_network_without_ipam_config_options_or_containers():
    # the list answer (API 1.28+) leaves Containers out; a network made without IPAM config has Config null
    net = {'Name': 'bare', 'Id': '7', 'Driver': 'bridge', 'Labels': {LABEL: 'bare'}, 'IPAM': {'Config': None},
           'Options': None, 'Containers': None}
    assert labelled_networks([net], LABEL) == [{'name': 'bare', 'id': '7', 'driver': 'bridge', 'label': 'bare',
                                                'options': {}, 'ipam': [], 'containers': []}]
    partial = dict(net, IPAM={'Config': [{'Subnet': '10.9.0.0/24'}]},
                   Containers={'x': {'Name': 'noaddr', 'IPv4Address': '', 'MacAddress': ''}})
    got = labelled_networks([partial], LABEL)[0]
    assert got['ipam'] == [{'subnet': '10.9.0.0/24', 'ip_range': None, 'gateway': None}]
    assert got['containers'] == [{'name': 'noaddr', 'ipv4_address': None, 'mac_address': None}]


def test_a_network_is_inspected_by_its_id():
    assert network_url('3f1c2a9b') == '/networks/3f1c2a9b'
    assert network_url('a/b') == '/networks/a%2Fb'


@pytest.mark.parametrize('data', [None, {'message': 'page not found'}, []])
def test_no_network_list_is_no_networks(data):
    assert labelled_networks(data, LABEL) == []
