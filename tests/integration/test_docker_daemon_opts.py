"""docker_daemon_opts against real files: a copy of Debian's docker.service layout in a
temporary directory (vendor unit, /etc/default/docker, drop-in dir) and daemon.json there.

The engine version comes from the real `dockerd --version` where Docker is installed, or is
given. Restarting real engines with these files is the docker_daemon role's job and is tested
in the lab (tests/lab)."""
import hashlib
import json
import os
import shutil
import subprocess

import pytest

from conftest import changed

VENDOR_UNIT = """[Unit]
Description=Docker Application Container Engine
After=network-online.target docker.socket firewalld.service containerd.service
Requires=docker.socket

[Service]
Type=notify
EnvironmentFile=-{envfile}
ExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS
ExecReload=/bin/kill -s HUP $MAINPID
Restart=always

[Install]
WantedBy=multi-user.target
"""


class Layout:
    def __init__(self, root):
        self.root = root
        self.lib = root / 'lib'
        self.etc = root / 'etc'
        self.dropins = self.etc / 'docker.service.d'
        self.daemon_json = root / 'docker' / 'daemon.json'
        self.envfile = root / 'default-docker'
        self.dropin = self.dropins / 'hostnet-fabric.conf'
        for d in (self.lib, self.dropins, self.daemon_json.parent):
            d.mkdir(parents=True)
        (self.lib / 'docker.service').write_text(VENDOR_UNIT.format(envfile=self.envfile))
        self.envfile.write_text('# Docker Upstart and SysVinit configuration file\n#DOCKER_OPTS="--dns 8.8.8.8"\n')

    def args(self, **kw):
        base = {'path': str(self.daemon_json), 'dropin_path': str(self.dropin),
                'systemd_unit_dirs': [str(self.etc), str(self.lib)], 'engine_version': '20.10.24'}
        base.update(kw)
        return {k: v for k, v in base.items() if v is not None}

    def files(self):
        """Every file under the layout with its content hash and mode: 'untouched' means equal."""
        out = {}
        for dirpath, _dirs, names in os.walk(self.root):
            for n in names:
                p = os.path.join(dirpath, n)
                with open(p, 'rb') as f:
                    out[p] = (hashlib.sha256(f.read()).hexdigest(), oct(os.stat(p).st_mode))
        return out


@pytest.fixture
def layout(tmp_path):
    return Layout(tmp_path / 'host')


def run_refused(ansible, layout, **args):
    before = layout.files()
    res = ansible.run('docker_daemon_opts', layout.args(**args))
    assert res.get('failed'), res
    assert layout.files() == before, 'a refused task changed files'
    return res


def cycle(ansible, layout, args):
    before = layout.files()
    first = ansible.run('docker_daemon_opts', args, check=True)
    assert not first.get('failed'), first.get('msg')
    assert layout.files() == before, 'check mode changed files'
    rest = ansible.play([
        {'name': 'real', 'hostnet.fabric.docker_daemon_opts': args},
        {'name': 'check again', 'hostnet.fabric.docker_daemon_opts': args, 'check_mode': True},
        {'name': 'real again', 'hostnet.fabric.docker_daemon_opts': args},
    ])
    for r in [first] + rest:
        assert not r.get('failed'), r.get('msg')
    return [first] + rest


def test_cluster_store_and_advertise(ansible, layout):
    args = layout.args(cluster_store='etcd://10.0.0.5:2379', cluster_advertise='lo:2376')
    res = cycle(ansible, layout, args)
    assert changed(res) == [True, True, False, False]
    written = json.loads(layout.daemon_json.read_text())
    assert written == {'cluster-store': 'etcd://10.0.0.5:2379', 'cluster-advertise': 'lo:2376'}
    # a reload does not move existing networks to a new store (moby/moby#24827): the cluster keys need a restart
    assert res[1]['engine_version'] == '20.10.24' and not res[1]['reload_sufficient'] and res[1]['restart_required']
    assert any('deprecated' in w for w in res[1].get('warnings', []))
    assert '+  "cluster-store": "etcd://10.0.0.5:2379"' in ''.join(
        '+' + line + '\n' for line in res[1]['diff']['after'].splitlines())
    assert oct(layout.daemon_json.stat().st_mode & 0o777) == '0o644'
    # actions: what would be done (check), what was done, then nothing
    assert res[0]['actions'] == res[1]['actions'] == [
        'set cluster-advertise to "lo:2376" in %s' % layout.daemon_json,
        'set cluster-store to "etcd://10.0.0.5:2379" in %s' % layout.daemon_json]
    assert res[2]['actions'] == res[3]['actions'] == []


