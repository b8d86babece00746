"""The native VXLAN fabric role (hostnet.fabric.vxlan_fabric) on the lab's real hosts and Docker engines
(Engine 20.10 on Debian 12, 26.1 on Debian 13): a container workload (a `--network none` container the role
plugs in) and a `docker: true` segment (a local Docker bridge network per host on the segment's bridge).

The role runs on the lab inventory with the inventory's segment plus a docker segment, and each host's own
workload namespace plus a container workload. Assertions read the hosts' real state. At the end the role's
`vxlan_fabric_state: absent` removes all of it (the docker networks too), so that the other lab tests of the
session (test_site's dry run on a fresh lab) find the hosts as before."""
import ipaddress
import json
import uuid

import pytest
import yaml

CONTAINER = 'hfctr'           # the --network none container each host gets as a workload
DOCKER_SEGMENT = {'name': 'hfdk', 'vni': 4300, 'subnet': '10.60.0.0/24', 'docker': True}
LABEL = 'hostnet.fabric.vxlan_fabric.segment'

# the inventory's segment and workload namespace (scripts/lab.sh), plus a container workload per host; host number
# N = the last byte of the underlay address (the role's default), the container gets address N*16+2 of the segment
SEGMENTS = [{'name': 'fabric', 'vni': 4242, 'subnet': '10.42.0.0/24'}, DOCKER_SEGMENT]
WORKLOADS = ("{{ [{'name': 'work', 'segment': 'fabric', 'address': '10.42.0.%%d' %% (__n * 16 + 1)}, "
             "{'name': 'ctr', 'segment': 'fabric', 'address': '10.42.0.%%d' %% (__n * 16 + 2), 'container': '%s'}] }}"
             % CONTAINER)


def play(state='present'):
    return [{
        'name': 'Native VXLAN fabric with a container workload and a docker segment',
        'hosts': 'fabric_hosts', 'gather_facts': False,
        'vars': {'__n': "{{ hostnet_underlay_ip.split('.')[-1] | int }}"},
        'roles': [{'role': 'hostnet.fabric.vxlan_fabric', 'vars': {
            'vxlan_fabric_state': state, 'vxlan_fabric_segments': SEGMENTS, 'vxlan_fabric_workloads': WORKLOADS}}],
    }]


def failures(data):
    return ['%s: %s: %s' % (h, t['task']['name'], r.get('msg')) for p in (data or {}).get('plays', [])
            for t in p['tasks'] for h, r in t['hosts'].items() if r.get('failed') and not r.get('ignore_errors')]


def changed(data):
    return sorted(set('%s: %s' % (h, t['task']['name']) for p in data['plays'] for t in p['tasks']
                      for h, r in t['hosts'].items() if r.get('changed')))


def mac_for(ip):
    return '02:42:' + ':'.join('%02x' % b for b in ipaddress.IPv4Address(ip).packed)


class Fabric:
    def __init__(self, lab, path):
        self.lab = lab
        self.path = path
        self.first = None

    def run(self, *args):
        return self.lab.playbook(self.path, *args)

    def container_addr(self, host):
        return '10.42.0.%d' % (int(self.lab.hostvars(host)['hostnet_underlay_ip'].split('.')[-1]) * 16 + 2)

    def gateway(self, host, subnet='10.42.0.0/24'):
        return str(ipaddress.ip_network(subnet)[int(self.lab.hostvars(host)['hostnet_underlay_ip'].split('.')[-1])])


def probe(lab):
    return lab.inventory_data['all']['vars'].get('hostnet_probe_image', 'hostnet/probe:latest')


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
    for h in lab.hosts:
        lab.sh(h, 'docker rm -f %s >/dev/null 2>&1; docker run -d --name %s --network none %s sleep 100000'
                  % (CONTAINER, CONTAINER, probe(lab)))
    fab = Fabric(lab, path)
    fab.first = fab.run()
    try:
        yield fab
    finally:
        rc, data = lab.playbook(absent)
        for h in lab.hosts:
            lab.sh(h, 'docker rm -f %s >/dev/null 2>&1; docker ps -aq --filter label=hostnet.test=fabric '
                      '| xargs -r docker rm -f >/dev/null; true' % CONTAINER, check=False)
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
    lab = fabric.lab
    assert fabric.first[0] == 0
    for h in lab.hosts:
        addr = fabric.container_addr(h)
        eth0 = json.loads(lab.out(h, 'nsenter -t $(docker inspect -f "{{.State.Pid}}" %s) -n ip -j addr show dev eth0'
                                     % CONTAINER))[0]
        assert [a['local'] for a in eth0['addr_info'] if a['family'] == 'inet'] == [addr], (h, eth0)
        assert eth0['address'] == mac_for(addr), (h, eth0['address'])
        route = lab.out(h, 'nsenter -t $(docker inspect -f "{{.State.Pid}}" %s) -n ip route show default' % CONTAINER)
        assert route.startswith('default via %s dev eth0' % fabric.gateway(h)), (h, route)


