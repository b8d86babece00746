"""The vxlan_fabric role with vxlan_fabric_firewall on the lab (Debian 12 and 13): the role's own ping matrix
passes with the firewall on (peers work), and a VXLAN packet sent on the underlay from an address that is no
fabric host's (a second address on one lab host's underlay interface: a spoofing sender) is dropped and counted by
the table's others_dropped counter, while the same packet from that host's own underlay address gets through.
Without the firewall the same non-peer packet is decapsulated (the frame is valid; the firewall is what drops it).
The role is removed again at the end (vxlan_fabric_state: absent), so the lab is left as the test found it."""
import json
import sys

import pytest
import yaml

from conftest import REPO

sys.path.insert(0, str(REPO / 'tests'))
import vxlan_frames  # noqa: E402  (tests/vxlan_frames.py: the frames' sender, listener and its protocol)

FRAMES = REPO / 'tests' / 'vxlan_frames.py'
REMOTE_FRAMES = '/root/hostnet-vxlan-frames.py'  # not /tmp: a tmpfs that `docker cp` cannot see
TABLE = 'hostnet_fabric'
VNI = 4242  # the lab inventory's segment (scripts/lab.sh)
FIREWALL_TASK = "Firewall (nftables) - VXLAN only from the other fabric hosts' underlay addresses"
PLAY = [{'name': 'fabric', 'hosts': 'fabric_hosts', 'gather_facts': False,
         'roles': [{'role': 'hostnet.fabric.vxlan_fabric'}]}]


def failures(data):
    return ['%s: %s: %s' % (h, t['task']['name'], r.get('msg')) for p in (data or {}).get('plays', [])
            for t in p['tasks'] for h, r in t['hosts'].items() if r.get('failed') and not r.get('ignore_errors')]


def changed_tasks(data):
    return sorted(set('%s: %s' % (h, t['task']['name'].split(' : ', 1)[-1]) for p in data['plays']
                      for t in p['tasks'] for h, r in t['hosts'].items() if r.get('changed')))


def delivered(lab, receiver, senders):
    """Markers of the VXLAN frames that RECEIVER's VXLAN device decapsulated. ``senders``: [(host, source, marker)]."""
    dst = lab.hostvars(receiver)['hostnet_underlay_ip']

    def send_all():
        for host, src, marker in senders:
            lab.sh(host, 'python3 %s send %s %s %d %s' % (REMOTE_FRAMES, src, dst, VNI, marker))
    return vxlan_frames.delivered(['docker', '-H', lab.docker_host, 'exec', '-i', receiver, 'python3', REMOTE_FRAMES,
                                   'listen', 'hfvx%d' % VNI], send_all, timeout=60)


def counters(lab, host):
    data = json.loads(lab.out(host, 'nft -j list counters table inet %s' % TABLE))
    return dict((c['counter']['name'], c['counter']['packets']) for c in data['nftables'] if 'counter' in c)


def spare_address(lab):
    """An underlay address no lab host has (the lab's hosts are .11, .12, ...)."""
    taken = set(lab.hostvars(h)['hostnet_underlay_ip'] for h in lab.hosts)
    base = lab.hostvars(lab.hosts[0])['hostnet_underlay_ip'].rsplit('.', 1)[0]
    return next('%s.%d' % (base, n) for n in range(250, 200, -1) if '%s.%d' % (base, n) not in taken)


@pytest.fixture
def fabric_play(lab, tmp_path):
    path = tmp_path / 'fabric.yml'
    path.write_text(yaml.safe_dump(PLAY, sort_keys=False))
    for h in lab.hosts:
        lab.docker('exec', '-i', h, 'sh', '-c', 'cat > %s' % REMOTE_FRAMES, stdin=FRAMES.read_text())
    yield path
    # leave the lab as it was: the fabric and the table go, and so does the helper script
    rc, data = lab.playbook(path, extra_vars={'vxlan_fabric_state': 'absent', 'vxlan_fabric_firewall': True})
    for h in lab.hosts:
        lab.sh(h, 'rm -f %s' % REMOTE_FRAMES, check=False)
    assert rc == 0, failures(data)
    for h in lab.hosts:
        assert TABLE not in lab.out(h, 'nft list tables'), h
        assert 'hostnet.fabric vxlan_firewall' not in lab.out(h, 'iptables -w 5 -S; ip6tables -w 5 -S'), h


def test_firewall_drops_non_peers_and_keeps_the_fabric(lab, fabric_play):
    assert len(lab.group('fabric_hosts')) >= 2, 'the firewall test needs two fabric hosts'
    receiver, sender = lab.hosts[0], lab.hosts[1]
    own = lab.hostvars(sender)['hostnet_underlay_ip']
    iface = lab.hostvars(sender)['hostnet_underlay_iface']
    spoofed = spare_address(lab)
    on = {'vxlan_fabric_firewall': True}

    rc, data = lab.playbook(fabric_play)
    assert rc == 0, failures(data)
    lab.sh(sender, 'ip addr add %s/32 dev %s' % (spoofed, iface))
    try:
        # no firewall: a VXLAN packet from the spoofed address is decapsulated like the peer's own
        assert delivered(lab, receiver, [(sender, spoofed, 'spoofed-0'), (sender, own, 'peer-0')]) == \
            ['peer-0', 'spoofed-0']

        # check mode predicts the firewall on every host, and nothing else, and makes no table
        rc, data = lab.playbook(fabric_play, '--check', '--diff', extra_vars=on)
        assert rc == 0, failures(data)
        everywhere = ['%s: %s' % (h, FIREWALL_TASK) for h in lab.group('fabric_hosts')]
        assert changed_tasks(data) == everywhere
        assert all(TABLE not in lab.out(h, 'nft list tables') for h in lab.hosts)

        # the firewall on: the role's own matrix (verify) passes, so the peers still work
        rc, data = lab.playbook(fabric_play, extra_vars=on)
        assert rc == 0, failures(data)
        assert changed_tasks(data) == everywhere
        matrices = [item['msg'] for p in data['plays'] for t in p['tasks'] if 'Reachability' in t['task']['name']
                    for r in t['hosts'].values() for item in r.get('results', [])]
        assert matrices and all('all ok' in m[0] for m in matrices), matrices
        peers = json.loads(lab.out(receiver, 'nft -j list set inet %s peers_v4' % TABLE))
        elems = [x['set'] for x in peers['nftables'] if 'set' in x][0].get('elem', [])
        assert sorted(elems) == sorted(lab.hostvars(h)['hostnet_underlay_ip'] for h in lab.group('fabric_hosts')
                                       if h != receiver)

        # the spoofed sender's packet is dropped and counted; the peer's own still gets through
        was = counters(lab, receiver)
        assert was['peers_accepted'] > 0, was  # the matrix's pings crossed it
        assert delivered(lab, receiver, [(sender, spoofed, 'spoofed-1'), (sender, own, 'peer-1')]) == ['peer-1']
        now = counters(lab, receiver)
        print('%s counters before and after: %s -> %s' % (receiver, was, now))
        assert now['others_dropped'] - was['others_dropped'] == 1, (was, now)
        assert now['peers_accepted'] - was['peers_accepted'] >= 1, (was, now)
    finally:
        lab.sh(sender, 'ip addr del %s/32 dev %s' % (spoofed, iface), check=False)

    # converged: a second run changes nothing
    rc, data = lab.playbook(fabric_play, extra_vars=on)
    assert rc == 0, failures(data)
    assert changed_tasks(data) == []
