"""site.yml on the lab: key/value store, Docker engines, overlay networks and the native VXLAN
fabric across real hosts. Debian 12 labs get kv-store overlays (etcd), Debian 13 labs swarm mode.
Assertions read the hosts' real state, not the play's output."""
import json
import uuid

SITE = 'site.yml'


def failures(data):
    out = []
    for play in (data or {}).get('plays', []):
        for task in play['tasks']:
            for host, res in task['hosts'].items():
                if res.get('failed') and not res.get('ignore_errors'):
                    out.append('%s: %s: %s' % (host, task['task']['name'], res.get('msg')))
    return out


def changed(data):
    return sorted(set('%s: %s' % (h, t['task']['name']) for p in data['plays'] for t in p['tasks']
                      for h, r in t['hosts'].items() if r.get('changed')))


def test_site_converges(lab, site):
    rc, data = site
    assert rc == 0, failures(data)


def test_overlay_network_on_every_host(lab, site):
    assert site[0] == 0
    scope = 'global' if lab.distro == 'bookworm' else 'swarm'
    hosts = lab.hosts if lab.distro == 'bookworm' else lab.hosts[:1]  # swarm workers see it when used
    for h in hosts:
        out = lab.out(h, "docker network inspect -f '{{.Scope}} {{.Driver}}' ov_net1")
        assert out == '%s overlay' % scope, (h, out)
    if lab.distro == 'bookworm':
        info = json.loads(lab.out(lab.hosts[1], "docker info --format '{{json .}}'"))
        kv = lab.hostvars(lab.hosts[0])['hostnet_underlay_ip']
        assert info['ClusterStore'] == 'etcd://%s:2379' % kv
        # the network lives in etcd (v2 API, as Docker 20.10 uses it)
        keys = lab.out(lab.hosts[0], 'python3 -c "import urllib.request as u; print(u.urlopen(\'http://%s:2379/v2/'
                                     'keys/docker/network/v1.0/network?recursive=true\').read().decode())"' % kv)
        assert 'ov_net1' in keys, keys
    else:
        assert lab.out(lab.hosts[0], "docker info --format '{{.Swarm.LocalNodeState}}'") == 'active'
        for h in lab.hosts[1:]:
            assert lab.out(h, "docker info --format '{{.Swarm.LocalNodeState}}'") == 'active', h


def test_containers_on_different_hosts_ping_by_name(lab, site):
    assert site[0] == 0
    tag = uuid.uuid4().hex[:6]
    bases = ['t%s-%d' % (tag, i) for i in range(len(lab.hosts))]
    names = []
    try:
        for h, base in zip(lab.hosts, bases):
            # bounded tries: Engine 20.10 sometimes fails the endpoint's store update ("etcd cluster is
            # unavailable ... network is unreachable") while the store is fine, and leaves the endpoint
            # behind (the same name then "already exists"): each try uses a name of its own
            names.append(lab.out(h, 'for t in 1 2 3 4 5; do n=%s-$t; docker rm -f $n >/dev/null 2>&1; '
                                    'docker run -d --name $n --network ov_net1 hostnet/probe:latest sleep 600 '
                                    '>/dev/null && echo $n && exit 0; sleep 3; done; exit 1' % base))
        # Engine 20.10's store watch misses endpoint changes made at the same moment: one later,
        # short-lived container makes every engine re-read the endpoints (as the role's verify does)
        lab.sh(lab.hosts[0], 'for t in 1 2 3; do docker run --rm --network ov_net1 hostnet/probe:latest true '
                             '&& exit 0; sleep 3; done; exit 0', timeout=120)
        for i, h in enumerate(lab.hosts):
            for j, other in enumerate(names):
                if i == j:
                    continue
                # bounded: the name reaches the other engines through the store / gossip
                res = lab.sh(h, 'for t in $(seq 1 20); do docker exec %s ping -c 1 -W 2 %s >/dev/null 2>&1 && exit 0; '
                                'sleep 3; done; exit 1' % (names[i], other), check=False, timeout=120)
                assert res.returncode == 0, '%s cannot ping %s by name over ov_net1' % (names[i], other)
    finally:
        for h, base in zip(lab.hosts, bases):
            lab.sh(h, 'for t in 1 2 3 4 5; do docker rm -f %s-$t >/dev/null 2>&1; done; true' % base, check=False)


def test_native_fabric_workloads_reach_each_other(lab, site):
    assert site[0] == 0
    addresses = {}
    for h in lab.hosts:
        vx = json.loads(lab.out(h, 'ip -j -d link show hfvx4242'))[0]
        assert vx['linkinfo']['info_data']['id'] == 4242 and vx['linkinfo']['info_data']['port'] == 4789
        eth0 = json.loads(lab.out(h, 'ip -n hf-work -j addr show dev eth0'))[0]
        addresses[h] = [a['local'] for a in eth0['addr_info'] if a['family'] == 'inet'][0]
    for h in lab.hosts:
        for other, address in addresses.items():
            if other != h:
                lab.sh(h, 'ip netns exec hf-work ping -c 1 -W 2 %s' % address)
                lab.sh(h, 'ping -c 1 -W 2 %s' % address)


def test_second_run_changes_nothing(lab, site):
    assert site[0] == 0
    rc, data = lab.playbook(lab.repo / SITE)
    assert rc == 0, failures(data)
    assert changed(data) == []


def test_matrix_full_after_a_docker_restart(lab, site):
    assert site[0] == 0
    lab.sh(lab.hosts[-1], 'systemctl restart docker')
    rc, data = lab.playbook(lab.repo / SITE)
    assert rc == 0, failures(data)