def test_merge_keeps_other_keys_and_ignores_formatting(ansible, layout):
    layout.daemon_json.write_text('{"log-driver":"journald","cluster-store":"etcd://10.0.0.5:2379"}')
    os.chmod(layout.daemon_json, 0o600)
    res = ansible.run('docker_daemon_opts', layout.args(cluster_store='etcd://10.0.0.5:2379'))
    assert not res['changed']
    res = ansible.run('docker_daemon_opts', layout.args(options={'live-restore': True}, backup=True))
    assert res['changed'] and res['changed_keys'] == ['live-restore'] and res['reload_sufficient']
    old = {'log-driver': 'journald', 'cluster-store': 'etcd://10.0.0.5:2379'}
    assert json.loads(layout.daemon_json.read_text()) == dict(old, **{'live-restore': True})
    assert oct(layout.daemon_json.stat().st_mode & 0o777) == '0o600'  # mode kept
    with open(res['backup_file']) as f:
        assert json.loads(f.read()) == old


def test_restart_required_for_keys_that_do_not_reload(ansible, layout):
    res = ansible.run('docker_daemon_opts', layout.args(options={'mtu': 1450}))
    assert res['changed'] and res['restart_required'] and not res['reload_sufficient']


def test_absent_removes_named_keys(ansible, layout):
    layout.daemon_json.write_text('{"cluster-store": "etcd://x:2379", "cluster-advertise": "lo:2376", "debug": true}')
    res = cycle(ansible, layout, layout.args(state='absent', options={'cluster-store': None, 'cluster-advertise': None}))
    assert changed(res) == [True, True, False, False]
    assert json.loads(layout.daemon_json.read_text()) == {'debug': True}


def test_invalid_json_is_never_repaired(ansible, layout):
    layout.daemon_json.write_text('{"debug": true,,}')
    res = run_refused(ansible, layout, options={'debug': False})
    assert 'is not valid JSON' in res['msg'] and str(layout.daemon_json) in res['msg']


def test_flag_in_vendor_unit_conflicts(ansible, layout):
    res = run_refused(ansible, layout, options={'hosts': ['unix:///var/run/docker.sock']})
    assert "hosts: set in %s and as -H in ExecStart in %s" % (layout.daemon_json, layout.lib / 'docker.service') \
        in res['msg']


def test_flag_in_environment_file_conflicts(ansible, layout):
    layout.envfile.write_text('DOCKER_OPTS="--dns 8.8.8.8 --label rack=r1"\n')
    res = run_refused(ansible, layout, options={'labels': ['rack=r2']})
    assert 'labels: set in' in res['msg'] and '$DOCKER_OPTS used by ExecStart' in res['msg'] and '--label' in res['msg']


def test_flag_in_another_dropin_conflicts(ansible, layout):
    (layout.dropins / 'override.conf').write_text(
        '[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// --cluster-store=consul://x:8500\n')
    res = run_refused(ansible, layout, cluster_store='etcd://10.0.0.5:2379')
    assert '--cluster-store in ExecStart in %s' % (layout.dropins / 'override.conf') in res['msg']


def test_cluster_store_refused_on_engine_23_and_later(ansible, layout):
    res = run_refused(ansible, layout, cluster_store='etcd://10.0.0.5:2379', engine_version='26.1.5')
    assert 'removed in Docker Engine 23.0 and this engine is 26.1.5' in res['msg'] and 'swarm' in res['msg']


def test_advertise_interface_must_exist(ansible, layout):
    res = run_refused(ansible, layout, cluster_store='etcd://10.0.0.5:2379', cluster_advertise='eth9:2376')
    assert "cluster_advertise: interface 'eth9' does not exist" in res['msg'] and 'lo' in res['msg']


@pytest.mark.parametrize('store', ['10.0.0.5:2379', 'http://10.0.0.5:2379', 'etcd://'])
def test_cluster_store_url_checked(ansible, layout, store):
    res = run_refused(ansible, layout, cluster_store=store)
    assert res['msg'].startswith('cluster_store: must be a URL')


