"""The vxlan module's batched entry path at fleet size (N = 5,000): every entry read back with iproute2,
re-runs are no-ops, and a failure in the middle of a batch leaves nothing of it behind."""
import pytest

from conftest import bridge_json, ip_json, link, sh

N = 5000


def peer(i):
    return '10.%d.%d.%d' % (100 + i // 65536, (i // 256) % 256, i % 256)


def mac(i, prefix='02:00'):
    return '%s:%02x:%02x:%02x:%02x' % (prefix, (i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255)


def overlay_ip(i):
    return '172.%d.%d.%d' % (16 + i // 65536, (i // 256) % 256, i % 256)


PEERS = [peer(i) for i in range(1, N + 1)]
FDB = [{'mac': mac(i), 'dst': peer(i)} for i in range(1, N + 1)]
NEIGH = [{'ip': overlay_ip(i), 'mac': mac(i)} for i in range(1, N + 1)]


@pytest.fixture
def host(make_ns):
    ns = make_ns('bulk')
    sh('ip', '-n', ns, 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u0p')
    sh('ip', '-n', ns, 'addr', 'add', '192.168.60.1/24', 'dev', 'u0')
    sh('ip', '-n', ns, 'link', 'set', 'u0', 'up')
    return ns


def kernel_fdb(ns, dev):
    return set((e['mac'], e['dst']) for e in bridge_json(ns, 'fdb', 'show', 'dev', dev)
               if e.get('dst') and 'permanent' in e.get('state', ''))


def kernel_neigh(ns, dev):
    return set((n['dst'], n['lladdr']) for n in ip_json(ns, 'neigh', 'show', 'dev', dev)
               if 'PERMANENT' in n.get('state', []))


def test_5000_peers_fdb_and_neighbours_every_entry_read_back(ansible, host):
    args = {'name': 'vxb', 'netns': host, 'vni': 77, 'local': '192.168.60.1', 'dev': 'u0',
            'peers': PEERS, 'fdb': FDB, 'neigh': NEIGH}
    res = ansible.play([
        {'name': 'check', 'hostnet.fabric.vxlan': args, 'check_mode': True},
        {'name': 'real', 'hostnet.fabric.vxlan': args},
        {'name': 'again', 'hostnet.fabric.vxlan': args},
    ])
    for r in res:
        assert not r.get('failed'), r.get('msg', '')[:2000]
    check, real, again = res
    assert check['changed'] and real['changed'] and not again['changed']
    assert len(real['actions']) == 3 * N + 2 and check['actions'] == real['actions']
    expected_fdb = set(('00:00:00:00:00:00', p) for p in PEERS) | set((e['mac'], e['dst']) for e in FDB)
    assert kernel_fdb(host, 'vxb') == expected_fdb
    assert kernel_neigh(host, 'vxb') == set((n['ip'], n['mac']) for n in NEIGH)
    # what the module reports is what the kernel holds
    out = real['vxlan']
    assert set(out['peers']) == set(PEERS) and len(out['peers']) == N
    assert set((e['mac'], e['dst']) for e in out['fdb']) == set((e['mac'], e['dst']) for e in FDB)
    assert set((e['ip'], e['mac']) for e in out['neigh']) == set((n['ip'], n['mac']) for n in NEIGH)
    assert again['vxlan'] == out

    # exclusive at size: half of each list replaced in one run
    half = N // 2
    new_peers = PEERS[half:] + [peer(i) for i in range(N + 1, N + half + 1)]
    new_neigh = NEIGH[half:] + [{'ip': overlay_ip(i), 'mac': mac(i, '02:01')} for i in range(1, half + 1)]
    res = ansible.run('vxlan', dict(args, peers=new_peers, fdb=FDB[:half], neigh=new_neigh))
    assert res['changed'] and not res.get('failed'), res.get('msg', '')[:2000]
    assert kernel_fdb(host, 'vxb') == (set(('00:00:00:00:00:00', p) for p in new_peers)
                                       | set((e['mac'], e['dst']) for e in FDB[:half]))
    assert kernel_neigh(host, 'vxb') == set((n['ip'], n['mac']) for n in new_neigh)


def test_failure_in_the_middle_of_a_batch_leaves_nothing_of_it(ansible, host):
    # An MTU below 1280 takes IPv6 off the device: the kernel refuses IPv6 neighbours on it, so the
    # one IPv6 entry at position K fails after the batch already added thousands of entries.
    sh('ip', '-n', host, 'link', 'add', 'vxb', 'type', 'vxlan', 'id', '77', 'dstport', '4789', 'local',
       '192.168.60.1', 'dev', 'u0', 'nolearning')
    # up already: the run's only step is the batch (undoing a 'set up' would take the device down, and
    # the kernel flushes even permanent neighbours of a device that goes down)
    sh('ip', '-n', host, 'link', 'set', 'vxb', 'mtu', '1200', 'up')
    # entries the run would remove (not in its lists) and one it would keep
    sh('bridge', '-n', host, 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vxb', 'dst', '192.168.60.250')
    sh('bridge', '-n', host, 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vxb', 'dst', PEERS[0])
    sh('ip', '-n', host, 'neigh', 'add', '172.31.0.1', 'lladdr', '02:ff:00:00:00:01', 'dev', 'vxb', 'nud',
       'permanent')
    sh('ip', '-n', host, 'neigh', 'add', NEIGH[0]['ip'], 'lladdr', '02:ff:00:00:00:02', 'dev', 'vxb', 'nud',
       'permanent')  # replaced by the run: must get its old MAC back
    fdb_before, neigh_before = kernel_fdb(host, 'vxb'), kernel_neigh(host, 'vxb')
    k = 3210
    neigh = NEIGH[:k] + [{'ip': 'fd42::1', 'mac': '02:00:00:00:00:01'}] + NEIGH[k:]
    link_before = link(host, 'vxb')
    # compared as sets, not with refused()'s snapshot: entries deleted and put back come back in
    # another order in a dump (the kernel's hash tables), the same entries all the same
    res = ansible.run('vxlan', {'name': 'vxb', 'netns': host, 'vni': 77, 'local': '192.168.60.1', 'dev': 'u0',
                                'peers': PEERS, 'fdb': FDB, 'neigh': neigh})
    assert res.get('failed'), 'expected a failure'
    after = link(host, 'vxb')
    assert (after['ifindex'], after['mtu'], after['flags']) == (link_before['ifindex'], link_before['mtu'],
                                                                link_before['flags'])
    assert 'set neighbour fd42::1' in res['failed_action'], res['failed_action']
    assert res['rollback_errors'] == []
    # every entry the batch added or removed was put back
    # the batch: 1 peer removed, N - 1 added (one was there), N fdb, 1 neighbour removed, N + 1 set;
    # all but the refused one undone
    assert len(res['rolled_back']) == (3 * N + 2) - 1
    assert kernel_fdb(host, 'vxb') == fdb_before and kernel_neigh(host, 'vxb') == neigh_before


def test_failure_in_the_batch_of_a_new_device_removes_the_device(ansible, host):
    neigh = NEIGH[:1000] + [{'ip': 'fd42::1', 'mac': '02:00:00:00:00:01'}] + NEIGH[1000:2000]
    res = ansible.refused('vxlan', {'name': 'vxn', 'netns': host, 'vni': 78, 'dev': 'u0', 'mtu': 1200,
                                    'peers': PEERS[:2000], 'neigh': neigh}, [host])
    assert 'set neighbour fd42::1' in res['failed_action']
    assert res['rolled_back'][-1].startswith('create vxlan vxn')
    assert link(host, 'vxn') is None
