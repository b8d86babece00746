"""Two "hosts" (namespaces joined by an underlay veth), each with bridge + VXLAN + a workload
namespace, built by playbooks/local_fabric.yml with the collection's modules only."""
import uuid

import pytest

from conftest import REPO, bridge_json, ip_json, link, sh

PLAYBOOK = REPO / 'playbooks' / 'local_fabric.yml'


def tx_packets(ns, dev):
    return ip_json(ns, '-s', 'link', 'show', 'dev', dev)[0]['stats64']['tx']['packets']


def ping(src, dst):
    return subprocess_ok('ip', 'netns', 'exec', src, 'ping', '-c', '2', '-i', '0.2', '-W', '1', dst)


def subprocess_ok(*cmd):
    return sh(*cmd, check=False).returncode == 0


@pytest.fixture
def fabric(ansible):
    prefix = 'hft-%s' % uuid.uuid4().hex[:6]
    extra = {'hostnet_demo_prefix': prefix}
    yield prefix, extra
    ansible.play(None, playbook=PLAYBOOK, extra_vars=dict(extra, hostnet_demo_state='absent'))
    leftovers = [n['name'] for n in ip_json(None, 'netns', 'list') if n['name'].startswith(prefix)]
    assert leftovers == [], 'teardown left namespaces behind'


def test_workloads_ping_across_vxlan(ansible, fabric):
    prefix, extra = fabric
    results = ansible.play(None, playbook=PLAYBOOK, extra_vars=extra)
    assert ansible.last_rc == 0, [r.get('msg') for r in results if r.get('failed')]
    h1, h2, w1, w2 = ('%s-%s' % (prefix, n) for n in ('h1', 'h2', 'w1', 'w2'))

    # the kernel has what the play asked for
    vx = link(h1, 'vx0')['linkinfo']['info_data']
    assert vx['id'] == 4242 and vx['port'] == 4789 and vx['local'] == '192.168.254.1' and vx['learning'] is False
    flood = [e['dst'] for e in bridge_json(h1, 'fdb', 'show', 'dev', 'vx0') if e['mac'] == '00:00:00:00:00:00']
    assert flood == ['192.168.254.2']

    # workloads reach each other both ways, and the traffic went through the VTEPs
    before = tx_packets(h1, 'vx0'), tx_packets(h2, 'vx0')
    assert ping(w1, '10.42.0.2') and ping(w2, '10.42.0.1')
    assert tx_packets(h1, 'vx0') > before[0] and tx_packets(h2, 'vx0') > before[1]

    # the workloads have no path but the overlay: without the flood list (learning is off) the
    # first ARP never leaves host 1
    sh('ip', '-n', w1, 'neigh', 'flush', 'all')
    sh('ip', '-n', w2, 'neigh', 'flush', 'all')
    sh('bridge', '-n', h1, 'fdb', 'flush', 'dev', 'br0')
    res = ansible.run('vxlan', {'name': 'vx0', 'netns': h1, 'vni': 4242, 'peers': []})
    assert res['changed']
    assert not ping(w1, '10.42.0.2')

    # running the play again converges it back, and a further run changes nothing
    results = ansible.play(None, playbook=PLAYBOOK, extra_vars=extra)
    assert [r['_task'] for r in results if r.get('changed')] == ['VTEP per host, flooding to every other host']
    assert ping(w1, '10.42.0.2')
    results = ansible.play(None, playbook=PLAYBOOK, extra_vars=extra)
    assert ansible.last_rc == 0 and not any(r.get('changed') for r in results)
