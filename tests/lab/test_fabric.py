"""The native VXLAN fabric role (hostnet.fabric.vxlan_fabric) on the lab's real hosts and Docker engines
(Engine 20.10 on Debian 12, 26.1 on Debian 13): a container workload (the lab's `--network none` container, which
the role plugs in) and a `docker: true` segment (a local Docker bridge network per host on the segment's bridge).

The role runs alone (not site.yml) on the lab inventory, which carries both (scripts/lab.sh): the segment `fabric`
with each host's workload namespace and its container workload, the docker segment `hfdk`, and the firewall.
Assertions read the hosts' real state (tests/lab/fabric_checks.py, which test_site shares). At the end the role's
`vxlan_fabric_state: absent` removes all of it (the docker networks too) and the hosts must be as before, so that
the other lab tests of the session find the lab as `scripts/lab.sh up` left it."""
import json
import uuid

import pytest
import yaml

import fabric_checks

TEST_LABEL = 'hostnet.test=fabric'   # the containers this file starts, removed at the end


def play(state='present'):
    return [{
        'name': 'Native VXLAN fabric with a container workload and a docker segment',
        'hosts': 'fabric_hosts', 'gather_facts': False,
        'roles': [{'role': 'hostnet.fabric.vxlan_fabric', 'vars': {'vxlan_fabric_state': state}}],
    }]


def failures(data):
    return ['%s: %s: %s' % (h, t['task']['name'], r.get('msg')) for p in (data or {}).get('plays', [])
            for t in p['tasks'] for h, r in t['hosts'].items() if r.get('failed') and not r.get('ignore_errors')]


def changed(data):
    return sorted(set('%s: %s' % (h, t['task']['name']) for p in data['plays'] for t in p['tasks']
                      for h, r in t['hosts'].items() if r.get('changed')))


class Fabric(fabric_checks.Wanted):
    """The role's play on the lab, and what the lab inventory asks of it."""

    def __init__(self, lab, path):
        super().__init__(lab)
        self.path = path
        self.first = None

    def run(self, *args):
        return self.lab.playbook(self.path, *args)


def snapshot(lab, host):
    """What the role may touch, and what must be as before once it removed everything."""
    return lab.out(host, "ip -o link show | sed 's/^[0-9]*: //; s/@[^:]*:/:/' | awk '{ print $1 }' | sort; "
                         "ip netns list | awk '{ print $1 }' | sort; "
                         "docker network ls --format '{{.Name}}' | sort")


@pytest.fixture(scope='module')
def fabric(lab, tmp_path_factory):
    path = tmp_path_factory.mktemp('fabric') / 'fabric.yml'
    path.write_text(yaml.safe_dump(play(), sort_keys=False))
    absent = path.with_name('absent.yml')
    absent.write_text(yaml.safe_dump(play('absent'), sort_keys=False))
    before = {h: snapshot(lab, h) for h in lab.hosts}
    fab = Fabric(lab, path)
    fab.first = fab.run()
    try:
        yield fab
    finally:
        rc, data = lab.playbook(absent)
        for h in lab.hosts:
            lab.sh(h, 'docker ps -aq --filter label=%s | xargs -r docker rm -f >/dev/null; true' % TEST_LABEL,
                   check=False)
        assert rc == 0, failures(data)
        after = {h: snapshot(lab, h) for h in lab.hosts}
        assert after == before, 'vxlan_fabric_state=absent did not leave the hosts as before'


def test_converges_and_verifies_every_path(fabric):
    rc, data = fabric.first
    assert rc == 0, failures(data)
    # the role's own verification ran (a real run pings every path and fails on any miss)
    ran = [t['task']['name'] for p in data['plays'] for t in p['tasks']]
    assert any(n.endswith('Every path works') for n in ran), ran


def test_container_workload_is_plugged_in(fabric):
    assert fabric.first[0] == 0
    fabric_checks.container_workload_is_plugged_in(fabric.lab)


def test_containers_and_hosts_reach_each_other(fabric):
    assert fabric.first[0] == 0
    fabric_checks.containers_and_hosts_reach_each_other(fabric.lab)


def test_docker_network_on_every_host(fabric):
    assert fabric.first[0] == 0
    fabric_checks.docker_network_on_every_host(fabric.lab)


def test_docker_run_containers_on_different_hosts_reach_each_other(fabric):
    assert fabric.first[0] == 0
    fabric_checks.docker_run_containers_reach_each_other(fabric.lab, TEST_LABEL)