def test_unknown_kv_backend_is_refused_before_anything_runs(lab):
    rc, data = lab.playbook(lab.repo / SITE, extra_vars={'hostnet_kv_backend': 'zookeeper'})
    assert rc != 0
    msgs = failures(data)
    # docker_daemon's argument spec refuses it, as the first task of its role
    assert any('docker_daemon_kv_backend' in m and 'zookeeper' in m for m in msgs), msgs
    assert [p['play']['name'] for p in data['plays']] == ['Key/value store (etcd)', 'Key/value store (Consul)',
                                                          'Docker engines'], data['plays']
    # nothing ran before it: the key/value plays were skipped on every host, and nothing changed
    ran = ['%s: %s' % (h, t['task']['name']) for p in data['plays'] for t in p['tasks']
           for h, r in t['hosts'].items() if not r.get('skipped') and not r.get('failed')]
    assert ran == [] and changed(data) == [], ran


# --------------------------------------------------------------------------- check mode (issue 11)

# Tasks a real run on a fresh lab changes that a dry run cannot predict, and why (by task name):
# check mode does not install etcd-server, so etcd.service does not exist yet; the etcd role skips
# what acts on that unit in check mode instead of failing on it, and the package's default member
# (its data directory) exists only after the real install.
UNPREDICTABLE_ON_A_FRESH_LAB = {
    'kv_servers': {
        "hostnet.fabric.etcd : Stop the package's default member",
        "hostnet.fabric.etcd : Remove the package's default member data",
        'hostnet.fabric.etcd : Start etcd',
        'hostnet.fabric.etcd : Restart etcd',
    },
    # the fabric's VXLAN devices and workload veths are ports of a bridge (veths also of a namespace) that a
    # dry run on a fresh host only predicts: the modules cannot plan a port of a bridge that is not there, so
    # the role skips them in check mode and prints which ones it did not plan (roles/vxlan_fabric/tasks/configure.yml)
    'fabric_hosts': {
        'hostnet.fabric.vxlan_fabric : VXLAN device per segment with the whole flood list, static FDB and neighbour entries',
        "hostnet.fabric.vxlan_fabric : Workloads plugged into their segment's bridge (address, MAC from the address, "
        "default route via the host)",
    },
}


def changed_by_host(data):
    out = {}
    for play in data['plays']:
        for task in play['tasks']:
            for host, res in task['hosts'].items():
                if res.get('changed'):
                    out.setdefault(host, set()).add(task['task']['name'])
    return out


def test_check_on_a_fresh_lab_fails_nowhere(lab, site_check_fresh):
    data = site_check_fresh['data']
    assert data is not None, 'ansible-playbook --check printed no JSON'
    msgs = failures(data)
    assert msgs == []
    played = [p['play']['name'] for p in data['plays']]
    assert played[:4] == ['Key/value store (etcd)', 'Key/value store (Consul)', 'Docker engines',
                          'Overlay networks'], played
    # what it predicts is what a fresh lab needs (the cluster store on Engine 20.10, swarm on 26.1)
    predicted = changed_by_host(data)
    print('predicted changes: %s' % {h: sorted(t) for h, t in sorted(predicted.items())})
    for h in lab.group('docker_hosts'):
        assert 'hostnet.fabric.docker_daemon : Set the daemon options (backup kept until the engine answers)' \
            in predicted.get(h, ()), (h, predicted.get(h))
    kv = lab.hostvars(lab.group('kv_servers')[0])['hostnet_underlay_ip']
    opts = [(h, r) for p in data['plays'] for t in p['tasks'] for h, r in t['hosts'].items()
            if t['task']['name'].endswith('Set the daemon options (backup kept until the engine answers)')]
    assert sorted(h for h, _r in opts) == sorted(lab.group('docker_hosts'))
    for h, res in opts:
        if lab.distro == 'bookworm':
            assert res['config'] == {'live-restore': True, 'cluster-store': 'etcd://%s:2379' % kv,
                                     'cluster-advertise': '%s:2376' % lab.hostvars(h)['hostnet_underlay_iface']}, \
                (h, res['config'])
        else:
            assert res['config'] == {'live-restore': False}, (h, res['config'])


def test_check_on_a_fresh_lab_changes_nothing(lab, site_check_fresh):
    before, after = site_check_fresh['before'], site_check_fresh['after']
    for h in lab.hosts:
        diff = {k: (before[h].get(k), after[h].get(k)) for k in set(before[h]) | set(after[h])
                if before[h].get(k) != after[h].get(k)}
        assert diff == {}, '%s: the dry run changed %s' % (h, diff)
        assert before[h]['engine-pid'] not in ('', '0'), (h, before[h]['engine-pid'])


def test_check_predicted_what_the_first_run_changed(lab, site_check_fresh, site):
    assert site[0] == 0, failures(site[1])
    predicted = changed_by_host(site_check_fresh['data'])
    real = changed_by_host(site[1])
    print('changed by the first run: %s' % {h: sorted(t) for h, t in sorted(real.items())})
    for h in lab.hosts:
        p, r = predicted.get(h, set()), real.get(h, set())
        assert p - r == set(), '%s: predicted, but the real run did not change: %s' % (h, sorted(p - r))
        missed = r - p
        for group, tasks in UNPREDICTABLE_ON_A_FRESH_LAB.items():
            if h in lab.group(group):
                missed -= tasks
        assert missed == set(), '%s: changed by the real run, not predicted: %s' % (h, sorted(missed))


def test_check_on_the_converged_lab_changes_nothing(lab, site):
    assert site[0] == 0
    rc, data = lab.playbook(lab.repo / SITE, '--check', '--diff')
    assert rc == 0, failures(data)
    assert changed(data) == []
    assert data['stats'] and all(s['changed'] == 0 and s['failures'] == 0 for s in data['stats'].values()), \
        data['stats']
