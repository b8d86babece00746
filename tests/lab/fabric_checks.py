"""Checks of the native VXLAN fabric on the lab, one copy for the tests that build it: test_fabric (the role alone),
test_site (site.yml) and test_fabric_firewall. Each reads the hosts' real state and fails naming the host.

What the fabric should be is read from the lab's inventory (scripts/lab.sh): the container workload (the lab's
`--network none` container), its address, the docker segment, each host's gateway on a segment.

VXLAN frames on the underlay: a lab host sends a VXLAN frame (tests/vxlan_frames.py) from a given source address to
another host's VTEP; the receiver's VXLAN device shows which frames it decapsulated. A source that is no fabric
host's underlay address is a second address on the sender's underlay interface (a spoofing sender)."""
import ipaddress
import json
import sys
import uuid

from conftest import REPO

sys.path.insert(0, str(REPO / 'tests'))
import vxlan_frames  # noqa: E402  (tests/vxlan_frames.py: the frames' sender, listener and its protocol)

LABEL = 'hostnet.fabric.vxlan_fabric.segment'   # the role's label on the Docker networks it makes
FRAMES = REPO / 'tests' / 'vxlan_frames.py'
REMOTE_FRAMES = '/root/hostnet-vxlan-frames.py'  # not /tmp: a tmpfs that `docker cp` cannot see
TABLE = 'hostnet_fabric'                         # the role's default vxlan_fabric_firewall_table


def install(lab):
    """Put the frames' sender and listener on every lab host."""
    for h in lab.hosts:
        lab.docker('exec', '-i', h, 'sh', '-c', 'cat > %s' % REMOTE_FRAMES, stdin=FRAMES.read_text())


def uninstall(lab):
    for h in lab.hosts:
        lab.sh(h, 'rm -f %s' % REMOTE_FRAMES, check=False)


def delivered(lab, receiver, senders, vni):
    """Markers of the VXLAN frames that RECEIVER's VXLAN device of ``vni`` decapsulated.
    ``senders``: [(host, source address, marker)]."""
    dst = lab.hostvars(receiver)['hostnet_underlay_ip']

    def send_all():
        for host, src, marker in senders:
            lab.sh(host, 'python3 %s send %s %s %d %s' % (REMOTE_FRAMES, src, dst, vni, marker))
    return vxlan_frames.delivered(['docker', '-H', lab.docker_host, 'exec', '-i', receiver, 'python3', REMOTE_FRAMES,
                                   'listen', 'hfvx%d' % vni], send_all, timeout=60)


def counters(lab, host):
    """{counter name: packets} of the firewall's table on ``host``."""
    data = json.loads(lab.out(host, 'nft -j list counters table inet %s' % TABLE))
    return dict((c['counter']['name'], c['counter']['packets']) for c in data['nftables'] if 'counter' in c)


def peers(lab, host):
    """The underlay addresses the firewall of ``host`` accepts VXLAN from (its set peers_v4)."""
    data = json.loads(lab.out(host, 'nft -j list set inet %s peers_v4' % TABLE))
    return sorted([x['set'] for x in data['nftables'] if 'set' in x][0].get('elem', []))


def spare_address(lab):
    """An underlay address no lab host has (the lab's hosts are .11, .12, ...)."""
    taken = set(lab.hostvars(h)['hostnet_underlay_ip'] for h in lab.hosts)
    base = lab.hostvars(lab.hosts[0])['hostnet_underlay_ip'].rsplit('.', 1)[0]
    return next('%s.%d' % (base, n) for n in range(250, 200, -1) if '%s.%d' % (base, n) not in taken)


def mac_for(ip):
    """The MAC the fabric (and Docker, for its bridge endpoints) derives from an IPv4 address."""
    return '02:42:' + ':'.join('%02x' % b for b in ipaddress.IPv4Address(ip).packed)


class Wanted:
    """What the lab inventory asks of the fabric."""

    def __init__(self, lab):
        self.lab = lab
        inv = lab.inventory_data['all']['vars']
        self.container = inv['hostnet_workload_container']
        self.probe = inv.get('hostnet_probe_image', 'hostnet/probe:latest')
        self.docker_segment = [s for s in inv['vxlan_fabric_segments'] if s.get('docker')][0]
        self.segment = [s for s in inv['vxlan_fabric_segments'] if not s.get('docker')][0]
        self.workload = self._container_workload(lab.hosts[0])['name']

    def _container_workload(self, host):
        return [w for w in self.lab.hostvars(host)['vxlan_fabric_workloads'] if w.get('container') == self.container][0]

    def container_addr(self, host):
        return self._container_workload(host)['address']

    def number(self, host):
        return int(self.lab.hostvars(host)['hostnet_underlay_ip'].split('.')[-1])

    def gateway(self, host, segment=None):
        """HOST's own address on a segment (the role's default numbering: address N of the subnet for host N)."""
        return str(ipaddress.ip_network((segment or self.segment)['subnet'])[self.number(host)])

    def in_container(self, host, command):
        return self.lab.out(host, 'nsenter -t $(docker inspect -f "{{.State.Pid}}" %s) -n %s' % (self.container, command))