def test_second_run_changes_nothing(fabric):
    assert fabric.first[0] == 0
    rc, data = fabric.run()
    assert rc == 0, failures(data)
    assert changed(data) == []


def test_container_restart_is_healed_by_a_rerun(fabric):
    lab = fabric.lab
    assert fabric.first[0] == 0
    h = lab.hosts[-1]
    lab.sh(h, 'docker restart -t 0 %s' % fabric.container)
    # the restarted container has a new namespace with only lo: the fabric's interface stayed in the old one
    links = fabric.in_container(h, 'ip -o link show')
    assert [ln.split(':')[1].strip() for ln in links.splitlines()] == ['lo'], links
    # check mode predicts it: the name moves, and the veth it cannot plan is named
    rc, data = fabric.run('--check', '--diff')
    assert rc == 0, failures(data)
    predicted = changed(data)
    assert predicted == ['%s: hostnet.fabric.vxlan_fabric : Workload namespaces (a container\'s namespace is named, so '
                         'that the veth can be put into it)' % h], predicted
    notes = [r.get('msg') for p in data['plays'] for t in p['tasks'] for host, r in t['hosts'].items()
             if host == h and t['task']['name'].endswith('what depends on objects that do not exist yet cannot be planned')]
    assert notes and 'hfw-%s' % fabric.workload in notes[0], notes
    rc, data = fabric.run()
    assert rc == 0, failures(data)
    assert changed(data) == sorted([
        "%s: hostnet.fabric.vxlan_fabric : Workload namespaces (a container's namespace is named, so that the veth "
        "can be put into it)" % h,
        "%s: hostnet.fabric.vxlan_fabric : Workloads plugged into their segment's bridge (address, MAC from the "
        "address, default route via the host)" % h]), changed(data)
    fabric_checks.containers_and_hosts_reach_each_other(lab)
    # only the container's namespace and its veth pair were made again; nothing is left of the old ones
    assert lab.out(h, 'ip -o link show type veth | grep -c "hfw-%s"' % fabric.workload) == '1'


# ------------------------------------------------------------------ a drifted Docker network (issue 9)

ROLE = 'hostnet.fabric.vxlan_fabric : '
BRIDGE_TASK = ROLE + "Bridge per segment, with the host's own address on it (the segment's gateway on this host)"
VXLAN_TASK = ROLE + 'VXLAN device per segment with the whole flood list, static FDB and neighbour entries'
REPORT_TASK = ROLE + 'Report Docker networks that differ from the plan (left as they are unless vxlan_fabric_docker_recreate)'
OFF_TASK = ROLE + 'Take the containers off each network that is recreated, remembering their endpoints'
NET_TASK = ROLE + "Docker bridge network per docker segment, on the segment's bridge (this host's block as its ip_range)"
BACK_TASK = ROLE + 'Connect the containers again to the recreated networks (with their addresses where they fit the new ip_range)'


def drift_run(fabric, tmp_path, segments, *args, recreate=None):
    """The fabric's play with other segments (and vxlan_fabric_docker_recreate when given)."""
    data = play()
    role_vars = data[0]['roles'][0]['vars']
    role_vars['vxlan_fabric_segments'] = segments
    if recreate is not None:
        role_vars['vxlan_fabric_docker_recreate'] = recreate
    path = tmp_path / ('drift-%s.yml' % uuid.uuid4().hex[:6])
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return fabric.lab.playbook(path, *args)


def drift_reports(data):
    """host -> the messages of the role's drift report task."""
    out = {}
    for p in data['plays']:
        for t in p['tasks']:
            if t['task']['name'] == REPORT_TASK:
                for h, r in t['hosts'].items():
                    msgs = [i['msg'] for i in r.get('results') or [] if 'msg' in i]
                    if msgs:
                        out.setdefault(h, []).extend(msgs)
    return out


def docker_state(fabric, h, container):
    """The docker segment's network on H (id, MTU option, IPAM) and CONTAINER's endpoint on it."""
    lab = fabric.lab
    net = json.loads(lab.out(h, 'docker network inspect %s' % fabric.docker_segment['name']))[0]
    ep = json.loads(lab.out(h, 'docker inspect %s' % container))[0]['NetworkSettings']['Networks'].get(
        fabric.docker_segment['name']) or {}
    return {'id': net['Id'], 'mtu': net['Options']['com.docker.network.driver.mtu'], 'ipam': net['IPAM']['Config'],
            'endpoint': ep.get('EndpointID'), 'address': ep.get('IPAddress'),
            # its only interface besides lo (a reconnect names it anew: eth0 becomes eth1)
            'ifmtu': lab.out(h, 'docker exec %s sh -c "cat /sys/class/net/eth*/mtu"' % container)}


