"""The vxlan_fabric role with vxlan_fabric_firewall on the lab (Debian 12 and 13): the role's own ping matrix
passes with the firewall on (peers work), and a VXLAN packet sent on the underlay from an address that is no
fabric host's (a second address on one lab host's underlay interface: a spoofing sender) is dropped and counted by
the table's others_dropped counter, while the same packet from that host's own underlay address gets through.
Without the firewall the same non-peer packet is decapsulated (the frame is valid; the firewall is what drops it).
The role is removed again at the end (vxlan_fabric_state: absent), so the lab is left as the test found it."""
import pytest
import yaml

import fabric_checks
from fabric_checks import TABLE, counters, spare_address

FIREWALL_TASK = "Firewall (nftables) - VXLAN only from the other fabric hosts' underlay addresses"
PLAY = [{'name': 'fabric', 'hosts': 'fabric_hosts', 'gather_facts': False,
         'roles': [{'role': 'hostnet.fabric.vxlan_fabric'}]}]


def failures(data):
    return ['%s: %s: %s' % (h, t['task']['name'], r.get('msg')) for p in (data or {}).get('plays', [])
            for t in p['tasks'] for h, r in t['hosts'].items() if r.get('failed') and not r.get('ignore_errors')]


def changed_tasks(data):
    return sorted(set('%s: %s' % (h, t['task']['name'].split(' : ', 1)[-1]) for p in data['plays']
                      for t in p['tasks'] for h, r in t['hosts'].items() if r.get('changed')))


@pytest.fixture
def fabric_play(lab, tmp_path):
    path = tmp_path / 'fabric.yml'
    path.write_text(yaml.safe_dump(PLAY, sort_keys=False))
    fabric_checks.install(lab)
    yield path
    # leave the lab as it was: the fabric and the table go, and so does the helper script
    rc, data = lab.playbook(path, extra_vars={'vxlan_fabric_state': 'absent', 'vxlan_fabric_firewall': True})
    fabric_checks.uninstall(lab)
    assert rc == 0, failures(data)
    for h in lab.hosts:
        assert TABLE not in lab.out(h, 'nft list tables'), h
        assert 'hostnet.fabric vxlan_firewall' not in lab.out(h, 'iptables -w 5 -S; ip6tables -w 5 -S'), h


def test_firewall_drops_non_peers_and_keeps_the_fabric(lab, fabric_play):
    assert len(lab.group('fabric_hosts')) >= 2, 'the firewall test needs two fabric hosts'
    receiver, sender = lab.hosts[0], lab.hosts[1]
    own = lab.hostvars(sender)['hostnet_underlay_ip']
    iface = lab.hostvars(sender)['hostnet_underlay_iface']
    vni = fabric_checks.Wanted(lab).segment['vni']
    on, off = {'vxlan_fabric_firewall': True}, {'vxlan_fabric_firewall': False}

    rc, data = lab.playbook(fabric_play, extra_vars=off)  # the lab's inventory turns it on
    assert rc == 0, failures(data)
    # no firewall: a VXLAN packet from the spoofed address is decapsulated like the peer's own
    spoofed = spare_address(lab)
    lab.sh(sender, 'ip addr add %s/32 dev %s' % (spoofed, iface))
    try:
        assert fabric_checks.delivered(lab, receiver, [(sender, spoofed, 'spoofed-0'), (sender, own, 'peer-0')],
                                       vni) == ['peer-0', 'spoofed-0']
    finally:
        lab.sh(sender, 'ip addr del %s/32 dev %s' % (spoofed, iface), check=False)

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
    # the workloads' segment: every path ok (the docker segment has no container yet, so nothing to test there)
    seg = fabric_checks.Wanted(lab).segment['name']
    assert [m[0].endswith(', all ok') for m in matrices if m[0].startswith('segment %s ' % seg)] == [True], matrices
    assert fabric_checks.peers(lab, receiver) == sorted(lab.hostvars(h)['hostnet_underlay_ip']
                                                        for h in lab.group('fabric_hosts') if h != receiver)

    # the spoofed sender's packet is dropped and counted; the peer's own still gets through
    assert counters(lab, receiver)['peers_accepted'] > 0  # the matrix's pings crossed it
    fabric_checks.spoofed_vxlan_is_dropped(lab, receiver, sender)

    # converged: a second run changes nothing
    rc, data = lab.playbook(fabric_play, extra_vars=on)
    assert rc == 0, failures(data)
    assert changed_tasks(data) == []