def test_cluster_store_refused_on_active_swarm_member(ansible, layout, engine_api):
    host, routes = engine_api
    routes['/info'] = {'Swarm': {'LocalNodeState': 'active'}}
    res = run_refused(ansible, layout, cluster_store='etcd://10.0.0.5:2379', docker_host=host)
    assert 'active swarm member' in res['msg']
    routes['/info'] = {'Swarm': {'LocalNodeState': 'inactive'}}
    assert ansible.run('docker_daemon_opts', layout.args(cluster_store='etcd://10.0.0.5:2379',
                                                         docker_host=host))['changed']


def test_unauthenticated_tcp_socket_refused(ansible, layout):
    # the vendor unit's -H would clash with `hosts`; use a unit without it, as sites doing this have
    (layout.dropins / 'no-fd.conf').write_text('[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd\n')
    res = run_refused(ansible, layout, options={'hosts': ['unix:///var/run/docker.sock', 'tcp://0.0.0.0:2375']})
    assert 'tcp://0.0.0.0:2375' in res['msg'] and 'TLS' in res['msg']
    ok = ansible.run('docker_daemon_opts', layout.args(options={'hosts': ['tcp://0.0.0.0:2376'], 'tlsverify': True,
                                                                'tlscacert': '/etc/docker/ca.pem'}))
    assert ok['changed'] and not ok.get('failed')
    ok = ansible.run('docker_daemon_opts', layout.args(options={'hosts': ['tcp://127.0.0.1:2375'], 'tlsverify': False},
                                                       allow_insecure_tcp=True))
    assert ok['changed'] and not ok.get('failed')


def test_systemd_dropin_target(ansible, layout):
    args = layout.args(target='systemd_dropin', cluster_store='etcd://10.0.0.5:2379', cluster_advertise='lo:2376')
    res = cycle(ansible, layout, args)
    assert changed(res) == [True, True, False, False]
    text = layout.dropin.read_text()
    assert '[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock ' \
           '$DOCKER_OPTS --cluster-advertise=lo:2376 --cluster-store=etcd://10.0.0.5:2379\n' in text
    assert res[1]['daemon_reload_required'] and res[1]['restart_required'] and not res[1]['reload_sufficient']
    assert (layout.lib / 'docker.service').read_text() == VENDOR_UNIT.format(envfile=layout.envfile)  # never edited
    assert not layout.daemon_json.exists()
    # the same keys in daemon.json now conflict, and the other way round
    res = run_refused(ansible, layout, cluster_store='etcd://10.0.0.5:2379')
    assert str(layout.dropin) in res['msg']
    # absent removes our flags, and the drop-in with the last of them
    res = cycle(ansible, layout, layout.args(target='systemd_dropin', state='absent',
                                             options={'cluster-store': None, 'cluster-advertise': None}))
    assert changed(res) == [True, True, False, False]
    assert not layout.dropin.exists()
    assert res[1]['actions'][-1] == 'remove %s (no options left)' % layout.dropin and res[3]['actions'] == []


def test_dropin_conflicts_with_daemon_json(ansible, layout):
    layout.daemon_json.write_text('{"cluster-store": "etcd://10.0.0.5:2379"}')
    res = run_refused(ansible, layout, target='systemd_dropin', cluster_store='etcd://10.0.0.6:2379')
    assert 'cluster-store: set in %s' % layout.daemon_json in res['msg']


def test_dedicated_option_contradicting_options(ansible, layout):
    res = run_refused(ansible, layout, cluster_store='etcd://a:2379', options={'cluster-store': 'etcd://b:2379'})
    assert res['msg'].startswith('cluster_store: contradicts')


def test_engine_version_detected_from_dockerd(ansible, layout):
    # scripts/setup.sh installs Debian's docker.io, so the real dockerd is there to ask
    assert shutil.which('dockerd'), 'dockerd is not installed (scripts/setup.sh installs docker.io)'
    res = ansible.run('docker_daemon_opts', layout.args(engine_version=None, options={'debug': True}))
    assert not res.get('failed'), res.get('msg')
    out = subprocess.run(['dockerd', '--version'], capture_output=True, text=True, check=True).stdout
    assert res['engine_version'] and res['engine_version'] in out