def test_containers_and_hosts_reach_each_other(fabric):
    lab = fabric.lab
    assert fabric.first[0] == 0
    for h in lab.hosts:
        for other in lab.hosts:
            if other != h:
                lab.sh(h, 'docker exec %s ping -c 1 -W 2 %s' % (CONTAINER, fabric.container_addr(other)))
                lab.sh(h, 'ping -c 1 -W 2 %s' % fabric.container_addr(other))


def test_docker_network_on_every_host(fabric):
    lab = fabric.lab
    assert fabric.first[0] == 0
    for h in lab.hosts:
        number = int(lab.hostvars(h)['hostnet_underlay_ip'].split('.')[-1])
        net = json.loads(lab.out(h, 'docker network inspect %s' % DOCKER_SEGMENT['name']))[0]
        assert net['Driver'] == 'bridge' and net['Scope'] == 'local', (h, net)
        assert net['Options']['com.docker.network.bridge.name'] == 'hfbr4300', (h, net['Options'])
        mtu = json.loads(lab.out(h, 'ip -j link show hfvx4300'))[0]['mtu']
        assert net['Options']['com.docker.network.driver.mtu'] == str(mtu), (h, net['Options'])
        assert net['IPAM']['Config'] == [{'Subnet': '10.60.0.0/24', 'IPRange': '10.60.0.%d/28' % (number * 16),
                                          'Gateway': '10.60.0.%d' % number}], (h, net['IPAM'])
        assert net['Labels'] == {LABEL: DOCKER_SEGMENT['name']}, (h, net['Labels'])


def test_docker_run_containers_on_different_hosts_reach_each_other(fabric):
    lab = fabric.lab
    assert fabric.first[0] == 0
    tag = uuid.uuid4().hex[:6]
    addrs = {}
    for h in lab.hosts:
        name = 'dk%s' % tag
        lab.sh(h, 'docker run -d --name %s --label hostnet.test=fabric --network %s %s sleep 600'
                  % (name, DOCKER_SEGMENT['name'], probe(lab)))
        ep = json.loads(lab.out(h, 'docker inspect %s' % name))[0]['NetworkSettings']['Networks'][DOCKER_SEGMENT['name']]
        addrs[h] = (name, ep['IPAddress'])
        # what the static FDB and neighbour entries of the other hosts rest on (docs/fabric.md, "MACs and learning")
        assert ep['MacAddress'] == mac_for(ep['IPAddress']), (h, lab.engine_series, ep)
    for h, (name, _addr) in addrs.items():
        for other, (_name, addr) in addrs.items():
            if other != h:
                lab.sh(h, 'docker exec %s ping -c 1 -W 2 %s' % (name, addr))     # container to remote container
                lab.sh(h, 'ping -c 1 -W 2 %s' % addr)                            # host to remote container
                # container to the other host's own address on the segment
                lab.sh(h, 'docker exec %s ping -c 1 -W 2 %s' % (name, fabric.gateway(other, DOCKER_SEGMENT['subnet'])))


def test_second_run_changes_nothing(fabric):
    assert fabric.first[0] == 0
    rc, data = fabric.run()
    assert rc == 0, failures(data)
    assert changed(data) == []


def test_container_restart_is_healed_by_a_rerun(fabric):
    lab = fabric.lab
    assert fabric.first[0] == 0
    h = lab.hosts[-1]
    lab.sh(h, 'docker restart -t 0 %s' % CONTAINER)
    # the restarted container has a new namespace with only lo: the fabric's interface stayed in the old one
    links = lab.out(h, 'nsenter -t $(docker inspect -f "{{.State.Pid}}" %s) -n ip -o link show' % CONTAINER)
    assert [ln.split(':')[1].strip() for ln in links.splitlines()] == ['lo'], links
    # check mode predicts it: the name moves, and the veth it cannot plan is named
    rc, data = fabric.run('--check', '--diff')
    assert rc == 0, failures(data)
    predicted = changed(data)
    assert predicted == ['%s: hostnet.fabric.vxlan_fabric : Workload namespaces (a container\'s namespace is named, so '
                         'that the veth can be put into it)' % h], predicted
    notes = [r.get('msg') for p in data['plays'] for t in p['tasks'] for host, r in t['hosts'].items()
             if host == h and t['task']['name'].endswith('what depends on objects that do not exist yet cannot be planned')]
    assert notes and 'hfw-ctr' in notes[0], notes
    rc, data = fabric.run()
    assert rc == 0, failures(data)
    assert changed(data) == sorted([
        "%s: hostnet.fabric.vxlan_fabric : Workload namespaces (a container's namespace is named, so that the veth "
        "can be put into it)" % h,
        "%s: hostnet.fabric.vxlan_fabric : Workloads plugged into their segment's bridge (address, MAC from the "
        "address, default route via the host)" % h]), changed(data)
    for other in lab.hosts:
        if other != h:
            lab.sh(h, 'docker exec %s ping -c 1 -W 2 %s' % (CONTAINER, fabric.container_addr(other)))
            lab.sh(other, 'docker exec %s ping -c 1 -W 2 %s' % (CONTAINER, fabric.container_addr(h)))
    # only the container's namespace and its veth pair were made again; nothing is left of the old ones
    assert lab.out(h, 'ip -o link show type veth | grep -c "hfw-ctr"') == '1'


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


