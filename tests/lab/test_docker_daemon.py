"""docker_daemon_opts and the docker_daemon role on real engines in lab hosts:
Debian 12 (Engine 20.10, has --cluster-store) and Debian 13 (Engine 26.1, has not).

Each test works on the last lab host and puts its engine configuration back afterwards."""
import json
import time
import uuid

import pytest
import yaml

ROLE_PLAY = {'hosts': None, 'gather_facts': False, 'roles': [{'role': 'hostnet.fabric.docker_daemon'}]}


@pytest.fixture
def host(scratch_lab, tmp_path):
    lab = scratch_lab
    """The last host of the scratch lab, its Docker configuration restored after the test."""
    h = lab.hosts[-1]
    saved = lab.sh(h, 'cat /etc/docker/daemon.json 2>/dev/null || true').stdout
    yield h
    lab.sh(h, 'rm -f /etc/systemd/system/docker.service.d/hostnet-fabric.conf /etc/docker/daemon.json.*~ '
              '/etc/docker/.daemon.json.*')
    if saved.strip():
        lab.docker('exec', '-i', h, 'sh', '-c', 'cat > /etc/docker/daemon.json', stdin=saved)
    else:
        lab.sh(h, 'rm -f /etc/docker/daemon.json')
    lab.sh(h, 'systemctl daemon-reload; systemctl reset-failed docker; systemctl restart docker', check=False)
    wait_engine(lab, h)