def test_a_drifted_docker_network_is_reported_and_recreated_only_when_asked(fabric, tmp_path):
    lab = fabric.lab
    assert fabric.first[0] == 0
    ctr = 'dd%s' % uuid.uuid4().hex[:6]
    for h in lab.hosts:   # labelled: the fixture removes them at the end
        lab.sh(h, 'docker run -d --name %s --label %s --network %s %s sleep 100000'
                  % (ctr, TEST_LABEL, fabric.docker_segment['name'], fabric.probe))
    before = {h: docker_state(fabric, h, ctr) for h in lab.hosts}
    old_mtu = int(before[lab.hosts[0]]['mtu'])
    new_mtu = old_mtu - 50
    segments = fabric.lab.inventory_data['all']['vars']['vxlan_fabric_segments']
    drifted = [dict(seg, mtu=new_mtu) if seg.get('docker') else seg for seg in segments]

    # 1. the segment's MTU changes: the bridge and the VXLAN device follow, the Docker network is reported, untouched
    rc, data = drift_run(fabric, tmp_path, drifted)
    assert rc == 0, failures(data)
    assert changed(data) == sorted('%s: %s' % (h, t) for h in lab.hosts for t in (BRIDGE_TASK, VXLAN_TASK)), changed(data)
    reports = drift_reports(data)
    for h in lab.hosts:
        assert len(reports.get(h, [])) == 1, (h, reports)
        msg = reports[h][0]
        assert msg.startswith('DRIFT: %s: Docker network %s differs from the plan: mtu %d -> %d. It was NOT recreated '
                              '(recreating it disconnects its containers: ' % (h, fabric.docker_segment['name'], old_mtu,
                                                                               new_mtu)), msg
        assert '%s (%s)' % (ctr, before[h]['address']) in msg, msg
        assert 'set vxlan_fabric_docker_recreate=true to recreate it' in msg, msg
        assert docker_state(fabric, h, ctr) == before[h], h    # same network, same endpoint, same MTU
        assert json.loads(lab.out(h, 'ip -j link show hfbr%d' % fabric.docker_segment['vni']))[0]['mtu'] == new_mtu

    # 2. check mode with vxlan_fabric_docker_recreate predicts the recreate and changes nothing
    rc, data = drift_run(fabric, tmp_path, drifted, '--check', '--diff', recreate=True)
    assert rc == 0, failures(data)
    assert changed(data) == sorted('%s: %s' % (h, t) for h in lab.hosts for t in (OFF_TASK, NET_TASK)), changed(data)
    predicted = drift_reports(data)
    for h in lab.hosts:
        assert docker_state(fabric, h, ctr) == before[h], h

    # 3. recreated with the new MTU; its containers are connected again with their addresses
    rc, data = drift_run(fabric, tmp_path, drifted, recreate=True)
    assert rc == 0, failures(data)
    assert changed(data) == sorted('%s: %s' % (h, t) for h in lab.hosts for t in (OFF_TASK, NET_TASK, BACK_TASK)), \
        changed(data)
    assert drift_reports(data) == predicted
    for h in lab.hosts:
        assert '%s (%s)' % (ctr, before[h]['address']) in predicted[h][0], predicted[h]
        now = docker_state(fabric, h, ctr)
        assert now['id'] != before[h]['id'] and now['mtu'] == str(new_mtu) and now['ipam'] == before[h]['ipam'], now
        assert now['address'] == before[h]['address'] and now['endpoint'], now
        assert now['ifmtu'] == str(new_mtu), now
    for h in lab.hosts:
        for other in lab.hosts:
            if other != h:
                lab.sh(h, 'docker exec %s ping -c 1 -W 2 %s' % (ctr, before[other]['address']))

    # 4. back to the original segments: recreated again with the original MTU, then a converged fabric
    rc, data = drift_run(fabric, tmp_path, segments, recreate=True)
    assert rc == 0, failures(data)
    for h in lab.hosts:
        now = docker_state(fabric, h, ctr)
        assert now['mtu'] == str(old_mtu) and now['address'] == before[h]['address'], now
    rc, data = fabric.run()
    assert rc == 0, failures(data)
    assert changed(data) == [] and drift_reports(data) == {}