def docker_state(lab, h, container):
    """The docker segment's network on H (id, MTU option, IPAM) and CONTAINER's endpoint on it."""
    net = json.loads(lab.out(h, 'docker network inspect %s' % DOCKER_SEGMENT['name']))[0]
    ep = json.loads(lab.out(h, 'docker inspect %s' % container))[0]['NetworkSettings']['Networks'].get(
        DOCKER_SEGMENT['name']) or {}
    return {'id': net['Id'], 'mtu': net['Options']['com.docker.network.driver.mtu'], 'ipam': net['IPAM']['Config'],
            'endpoint': ep.get('EndpointID'), 'address': ep.get('IPAddress'),
            # its only interface besides lo (a reconnect names it anew: eth0 becomes eth1)
            'ifmtu': lab.out(h, 'docker exec %s sh -c "cat /sys/class/net/eth*/mtu"' % container)}


def test_a_drifted_docker_network_is_reported_and_recreated_only_when_asked(fabric, tmp_path):
    lab = fabric.lab
    assert fabric.first[0] == 0
    ctr = 'dd%s' % uuid.uuid4().hex[:6]
    for h in lab.hosts:   # labelled: the fixture removes them at the end
        lab.sh(h, 'docker run -d --name %s --label hostnet.test=fabric --network %s %s sleep 100000'
                  % (ctr, DOCKER_SEGMENT['name'], probe(lab)))
    before = {h: docker_state(lab, h, ctr) for h in lab.hosts}
    old_mtu = int(before[lab.hosts[0]]['mtu'])
    new_mtu = old_mtu - 50
    drifted = [SEGMENTS[0], dict(DOCKER_SEGMENT, mtu=new_mtu)]

    # 1. the segment's MTU changes: the bridge and the VXLAN device follow, the Docker network is reported, untouched
    rc, data = drift_run(fabric, tmp_path, drifted)
    assert rc == 0, failures(data)
    assert changed(data) == sorted('%s: %s' % (h, t) for h in lab.hosts for t in (BRIDGE_TASK, VXLAN_TASK)), changed(data)
    reports = drift_reports(data)
    for h in lab.hosts:
        assert len(reports.get(h, [])) == 1, (h, reports)
        msg = reports[h][0]
        assert msg.startswith('DRIFT: %s: Docker network %s differs from the plan: mtu %d -> %d. It was NOT recreated '
                              '(recreating it disconnects its containers: ' % (h, DOCKER_SEGMENT['name'], old_mtu,
                                                                               new_mtu)), msg
        assert '%s (%s)' % (ctr, before[h]['address']) in msg, msg
        assert 'set vxlan_fabric_docker_recreate=true to recreate it' in msg, msg
        assert docker_state(lab, h, ctr) == before[h], h    # same network, same endpoint, same MTU
        assert json.loads(lab.out(h, 'ip -j link show hfbr4300'))[0]['mtu'] == new_mtu

    # 2. check mode with vxlan_fabric_docker_recreate predicts the recreate and changes nothing
    rc, data = drift_run(fabric, tmp_path, drifted, '--check', '--diff', recreate=True)
    assert rc == 0, failures(data)
    assert changed(data) == sorted('%s: %s' % (h, t) for h in lab.hosts for t in (OFF_TASK, NET_TASK)), changed(data)
    predicted = drift_reports(data)
    for h in lab.hosts:
        assert docker_state(lab, h, ctr) == before[h], h

    # 3. recreated with the new MTU; its containers are connected again with their addresses
    rc, data = drift_run(fabric, tmp_path, drifted, recreate=True)
    assert rc == 0, failures(data)
    assert changed(data) == sorted('%s: %s' % (h, t) for h in lab.hosts for t in (OFF_TASK, NET_TASK, BACK_TASK)), \
        changed(data)
    assert drift_reports(data) == predicted
    for h in lab.hosts:
        assert '%s (%s)' % (ctr, before[h]['address']) in predicted[h][0], predicted[h]
        now = docker_state(lab, h, ctr)
        assert now['id'] != before[h]['id'] and now['mtu'] == str(new_mtu) and now['ipam'] == before[h]['ipam'], now
        assert now['address'] == before[h]['address'] and now['endpoint'], now
        assert now['ifmtu'] == str(new_mtu), now
    for h in lab.hosts:
        for other in lab.hosts:
            if other != h:
                lab.sh(h, 'docker exec %s ping -c 1 -W 2 %s' % (ctr, before[other]['address']))

    # 4. back to the original segments: recreated again with the original MTU, then a converged fabric
    rc, data = drift_run(fabric, tmp_path, SEGMENTS, recreate=True)
    assert rc == 0, failures(data)
    for h in lab.hosts:
        now = docker_state(lab, h, ctr)
        assert now['mtu'] == str(old_mtu) and now['address'] == before[h]['address'], now
    rc, data = fabric.run()
    assert rc == 0, failures(data)
    assert changed(data) == [] and drift_reports(data) == {}