def wait_engine(lab, h, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if lab.sh(h, 'docker version >/dev/null 2>&1', check=False).returncode == 0:
            return
        time.sleep(1)
    raise AssertionError('%s: the engine does not answer after %ss' % (h, seconds))


def play(lab, tmp_path, host, tasks=None, role_vars=None):
    """Run tasks (or the docker_daemon role with role_vars) on one lab host. Returns (rc, results)."""
    if tasks is not None:
        pb = [{'name': 'test', 'hosts': host, 'gather_facts': False, 'tasks': tasks}]
    else:
        pb = [{'name': 'test', 'hosts': host, 'gather_facts': False,
               'roles': [{'role': 'hostnet.fabric.docker_daemon', 'vars': role_vars or {}}]}]
    path = tmp_path / ('play-%s.yml' % uuid.uuid4().hex[:6])
    path.write_text(yaml.safe_dump(pb, sort_keys=False))
    rc, data = lab.playbook(path)
    assert data is not None, 'ansible-playbook printed no JSON'
    results = []
    for p in data['plays']:
        for t in p['tasks']:
            r = t['hosts'].get(host, {})
            r['_task'] = t['task']['name']
            results.append(r)
    return rc, results


def module(lab, tmp_path, host, args, check=False):
    rc, results = play(lab, tmp_path, host, [{'name': 'opts', 'hostnet.fabric.docker_daemon_opts': args,
                                              'check_mode': check, 'ignore_errors': True}])
    return results[0]


def state(lab, h):
    """daemon.json, our drop-in and the engine's pid + state: what must not change on a refusal."""
    return (lab.sh(h, 'cat /etc/docker/daemon.json 2>/dev/null || echo NONE').stdout,
            lab.sh(h, 'cat /etc/systemd/system/docker.service.d/hostnet-fabric.conf 2>/dev/null || echo NONE').stdout,
            lab.out(h, 'systemctl show -p MainPID --value docker'), lab.out(h, 'systemctl is-active docker'))


def changed_tasks(results):
    """Names (without the role prefix) of the tasks that changed something."""
    return [r['_task'].split(' : ', 1)[-1] for r in results if r.get('changed')]


def bookworm_only(lab):
    if lab.distro != 'bookworm':
        pytest.skip('cluster-store exists only on Engine <= 20.10 (Debian 12 lab); this lab is %s' % lab.distro)


def trixie_only(lab):
    if lab.distro != 'trixie':
        pytest.skip('needs Engine >= 23 (Debian 13 lab); this lab is %s' % lab.distro)


@pytest.mark.parametrize('method', ['daemon_json', 'systemd_dropin'])
def test_cluster_store_applied_and_idempotent(scratch_lab, tmp_path, host, method):
    lab = scratch_lab
    bookworm_only(lab)
    kv = lab.hostvars(lab.hosts[0])['hostnet_underlay_ip']
    iface = lab.hostvars(host)['hostnet_underlay_iface']
    role_vars = {'docker_daemon_cluster_store': 'etcd://%s:2379' % kv,
                 'docker_daemon_cluster_advertise': '%s:2376' % iface, 'docker_daemon_method': method}
    rc, results = play(lab, tmp_path, host, role_vars=role_vars)
    assert rc == 0, [r.get('msg') for r in results if r.get('failed')]
    info = json.loads(lab.out(host, "docker info --format '{{json .}}'"))
    assert info['ClusterStore'] == 'etcd://%s:2379' % kv
    assert info['ClusterAdvertise'] == '%s:2376' % lab.hostvars(host)['hostnet_underlay_ip']
    if method == 'systemd_dropin':
        unit = lab.out(host, 'systemctl cat docker')
        assert '--cluster-store=etcd://%s:2379' % kv in unit
        assert 'cluster-store' not in lab.sh(host, 'cat /etc/docker/daemon.json 2>/dev/null || true').stdout
    rc, results = play(lab, tmp_path, host, role_vars=role_vars)
    assert rc == 0 and changed_tasks(results) == [], changed_tasks(results)


def test_reloadable_change_does_not_restart_containers(scratch_lab, tmp_path, host):
    lab = scratch_lab
    lab.sh(host, 'docker rm -f hf-keep >/dev/null 2>&1; docker run -d --name hf-keep hostnet/probe:latest sleep 600')
    started = lab.out(host, "docker inspect -f '{{.State.StartedAt}}' hf-keep")
    pid = lab.out(host, 'systemctl show -p MainPID --value docker')
    try:
        label = 'hostnet.test=%s' % uuid.uuid4().hex[:6]
        rc, results = play(lab, tmp_path, host, role_vars={'docker_daemon_options': {'labels': [label]}})
        assert rc == 0, [r.get('msg') for r in results if r.get('failed')]
        opts = [r for r in results if r['_task'].endswith('Set the daemon options (backup kept until the engine answers)')][0]
        assert opts['reload_sufficient'] is True or 'live-restore' in opts['changed_keys']
        assert label in lab.out(host, "docker info --format '{{json .Labels}}'")
        assert lab.out(host, "docker inspect -f '{{.State.StartedAt}}' hf-keep") == started
        assert lab.out(host, "docker inspect -f '{{.State.Running}}' hf-keep") == 'true'
        if opts['reload_sufficient']:
            assert lab.out(host, 'systemctl show -p MainPID --value docker') == pid, 'the engine was restarted'
    finally:
        lab.sh(host, 'docker rm -f hf-keep', check=False)


def test_live_restore_keeps_containers_across_a_restart(scratch_lab, tmp_path, host):
    lab = scratch_lab
    rc, _results = play(lab, tmp_path, host, role_vars={})  # live-restore on by default
    assert rc == 0
    lab.sh(host, 'docker rm -f hf-live >/dev/null 2>&1; docker run -d --name hf-live hostnet/probe:latest sleep 600')
    started = lab.out(host, "docker inspect -f '{{.State.StartedAt}}' hf-live")
    try:
        rc, results = play(lab, tmp_path, host, role_vars={'docker_daemon_options': {'mtu': 1400}})
        assert rc == 0 and 'Restart the engine' in changed_tasks(results)
        assert lab.out(host, "docker inspect -f '{{.State.StartedAt}}' hf-live") == started
    finally:
        lab.sh(host, 'docker rm -f hf-live', check=False)


def test_engine_that_does_not_start_is_rolled_back(scratch_lab, tmp_path, host):
    lab = scratch_lab
    before = state(lab, host)[0]
    rc, results = play(lab, tmp_path, host, role_vars={'docker_daemon_options': {'storage-driver': 'hostnet-nonexistent'}})
    assert rc != 0
    failure = [r for r in results if r.get('failed') and not r.get('ignore_errors')][-1]
    assert 'previous configuration was restored' in failure['msg']
    assert 'hostnet-nonexistent' in failure['msg'], failure['msg']  # the engine's own words
    assert lab.out(host, 'systemctl is-active docker') == 'active'
    wait_engine(lab, host)
    assert state(lab, host)[0] == before
    assert lab.sh(host, 'ls /etc/docker/daemon.json.*~ 2>/dev/null || true').stdout.strip() == ''


def refusal(lab, tmp_path, host, args, expect):
    before = state(lab, host)
    res = module(lab, tmp_path, host, args)
    assert res.get('failed') and expect in res['msg'], res.get('msg')
    assert state(lab, host) == before, 'a refusal changed the file or the engine'
    return res


def test_refusals_leave_file_and_engine_alone(scratch_lab, tmp_path, host):
    lab = scratch_lab
    iface_msg = 'does not exist on this host'
    refusal(lab, tmp_path, host, {'options': {'hosts': ['unix:///var/run/docker.sock']}},
            'as -H in ExecStart in /lib/systemd/system/docker.service')
    # as a flag in the drop-in (in daemon.json it would also clash with the unit's -H)
    refusal(lab, tmp_path, host, {'target': 'systemd_dropin', 'options': {'hosts': ['fd://', 'tcp://0.0.0.0:2375']}},
            'without TLS verification')
    if lab.distro == 'bookworm':
        refusal(lab, tmp_path, host, {'cluster_store': 'etcd://10.0.0.5:2379', 'cluster_advertise': 'eth9:2376'},
                iface_msg)
    lab.sh(host, 'cp -a /etc/docker/daemon.json /tmp/dj.keep 2>/dev/null; echo "{broken" > /etc/docker/daemon.json')
    try:
        refusal(lab, tmp_path, host, {'options': {'debug': True}}, 'is not valid JSON')
    finally:
        lab.sh(host, 'if [ -e /tmp/dj.keep ]; then mv /tmp/dj.keep /etc/docker/daemon.json; '
                     'else rm -f /etc/docker/daemon.json; fi')


def test_cluster_store_refused_on_engine_26(scratch_lab, tmp_path, host):
    lab = scratch_lab
    trixie_only(lab)
    res = refusal(lab, tmp_path, host, {'cluster_store': 'etcd://10.0.0.5:2379'},
                  'removed in Docker Engine 23.0 and this engine is 26.1')
    assert 'swarm' in res['msg']


def test_dockerd_validate_rejects_on_engine_26(scratch_lab, tmp_path, host):
    lab = scratch_lab
    trixie_only(lab)
    res = refusal(lab, tmp_path, host, {'options': {'hostnet-bogus-key': True}}, 'dockerd --validate rejected')
    assert "don't match any configuration option: hostnet-bogus-key" in res['msg']
    ok = module(lab, tmp_path, host, {'options': {'labels': ['hostnet.validated=yes']}}, check=True)
    assert ok.get('validated') is True and ok['changed'] and not ok.get('failed')


def test_swarm_member_refuses_cluster_store(scratch_lab, tmp_path, host):
    lab = scratch_lab
    bookworm_only(lab)
    ip = lab.hostvars(host)['hostnet_underlay_ip']
    lab.sh(host, 'docker swarm init --advertise-addr %s >/dev/null' % ip)
    try:
        refusal(lab, tmp_path, host, {'cluster_store': 'etcd://10.0.0.5:2379'}, 'active swarm member')
    finally:
        lab.sh(host, 'docker swarm leave --force', check=False)
