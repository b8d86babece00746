"""The hostnet.fabric.vxlan_fabric role with vxlan_fabric_firewall on the real kernel: three namespace-hosts on an
underlay bridge (test_fabric.py's), plus a "rogue" namespace on the same underlay with an address that is no
fabric host's. A VXLAN packet the rogue sends is decapsulated while the firewall is off, dropped (and counted by
the table's others_dropped counter) once it is on; the same packet from a peer still gets through, and the role's
ping matrix and the test's own stay full. Check mode predicts the firewall and changes nothing; a second run
changes nothing; absent removes the table with the rest."""
import json
import shutil
import sys

import pytest

from conftest import REPO, sh, snapshot
from test_fabric import UNDERLAY, Fabric, changed, fabric_namespaces, full_matrix

sys.path.insert(0, str(REPO / 'tests'))
import vxlan_frames  # noqa: E402  (tests/vxlan_frames.py: the frames' sender, listener and its protocol)

pytestmark = pytest.mark.skipif(shutil.which('nft') is None, reason='nft (Debian package nftables) is not installed')

TABLE = 'hostnet_fabric'
ROGUE = '192.168.250.99'
FRAMES = REPO / 'tests' / 'vxlan_frames.py'
FIREWALL_TASK = "Firewall (nftables) - VXLAN only from the other fabric hosts' underlay addresses"
NAMES = ['h1', 'h2', 'h3']
ON = {'vxlan_fabric_firewall': True}


@pytest.fixture
def fabric(tmp_path):
    fab = Fabric(tmp_path)
    yield fab
    fab.cleanup()


def add_rogue(fab):
    """A namespace on the underlay bridge with an address that is none of the fabric hosts'."""
    ns = fab.tag + '-rogue'
    sh('ip', 'netns', 'add', ns)
    sh('ip', '-n', ns, 'link', 'add', 'ul', 'type', 'veth', 'peer', 'name', 'p-rogue', 'netns', fab.ul)
    sh('ip', '-n', ns, 'addr', 'add', ROGUE + '/24', 'dev', 'ul')
    sh('ip', '-n', ns, 'link', 'set', 'ul', 'up')
    sh('ip', '-n', fab.ul, 'link', 'set', 'p-rogue', 'master', 'ul0', 'up')
    return ns


def delivered(fab, senders, host='h1', vni=4201):
    """Which senders' VXLAN frames HOST's VXLAN device of VNI decapsulated. ``senders``: [(netns, source, marker)]."""
    dst = UNDERLAY % {'h1': 11, 'h2': 12, 'h3': 13}[host]

    def send_all():
        for ns, src, marker in senders:
            sh('ip', 'netns', 'exec', ns, sys.executable, str(FRAMES), 'send', src, dst, str(vni), marker)
    return vxlan_frames.delivered(['ip', 'netns', 'exec', fab.ns(host), sys.executable, str(FRAMES), 'listen',
                                   'hfvx%d' % vni], send_all, timeout=30)


def counters(ns):
    data = json.loads(sh('ip', 'netns', 'exec', ns, 'nft', '-j', 'list', 'counters', 'table', 'inet', TABLE).stdout)
    return dict((c['counter']['name'], c['counter']['packets']) for c in data['nftables'] if 'counter' in c)


def tables(ns):
    return sh('ip', 'netns', 'exec', ns, 'nft', 'list', 'tables').stdout.split()


def peer_sets(ns):
    data = json.loads(sh('ip', 'netns', 'exec', ns, 'nft', '-j', 'list', 'table', 'inet', TABLE).stdout)
    return dict((s['set']['name'], sorted(s['set'].get('elem', []))) for s in
                (x for x in data['nftables'] if 'set' in x))


def changed_tasks(data):
    return sorted(set('%s: %s' % (h, t['task']['name'].split(' : ', 1)[-1]) for p in data['plays']
                      for t in p['tasks'] for h, r in t['hosts'].items() if r.get('changed')))


