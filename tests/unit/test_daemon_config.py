import json

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


# ---------------------------------------------------------------- decide(), per target
class FakeHost:
    """Files in a dict; the engine, the interfaces and swarm state as given."""

    def __init__(self, files=None, version=(20, 10, 24), interfaces=('lo', 'eth0'), swarm=False, validate=None):
        self.files = dict(files or {})
        self.version = version
        self._interfaces = set(interfaces)
        self.swarm = swarm
        self.validated = []
        self._validate = validate

    def read_text(self, path):
        return self.files.get(path)

    def unit_files(self, dirs):
        found = [(p, t) for p, t in sorted(self.files.items()) if p.endswith('/docker.service')]
        dropins = sorted((p, t) for p, t in self.files.items() if '/docker.service.d/' in p)
        return found[:1] + dropins

    def engine_version(self):
        return self.version

    def interfaces(self):
        return self._interfaces

    def swarm_active(self):
        return self.swarm

    def validate(self, config, version):
        self.validated.append(config)
        if self._validate:
            raise dc.ConfigError(self._validate)
        return version >= (23, 0)


VENDOR = '/lib/systemd/system/docker.service'
DROPIN = '/etc/systemd/system/docker.service.d/hostnet-fabric.conf'


def params(**kw):
    p = {'options': {}, 'cluster_store': None, 'cluster_advertise': None, 'cluster_store_opts': None,
         'state': 'present', 'target': 'daemon_json', 'path': '/etc/docker/daemon.json', 'dropin_path': DROPIN,
         'systemd_unit_dirs': ['/etc/systemd/system', '/lib/systemd/system'], 'backup': False, 'validate': True,
         'engine_version': None, 'allow_insecure_tcp': False, 'docker_host': 'unix:///x'}
    p.update(kw)
    return p


def test_decide_daemon_json_actions_and_results():
    host = FakeHost({VENDOR: UNIT, '/etc/docker/daemon.json': '{"debug": true, "mtu": 1400}'})
    d = dc.decide(params(options={'debug': False, 'live-restore': True}, cluster_store='etcd://10.0.0.5:2379'), host)
    assert d['changed'] and d['keys'] == ['cluster-store', 'debug', 'live-restore']
    assert d['actions'] == ['set cluster-store to "etcd://10.0.0.5:2379" in /etc/docker/daemon.json',
                            'change debug from true to false in /etc/docker/daemon.json',
                            'set live-restore to true in /etc/docker/daemon.json']
    assert d['after'] == {'debug': False, 'mtu': 1400, 'live-restore': True, 'cluster-store': 'etcd://10.0.0.5:2379'}
    # cluster-store does not take effect on a reload (moby/moby#24827): a restart
    assert d['restart_required'] and not d['reload_sufficient'] and not d['daemon_reload_required']
    assert len(d['warnings']) == 1 and d['validated'] is False  # 20.10 has no --validate
    assert json.loads(d['text_after']) == d['after'] and d['file'] == '/etc/docker/daemon.json'
    d = dc.decide(params(state='absent', options={'mtu': None, 'nothing': None}), host)
    assert d['actions'] == ['remove mtu from /etc/docker/daemon.json'] and d['restart_required']
    d = dc.decide(params(options={'debug': True}), host)
    assert not d['changed'] and d['actions'] == [] and not d['restart_required']


def test_decide_daemon_json_validates_on_new_engines_only_when_changed():
    host = FakeHost({VENDOR: UNIT}, version=(26, 1, 5))
    assert dc.decide(params(options={'debug': True}), host)['validated'] is True
    assert host.validated == [{'debug': True}]
    host = FakeHost({VENDOR: UNIT, '/etc/docker/daemon.json': '{"debug": true}'}, version=(26, 1, 5))
    assert dc.decide(params(options={'debug': True}), host)['validated'] is False and host.validated == []
    host = FakeHost({VENDOR: UNIT}, version=(26, 1, 5), validate='dockerd --validate rejected the configuration: x')
    with pytest.raises(dc.ConfigError, match='dockerd --validate rejected'):
        dc.decide(params(options={'debug': True}), host)


def test_decide_dropin_actions_rewrite_and_removal():
    host = FakeHost({VENDOR: UNIT})
    p = params(target='systemd_dropin', cluster_store='etcd://10.0.0.5:2379')
    d = dc.decide(p, host)
    assert d['actions'] == ['set cluster-store to "etcd://10.0.0.5:2379" in %s (as dockerd flags)' % DROPIN]
    assert d['daemon_reload_required'] and d['restart_required'] and not d['reload_sufficient']
    assert d['file'] == DROPIN and '--cluster-store=etcd://10.0.0.5:2379' in d['text_after']
    # the same options over another vendor command: only the drop-in's ExecStart is rewritten
    host.files[DROPIN] = d['text_after']
    host.files[VENDOR] = UNIT.replace('-H fd://', '-H fd:// --debug')
    d = dc.decide(p, host)
    assert d['keys'] == [] and d['changed']
    assert d['actions'] == ['rewrite ExecStart in %s on the vendor command /usr/sbin/dockerd -H fd:// --debug '
                            '--containerd=/run/containerd/containerd.sock $DOCKER_OPTS' % DROPIN]
    host.files[DROPIN] = d['text_after']
    assert not dc.decide(p, host)['changed']
    # the last option removed: the drop-in goes
    d = dc.decide(params(target='systemd_dropin', state='absent', options={'cluster-store': None}), host)
    assert d['text_after'] == '' and d['actions'] == [
        'remove cluster-store from %s (as dockerd flags)' % DROPIN, 'remove %s (no options left)' % DROPIN]


def test_decide_refusals_name_both_places():
    host = FakeHost({VENDOR: UNIT, '/etc/docker/daemon.json': '{"cluster-store": "etcd://a:2379"}'})
    with pytest.raises(dc.ConfigError, match=r'cluster-store: set in /etc/docker/daemon.json and as --cluster-store '
                                             r'in %s' % DROPIN):
        dc.decide(params(target='systemd_dropin', cluster_store='etcd://b:2379'), host)
    with pytest.raises(dc.ConfigError, match=r'hosts: set in /etc/docker/daemon.json and as -H in ExecStart in %s'
                       % VENDOR):
        dc.decide(params(options={'hosts': ['unix:///run/d.sock']}), host)
    with pytest.raises(dc.ConfigError, match='target: no ExecStart found for docker.service'):
        dc.decide(params(target='systemd_dropin', options={'debug': True}), FakeHost())
    with pytest.raises(dc.ConfigError, match='is not valid JSON'):
        dc.decide(params(), FakeHost({'/etc/docker/daemon.json': '{,'}))
    with pytest.raises(dc.ConfigError, match='does not hold a JSON object'):
        dc.decide(params(), FakeHost({'/etc/docker/daemon.json': '[1]'}))
    with pytest.raises(dc.ConfigError, match='active swarm member'):
        dc.decide(params(cluster_store='etcd://a:2379'), FakeHost({VENDOR: UNIT}, swarm=True))
    with pytest.raises(dc.ConfigError, match=r"cluster_store: contradicts options\['cluster-store'\]"):
        dc.decide(params(cluster_store='etcd://a:2379', options={'cluster-store': 'etcd://b:2379'}), host)
