"""The native VXLAN fabric's firewall planning (module_utils/_fabric_firewall.py and its filter), without a kernel."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hostnet.fabric.plugins.filter.vxlan_fabric_firewall import vxlan_fabric_firewall
from ansible_collections.hostnet.fabric.plugins.module_utils import _fabric

SEGMENTS = [{'name': 'web', 'vni': 4201, 'subnet': '10.42.0.0/24'},
            {'name': 'db', 'vni': 4202, 'subnet': '10.43.0.0/16', 'bridge': 'br-db'}]


def host(name, ip, number=None):
    return {'name': name, 'underlay_ip': ip, 'number': number, 'workloads': [], 'namespaces': [],
            'info': {'links': {'u0': {'addresses': ['%s/24' % ip], 'mtu': 1500}}, 'routes': []}}


def plan(hosts):
    res = _fabric.plan(hosts, SEGMENTS)
    assert res['errors'] == []
    return res


def test_peers_are_the_other_hosts_underlay_addresses_by_number_and_bridges_the_segments():
    # inventory order h3, h1, h2; numbers 3, 11, 2: peers follow the host numbers, never the inventory order
    fabric = plan([host('h3', '192.0.2.3'), host('h1', '192.0.2.1', number=11), host('h2', '192.0.2.2')])
    assert vxlan_fabric_firewall(fabric, 'h1') == {
        'state': 'present', 'peers': ['192.0.2.2', '192.0.2.3'], 'forward_bridges': ['br-db', 'hfbr4201']}
    assert vxlan_fabric_firewall(fabric, 'h2')['peers'] == ['192.0.2.3', '192.0.2.1']
    assert vxlan_fabric_firewall(fabric, 'h3', forward=False) == {
        'state': 'present', 'peers': ['192.0.2.2', '192.0.2.1'], 'forward_bridges': []}
    # the same lists the VXLAN devices flood to: the firewall lets exactly those VTEPs in
    for name, h in fabric['hosts'].items():
        assert vxlan_fabric_firewall(fabric, name)['peers'] == h['segments'][0]['peers']


def test_a_host_that_leaves_is_no_peer_any_more():
    before = plan([host('h1', '192.0.2.1'), host('h2', '192.0.2.2'), host('h3', '192.0.2.3')])
    after = plan([host('h1', '192.0.2.1'), host('h3', '192.0.2.3')])
    assert vxlan_fabric_firewall(before, 'h1')['peers'] == ['192.0.2.2', '192.0.2.3']
    assert vxlan_fabric_firewall(after, 'h1')['peers'] == ['192.0.2.3']


def test_one_host_alone_accepts_no_vxlan_at_all():
    fabric = plan([host('h1', '192.0.2.1')])
    assert vxlan_fabric_firewall(fabric, 'h1')['peers'] == []


@pytest.mark.parametrize('kw', [{'enabled': False}, {'state': 'absent'}, {'enabled': True, 'state': 'absent'}])
def test_off_or_absent_removes_the_table(kw):
    fabric = plan([host('h1', '192.0.2.1'), host('h2', '192.0.2.2')])
    assert vxlan_fabric_firewall(fabric, 'h1', **kw) == {'state': 'absent', 'peers': [], 'forward_bridges': []}
    # absent: the role plans nothing, there is no plan to read
    assert vxlan_fabric_firewall(None, 'h1', state='absent')['state'] == 'absent'


def test_refusals_name_the_problem():
    fabric = plan([host('h1', '192.0.2.1')])
    with pytest.raises(AnsibleFilterError, match='h9 is not a host of the fabric plan'):
        vxlan_fabric_firewall(fabric, 'h9')
    with pytest.raises(AnsibleFilterError, match='h1 is not a host of the fabric plan'):
        vxlan_fabric_firewall(None, 'h1')
    with pytest.raises(AnsibleFilterError, match="vxlan_fabric_state must be present or absent"):
        vxlan_fabric_firewall(fabric, 'h1', state='gone')