def test_firewall_drops_a_non_peer_and_keeps_the_fabric(fabric):
    fabric.build_underlay(NAMES)
    rogue = add_rogue(fabric)
    spaces = fabric_namespaces(fabric, NAMES)
    pristine = snapshot(spaces)
    firewall_everywhere = ['%s: %s' % (h, FIREWALL_TASK) for h in NAMES]

    # without the firewall, the rogue's VXLAN packet is decapsulated like a peer's: the frame is a valid one
    rc, _stats, failures, _data = fabric.run(NAMES)
    assert rc == 0, failures
    assert delivered(fabric, [(rogue, ROGUE, 'rogue-0'), (fabric.ns('h2'), UNDERLAY % 12, 'peer-0')]) == \
        ['peer-0', 'rogue-0']
    assert all('hostnet_fabric' not in tables(fabric.ns(h)) for h in NAMES)

    # check mode predicts the firewall on every host, and only that, and makes no table
    before = snapshot(spaces)
    rc, _stats, failures, data = fabric.run(NAMES, check=True, **dict((h, ON) for h in NAMES))
    assert rc == 0, failures
    assert changed_tasks(data) == firewall_everywhere
    assert snapshot(spaces) == before and all(TABLE not in tables(fabric.ns(h)) for h in NAMES)

    # the real run does what check mode predicted; the role's ping matrix (verify) passes with the firewall on
    rc, _stats, failures, data = fabric.run(NAMES, **dict((h, ON) for h in NAMES))
    assert rc == 0, failures
    assert changed_tasks(data) == firewall_everywhere
    for h, others in (('h1', [12, 13]), ('h2', [11, 13]), ('h3', [11, 12])):
        assert peer_sets(fabric.ns(h)) == {'peers_v4': [UNDERLAY % n for n in others], 'peers_v6': []}, h
    assert full_matrix(fabric, NAMES) == []

    # the rogue's packet is dropped and counted; the same packet from a peer still gets through
    h1 = fabric.ns('h1')
    was = counters(h1)
    assert was['peers_accepted'] > 0, was  # the pings of the matrices crossed it
    assert delivered(fabric, [(rogue, ROGUE, 'rogue-1'), (fabric.ns('h2'), UNDERLAY % 12, 'peer-1')]) == ['peer-1']
    now = counters(h1)
    assert now['others_dropped'] - was['others_dropped'] == 1, (was, now)
    assert now['peers_accepted'] - was['peers_accepted'] >= 1, (was, now)
    # a peer's address is not enough on its own: h3 sending to h1 from an address h1 does not know is dropped too
    sh('ip', '-n', fabric.ns('h3'), 'addr', 'add', '192.168.250.98/24', 'dev', 'ul')
    assert delivered(fabric, [(fabric.ns('h3'), '192.168.250.98', 'spoof-1')]) == []
    sh('ip', '-n', fabric.ns('h3'), 'addr', 'del', '192.168.250.98/24', 'dev', 'ul')
    assert counters(h1)['others_dropped'] - was['others_dropped'] == 2

    # converged: a second run and check mode change nothing
    rc, stats, failures, _data = fabric.run(NAMES, **dict((h, ON) for h in NAMES))
    assert rc == 0 and changed(stats) == {'h1': 0, 'h2': 0, 'h3': 0}, failures
    converged = snapshot(spaces)
    rc, stats, failures, _data = fabric.run(NAMES, check=True, **dict((h, ON) for h in NAMES))
    assert rc == 0 and changed(stats) == {'h1': 0, 'h2': 0, 'h3': 0}, failures
    assert snapshot(spaces) == converged

    # absent removes the table (and its forward rules) with the rest of the fabric
    rc, _stats, failures, _data = fabric.run(NAMES, extra={'vxlan_fabric_state': 'absent'},
                                             **dict((h, ON) for h in NAMES))
    assert rc == 0, failures
    assert snapshot(spaces) == pristine
    for h in NAMES:
        assert TABLE not in tables(fabric.ns(h)), h
        rules = sh('ip', 'netns', 'exec', fabric.ns(h), 'iptables', '-w', '5', '-S').stdout
        assert 'hostnet.fabric vxlan_firewall' not in rules, (h, rules)
