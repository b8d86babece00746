"""hostnet.fabric.vxlan_firewall on real namespaces: a "host" namespace listening on UDP 4789, a "peer" and a
"non-peer" namespace sending to it (IPv4 and IPv6); the nft counters and what the listener receives tell who got
through. Then idempotence and check mode (nft and iptables snapshots), absent, and forward_bridges against a
FORWARD policy DROP with bridge netfilter on, as Docker leaves it."""
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import sh

pytestmark = pytest.mark.skipif(shutil.which('nft') is None, reason='nft (Debian package nftables) is not installed')

TABLE = 'hostnet_fabric'
PEER4, OTHER4 = '10.78.1.2', '10.78.2.2'
PEER6, OTHER6 = 'fd78:1::2', 'fd78:2::2'
HOST4, HOST6 = '10.78.1.1', 'fd78:1::1'


def in_ns(ns, *argv, **kw):
    return sh('ip', 'netns', 'exec', ns, *argv, **kw)


def ruleset(ns):
    """Everything the module could change in ``ns``: the whole nft ruleset (iptables-nft rules included) and
    the iptables rules as iptables prints them."""
    out = {'nft': in_ns(ns, 'nft', 'list', 'ruleset').stdout}
    for tool in ('iptables', 'ip6tables'):
        if shutil.which(tool):
            out[tool] = in_ns(ns, tool, '-w', '5', '-S').stdout
    return out


def counters(ns):
    data = json.loads(in_ns(ns, 'nft', '-j', 'list', 'counters', 'table', 'inet', TABLE).stdout)
    return dict((c['counter']['name'], c['counter']['packets']) for c in data['nftables'] if 'counter' in c)


def veth(a, dev_a, b, dev_b, net, host_ns=None):
    sh('ip', 'link', 'add', dev_a, 'netns', a, 'type', 'veth', 'peer', 'name', dev_b, 'netns', b)
    for ns, dev, last in ((a, dev_a, 1), (b, dev_b, 2)):
        sh('ip', '-n', ns, 'link', 'set', dev, 'up')
        sh('ip', '-n', ns, 'addr', 'add', '10.78.%d.%d/24' % (net, last), 'dev', dev)
        sh('ip', '-n', ns, '-6', 'addr', 'add', 'fd78:%d::%d/64' % (net, last), 'dev', dev, 'nodad')


@pytest.fixture
def site(make_ns):
    host, peer, other = make_ns('host'), make_ns('peer'), make_ns('other')
    for ns in (host, peer, other):
        sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
    veth(host, 'tp0', peer, 'eth0', 1)
    veth(host, 'to0', other, 'eth0', 2)
    for ns, gw4, gw6 in ((peer, '10.78.1.1', 'fd78:1::1'), (other, '10.78.2.1', 'fd78:2::1')):
        sh('ip', '-n', ns, 'route', 'add', 'default', 'via', gw4)
        sh('ip', '-n', ns, '-6', 'route', 'add', 'default', 'via', gw6)
    return host, peer, other


LISTEN = r'''
import select, socket, sys
socks = []
for fam, addr in ((socket.AF_INET, '0.0.0.0'), (socket.AF_INET6, '::')):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, 4789))
    socks.append(s)
print('ready', flush=True)
while True:  # until stdin closes; then whatever is still queued
    ready = select.select(socks + [sys.stdin], [], [])[0]
    for s in socks:
        if s in ready:
            data, src = s.recvfrom(2048)
            print(src[0], data.decode(), flush=True)
    if sys.stdin in ready and not sys.stdin.readline():
        break
for s in socks:
    s.setblocking(False)
    while True:
        try:
            data, src = s.recvfrom(2048)
        except BlockingIOError:
            break
        print(src[0], data.decode(), flush=True)
'''

SEND = r'''
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
for i in range(int(sys.argv[3])):
    s.sendto(sys.argv[2].encode(), (sys.argv[1], 4789))
'''


