import pytest

from ansible_collections.hostnet.fabric.plugins.module_utils import _daemon_config as dc

UNIT = """[Service]
Type=notify
EnvironmentFile=-/etc/default/docker
ExecStart=/usr/sbin/dockerd -H fd:// \\
    --containerd=/run/containerd/containerd.sock $DOCKER_OPTS
"""


@pytest.mark.parametrize('key, flag', [
    ('hosts', '--host'), ('labels', '--label'), ('log-opts', '--log-opt'), ('debug', '--debug'),
    ('cluster-store', '--cluster-store'), ('cluster-store-opts', '--cluster-store-opt'), ('runtimes', '--add-runtime'),
])
def test_key_flag_mapping(key, flag):
    assert dc.flags_for_key(key)[0] == flag
    assert dc.key_for_flag(flag) == key


def test_short_flags_map_to_keys():
    assert dc.key_for_flag('-H') == 'hosts' and dc.key_for_flag('-D') == 'debug' and dc.key_for_flag('-G') == 'group'


def test_options_to_args():
    args = dc.options_to_args({'labels': ['a=1', 'b=2'], 'debug': True, 'live-restore': False,
                               'log-opts': {'max-size': '10m'}, 'mtu': 1450})
    assert args == ['--debug', '--label=a=1', '--label=b=2', '--live-restore=false', '--log-opt=max-size=10m',
                    '--mtu=1450']
    flags = dc.args_to_flags(args + ['-H', 'fd://', 'value'])
    assert flags == ['--debug', '--label', '--label', '--live-restore', '--log-opt', '--mtu', '-H']


def test_effective_exec_start_follows_resets():
    units = [('/lib/docker.service', UNIT),
             ('/etc/d/10-a.conf', '[Service]\nExecStart=\nExecStart=/usr/bin/dockerd --debug\n'),
             ('/etc/d/20-b.conf', '[Unit]\nExecStart=/not/service/section\n')]
    assert dc.effective_exec_start(units) == ('/etc/d/10-a.conf', '/usr/bin/dockerd --debug')
    assert dc.effective_exec_start(units[:1])[1] == ('/usr/sbin/dockerd -H fd:// '
                                                     '--containerd=/run/containerd/containerd.sock $DOCKER_OPTS')
    assert dc.effective_exec_start(units + [('/x', '[Service]\nExecStart=\n')]) == (None, None)


def test_environment_and_expansion():
    files = {'/etc/default/docker': 'export DOCKER_OPTS="--dns 8.8.8.8 --label x=y"\n# c\n'}
    env = dc.environment_of([('/lib/docker.service', UNIT)], files.get)
    assert env == {'DOCKER_OPTS': '--dns 8.8.8.8 --label x=y'}
    words = dc.expand_command(dc.effective_exec_start([('/u', UNIT)])[1], env)
    assert words[-4:] == ['--dns', '8.8.8.8', '--label', 'x=y']
    assert dc.variable_name('${DOCKER_OPTS}') == 'DOCKER_OPTS' and dc.variable_name('a$B') is None


def test_conflicts_name_both_places():
    found = dc.conflicts({'hosts', 'debug'}, [('unit', ['-H', '--containerd']), ('env', ['--debug'])])
    assert found == [('hosts', '-H', 'unit'), ('debug', '--debug', 'env')]


def test_dropin_round_trip():
    text = dc.dropin_text('/usr/sbin/dockerd -H fd://', {'cluster-store': 'etcd://a:2379'})
    assert dc.dropin_options(text) == {'cluster-store': 'etcd://a:2379'}
    assert 'ExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// --cluster-store=etcd://a:2379\n' in text
    assert dc.dropin_options('[Service]\nExecStart=\n') is None


@pytest.mark.parametrize('text, version', [
    ('Docker version 20.10.24+dfsg1, build 5d6db84', (20, 10, 24)), ('26.1.5', (26, 1, 5)), ('23.0', (23, 0, 0)),
])
def test_parse_version(text, version):
    assert dc.parse_version(text) == version


def test_parse_version_bad():
    with pytest.raises(dc.ConfigError, match='engine_version: cannot read a version'):
        dc.parse_version('latest')


def test_cluster_checks():
    assert dc.check_cluster_options({'debug': True}, (26, 1, 5), set()) == []
    with pytest.raises(dc.ConfigError, match='cluster-store: removed in Docker Engine 23.0 and this engine is 23.0.0'):
        dc.check_cluster_options({'cluster-store': 'etcd://a:1'}, (23, 0, 0), None)
    warnings = dc.check_cluster_options({'cluster-store': 'consul://10.0.0.5:8500',
                                         'cluster-advertise': '10.0.0.7:2376'}, (20, 10, 24), {'lo'})
    assert len(warnings) == 1 and 'deprecated' in warnings[0]
    with pytest.raises(dc.ConfigError, match="interface 'eth1' does not exist on this host .* interfaces here: eth0, lo"):
        dc.check_cluster_options({'cluster-advertise': 'eth1:2376'}, (20, 10, 24), {'lo', 'eth0'})
    with pytest.raises(dc.ConfigError, match='INTERFACE:PORT'):
        dc.check_cluster_options({'cluster-advertise': 'eth0'}, (20, 10, 24), {'eth0'})


def test_tcp_hosts():
    dc.check_tcp_hosts(['unix:///var/run/docker.sock', 'fd://'], False, False)
    dc.check_tcp_hosts(['tcp://0.0.0.0:2376'], True, False)
    dc.check_tcp_hosts(['tcp://127.0.0.1:2375'], False, True)
    with pytest.raises(dc.ConfigError, match='hosts: tcp://0.0.0.0:2375 would open the Docker API'):
        dc.check_tcp_hosts(['tcp://0.0.0.0:2375'], False, False)


def test_changed_keys():
    assert dc.changed_keys({'a': 1, 'b': 2}, {'a': 1, 'b': 3, 'c': 4}) == ['b', 'c']