def container_workload_is_plugged_in(lab):
    """Each host's workload container has the fabric's eth0: its address, the MAC from it, the default route via the
    host's gateway."""
    want = Wanted(lab)
    for h in lab.hosts:
        addr = want.container_addr(h)
        eth0 = json.loads(want.in_container(h, 'ip -j addr show dev eth0'))[0]
        assert [a['local'] for a in eth0['addr_info'] if a['family'] == 'inet'] == [addr], (h, eth0)
        assert eth0['address'] == mac_for(addr), (h, eth0['address'])
        route = want.in_container(h, 'ip route show default')
        assert route.startswith('default via %s dev eth0' % want.gateway(h)), (h, route)


def containers_and_hosts_reach_each_other(lab, hosts=None):
    """Each workload container pings every other host's, and each host pings every other host's container."""
    want = Wanted(lab)
    hosts = hosts or lab.hosts
    for h in hosts:
        for other in lab.hosts:
            if other != h:
                lab.sh(h, 'docker exec %s ping -c 1 -W 2 %s' % (want.container, want.container_addr(other)))
                lab.sh(h, 'ping -c 1 -W 2 %s' % want.container_addr(other))


def docker_network_on_every_host(lab):
    """The docker segment's Docker network on every host: a local bridge network on the segment's bridge, its MTU,
    the host's block as ip_range, the host's gateway, the role's label."""
    want = Wanted(lab)
    seg = want.docker_segment
    subnet = ipaddress.ip_network(seg['subnet'])
    for h in lab.hosts:
        number = want.number(h)
        net = json.loads(lab.out(h, 'docker network inspect %s' % seg['name']))[0]
        assert net['Driver'] == 'bridge' and net['Scope'] == 'local', (h, net)
        assert net['Options']['com.docker.network.bridge.name'] == 'hfbr%d' % seg['vni'], (h, net['Options'])
        mtu = json.loads(lab.out(h, 'ip -j link show hfvx%d' % seg['vni']))[0]['mtu']
        assert net['Options']['com.docker.network.driver.mtu'] == str(mtu), (h, net['Options'])
        assert net['IPAM']['Config'] == [{'Subnet': str(subnet), 'IPRange': '%s/28' % subnet[number * 16],
                                          'Gateway': str(subnet[number])}], (h, net['IPAM'])
        assert net['Labels'] == {LABEL: seg['name']}, (h, net['Labels'])


def docker_run_containers_reach_each_other(lab, label):
    """`docker run --network SEGMENT` containers (labelled ``label``, for the caller to remove) on every host reach
    each other, every other host, and every other host's gateway on the segment."""
    want = Wanted(lab)
    seg = want.docker_segment
    name = 'dk%s' % uuid.uuid4().hex[:6]
    addrs = {}
    for h in lab.hosts:
        lab.sh(h, 'docker run -d --name %s --label %s --network %s %s sleep 600' % (name, label, seg['name'], want.probe))
        ep = json.loads(lab.out(h, 'docker inspect %s' % name))[0]['NetworkSettings']['Networks'][seg['name']]
        addrs[h] = ep['IPAddress']
        # what the static FDB and neighbour entries of the other hosts rest on (docs/fabric.md, "MACs and learning")
        assert ep['MacAddress'] == mac_for(ep['IPAddress']), (h, lab.engine_series, ep)
    for h in lab.hosts:
        for other, addr in addrs.items():
            if other != h:
                lab.sh(h, 'docker exec %s ping -c 1 -W 2 %s' % (name, addr))     # container to remote container
                lab.sh(h, 'ping -c 1 -W 2 %s' % addr)                            # host to remote container
                # container to the other host's own address on the segment
                lab.sh(h, 'docker exec %s ping -c 1 -W 2 %s' % (name, want.gateway(other, seg)))


def spoofed_vxlan_is_dropped(lab, receiver, sender):
    """With the firewall on: a VXLAN frame from an address that is no fabric host's, sent on SENDER's underlay
    interface, is dropped by RECEIVER's table and counted (others_dropped), while the same frame from SENDER's own
    underlay address is decapsulated. Returns (counters before, after)."""
    vni = Wanted(lab).segment['vni']
    own = lab.hostvars(sender)['hostnet_underlay_ip']
    iface = lab.hostvars(sender)['hostnet_underlay_iface']
    spoofed = spare_address(lab)
    lab.sh(sender, 'ip addr add %s/32 dev %s' % (spoofed, iface))
    try:
        was = counters(lab, receiver)
        got = delivered(lab, receiver, [(sender, spoofed, 'spoofed'), (sender, own, 'peer')], vni)
        now = counters(lab, receiver)
    finally:
        lab.sh(sender, 'ip addr del %s/32 dev %s' % (spoofed, iface), check=False)
    print('%s counters before and after: %s -> %s' % (receiver, was, now))
    assert got == ['peer'], (receiver, got)
    assert now['others_dropped'] - was['others_dropped'] == 1, (receiver, was, now)
    assert now['peers_accepted'] - was['peers_accepted'] >= 1, (receiver, was, now)
    return was, now