def exchange(host, senders):
    """Listen on UDP 4789 in ``host``; each (ns, dst, tag, n) sends n datagrams. Returns {tag: received}."""
    listener = subprocess.Popen(['ip', 'netns', 'exec', host, 'python3', '-c', LISTEN],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert listener.stdout.readline().strip() == 'ready'
    for ns, dst, tag, n in senders:
        in_ns(ns, 'python3', '-c', SEND, dst, tag, str(n))
    # the datagrams were sent on veths (synchronous); give neighbour resolution a moment to release them
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and sum(counters(host).values()) < sum(s[3] for s in senders):
        time.sleep(0.1)
    out = listener.communicate('', timeout=30)[0]
    got = {}
    for line in out.splitlines():
        src, tag = line.split()
        got[tag] = got.get(tag, 0) + 1
    return got


def test_peers_are_accepted_and_others_dropped_ipv4_and_ipv6(ansible, site):
    host, peer, other = site
    res = ansible.run('vxlan_firewall', {'netns': host, 'peers': [PEER4, PEER6]})
    assert not res.get('failed'), res.get('msg')
    assert res['changed'] and res['counters'] == {'peers_accepted': {'packets': 0, 'bytes': 0},
                                                  'others_dropped': {'packets': 0, 'bytes': 0}}
    got = exchange(host, [(peer, HOST4, 'peer4', 3), (other, '10.78.2.1', 'other4', 4),
                          (peer, HOST6, 'peer6', 2), (other, 'fd78:2::1', 'other6', 5)])
    assert got == {'peer4': 3, 'peer6': 2}, got
    assert counters(host) == {'peers_accepted': 5, 'others_dropped': 9}
    # the module reports them too (check mode: read only)
    res = ansible.run('vxlan_firewall', {'netns': host, 'peers': [PEER4, PEER6]}, check=True)
    assert not res['changed'] and res['counters']['others_dropped']['packets'] == 9
    # without the table everything gets through: the drops above were the firewall's
    ansible.run('vxlan_firewall', {'netns': host, 'state': 'absent'})
    assert exchange_plain(host, other) == {'other4': 2}


def exchange_plain(host, other):
    """Two datagrams from the non-peer with no table to count them."""
    listener = subprocess.Popen(['ip', 'netns', 'exec', host, 'python3', '-c', LISTEN],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert listener.stdout.readline().strip() == 'ready'
    in_ns(other, 'python3', '-c', SEND, '10.78.2.1', 'other4', '2')
    time.sleep(1)  # no counter to wait on here: the table is gone
    out = listener.communicate('', timeout=30)[0]
    return {'other4': len(out.splitlines())} if out else {}


def test_idempotence_check_mode_and_absent(ansible, site):
    host, _peer, _other = site
    in_ns(host, 'nft', 'add', 'table', 'inet', 'someone_else')
    for tool in ('iptables', 'ip6tables'):  # rules that are not ours (and, with iptables-nft, its tables exist)
        if shutil.which(tool):
            in_ns(host, tool, '-w', '5', '-A', 'FORWARD', '-i', 'x0', '-j', 'ACCEPT')
    pristine = ruleset(host)
    args = {'netns': host, 'peers': [PEER4, OTHER4, PEER6], 'forward_bridges': ['br-a', 'br-b'], 'port': 4789}
    before = ruleset(host)
    first = ansible.run('vxlan_firewall', args, check=True)
    assert not first.get('failed'), first.get('msg')
    assert first['changed'] and ruleset(host) == before, 'check mode changed the host'
    assert 'udp dport 4789 counter name "others_dropped" drop' in first['diff']['after']
    assert first['diff']['before'] == ''
    rest = ansible.play([
        {'name': 'real', 'hostnet.fabric.vxlan_firewall': args},
        {'name': 'check again', 'hostnet.fabric.vxlan_firewall': args, 'check_mode': True},
        {'name': 'real again', 'hostnet.fabric.vxlan_firewall': args},
    ])
    for r in rest:
        assert not r.get('failed'), r.get('msg')
    assert [r['changed'] for r in rest] == [True, False, False]
    assert rest[0]['ruleset'] == first['ruleset'] == first['diff']['after'].split('# ')[0]
    live = ruleset(host)
    assert live['nft'].count('table inet %s' % TABLE) == 1 and 'table inet someone_else' in live['nft']
    assert '-A FORWARD -i br-a -o br-a -m comment --comment "hostnet.fabric vxlan_firewall %s" -j ACCEPT' % TABLE \
        in live['iptables']
    assert len(rest[0]['forward_rules']) == (4 if shutil.which('ip6tables') else 2)

    # the peer list changes: one transaction replaces the table
    args2 = dict(args, peers=[PEER4], forward_bridges=['br-b'])
    res = ansible.run('vxlan_firewall', args2, check=True)
    assert res['changed'] and ruleset(host) == live
    assert any(a.startswith('iptables: delete from FORWARD: -i br-a') for a in res['actions'])
    res = ansible.run('vxlan_firewall', args2)
    assert res['changed'] and '10.78.2.2' not in ruleset(host)['nft'] and 'br-a' not in ruleset(host)['iptables']
    assert not ansible.run('vxlan_firewall', args2)['changed']

    # a hand-made change inside the table is seen and undone
    in_ns(host, 'nft', 'add', 'rule', 'inet', TABLE, 'input', 'tcp', 'dport', '22', 'drop')
    res = ansible.run('vxlan_firewall', args2)
    assert res['changed'] and 'dport 22' not in ruleset(host)['nft']

    # absent removes exactly what it made
    res = ansible.run('vxlan_firewall', {'netns': host, 'state': 'absent'}, check=True)
    assert res['changed'] and res['diff']['after'] == ''
    assert 'table inet %s' % TABLE in ruleset(host)['nft']
    gone = ansible.play([
        {'name': 'absent', 'hostnet.fabric.vxlan_firewall': {'netns': host, 'state': 'absent'}},
        {'name': 'absent again', 'hostnet.fabric.vxlan_firewall': {'netns': host, 'state': 'absent'}},
    ])
    assert [r['changed'] for r in gone] == [True, False]
    assert ruleset(host) == pristine


@pytest.mark.parametrize('args, text', [
    ({'peers': ['10.0.0.1', 'nope']}, "peers[1]: must be an IPv4 or IPv6 address (got 'nope')"),
    ({'peers': ['239.1.1.1']}, 'peers[0]: must not be a multicast address'),
    ({'table': 'bad-name'}, "table: must be a letter then letters, digits or _ (at most 64) (got 'bad-name')"),
    ({'port': 0}, 'port: must be in 1..65535 (got 0)'),
    ({'forward_bridges': ['br0', 'x' * 16]}, 'forward_bridges[1]: interface names are at most 15 bytes'),
    ({'netns': 'hft-no-such-ns'}, 'netns: no network namespace at /run/netns/hft-no-such-ns'),
])
def test_bad_input_is_refused_before_anything(ansible, site, args, text):
    host = site[0]
    before = ruleset(host)
    res = ansible.run('vxlan_firewall', dict({'netns': host, 'peers': [PEER4]}, **args))
    assert res['failed'] and res['msg'].startswith(text), res['msg']
    assert ruleset(host) == before


@pytest.fixture
def bridged(make_ns):
    """A host namespace whose bridge joins two workloads; FORWARD policy DROP and bridge netfilter on."""
    if not os.path.isdir('/proc/sys/net/bridge'):
        pytest.skip('br_netfilter is not loaded on this kernel (no /proc/sys/net/bridge): the FORWARD drop '
                    'this option works around cannot happen here')
    host, w1, w2 = make_ns('bhost'), make_ns('w1'), make_ns('w2')
    sh('ip', '-n', host, 'link', 'add', 'br-f', 'type', 'bridge')
    sh('ip', '-n', host, 'link', 'set', 'br-f', 'up')
    for ns, last in ((w1, 11), (w2, 12)):
        sh('ip', 'link', 'add', 'v%d' % last, 'netns', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
        sh('ip', '-n', host, 'link', 'set', 'v%d' % last, 'master', 'br-f', 'up')
        sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up')
        sh('ip', '-n', ns, 'addr', 'add', '10.79.0.%d/24' % last, 'dev', 'eth0')
    in_ns(host, 'sysctl', '-q', '-w', 'net.bridge.bridge-nf-call-iptables=1')
    in_ns(host, 'iptables', '-w', '5', '-P', 'FORWARD', 'DROP')
    return host, w1, w2


def pings(ns, address):
    return in_ns(ns, 'ping', '-c', '1', '-w', '2', address, check=False).returncode == 0


def test_forward_bridges_pass_a_forward_drop_policy(ansible, bridged):
    host, w1, _w2 = bridged
    assert not pings(w1, '10.79.0.12'), 'bridged traffic should be dropped by the FORWARD policy here'
    res = ansible.run('vxlan_firewall', {'netns': host, 'forward_bridges': ['br-f']})
    assert not res.get('failed'), res.get('msg')
    assert pings(w1, '10.79.0.12')
    assert res['forward_rules'][0].startswith('iptables FORWARD -i br-f -o br-f')

    # Docker starts: DOCKER-USER appears first in FORWARD; the rule moves there
    in_ns(host, 'iptables', '-w', '5', '-N', 'DOCKER-USER')
    in_ns(host, 'iptables', '-w', '5', '-A', 'DOCKER-USER', '-j', 'RETURN')
    in_ns(host, 'iptables', '-w', '5', '-I', 'FORWARD', '-j', 'DOCKER-USER')
    res = ansible.run('vxlan_firewall', {'netns': host, 'forward_bridges': ['br-f']})
    assert res['changed'] and res['forward_rules'][0].startswith('iptables DOCKER-USER -i br-f')
    rules = in_ns(host, 'iptables', '-w', '5', '-S').stdout
    assert rules.index('-A DOCKER-USER -i br-f') < rules.index('-A DOCKER-USER -j RETURN')
    assert '-A FORWARD -i br-f' not in rules
    assert pings(w1, '10.79.0.12')
    assert not ansible.run('vxlan_firewall', {'netns': host, 'forward_bridges': ['br-f']})['changed']

    res = ansible.run('vxlan_firewall', {'netns': host, 'state': 'absent'})
    assert res['changed'] and res['forward_rules'] == []
    rules = in_ns(host, 'iptables', '-w', '5', '-S').stdout
    assert 'br-f' not in rules and '-A DOCKER-USER -j RETURN' in rules and '-A FORWARD -j DOCKER-USER' in rules
    assert not pings(w1, '10.79.0.12')
