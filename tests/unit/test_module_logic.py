"""Decision logic of the modules against a fake netlink layer: what gets planned, never applied."""
import pytest

from ansible_collections.hostnet.fabric.plugins.module_utils import _module
from ansible_collections.hostnet.fabric.plugins.module_utils._module import FabricError
from ansible_collections.hostnet.fabric.plugins.module_utils._plan import Plan
from ansible_collections.hostnet.fabric.plugins.modules import bridge, veth, vxlan

from fakes import FakeNamespaces, FakeNetlink

ZERO = '00:00:00:00:00:00'


def params(module, **kw):
    spec = module.argument_spec()
    p = {k: v.get('default') for k, v in spec.items()}
    p.update(kw)
    return module.validate(p)


def plan_for(module, nss, p):
    before = module.read(nss, p)
    plan = Plan()
    after = module.converge(nss, p, before, plan)
    return before, plan, after


def vtep(nl, name='vx0', **info):
    data = {'vni': 42, 'dstport': 4789, 'local': '192.0.2.1', 'group': None, 'dev_index': None, 'learning': False,
            'proxy': False, 'ttl': 0}
    data.update(info)
    return nl.put(name, 'vxlan', info=data, up=True, mtu=1450)


# ---------------------------------------------------------------- vxlan
def test_vxlan_create_plan():
    nl = FakeNetlink(links=[{'ifname': 'br0', 'kind': 'bridge'}])
    p = params(vxlan, name='vx0', vni=42, master='br0', peers=['192.0.2.2', '192.0.2.3'],
               fdb=[{'mac': '02:00:00:00:00:09', 'dst': '192.0.2.2'}])
    before, plan, after = plan_for(vxlan, FakeNamespaces(root=nl), p)
    assert before is None
    assert plan.texts[0] == 'create vxlan vx0 (vni 42, port 4789) in the current namespace'
    assert 'attach vx0 to bridge br0 in the current namespace' in plan.texts
    assert plan.texts[-3:] == ['add flood entry for peer 192.0.2.2 on vx0 in the current namespace',
                               'add flood entry for peer 192.0.2.3 on vx0 in the current namespace',
                               'add fdb entry 02:00:00:00:00:09 dst 192.0.2.2 on vx0 in the current namespace']
    assert after['peers'] == ['192.0.2.2', '192.0.2.3'] and after['dstport'] == 4789 and after['learning'] is False
    assert nl.calls == []


def test_vxlan_immutable_drift_names_field_current_and_wanted():
    nl = FakeNetlink()
    vtep(nl, vni=42, dstport=8472)
    p = params(vxlan, name='vx0', vni=43)
    with pytest.raises(FabricError) as err:
        plan_for(vxlan, FakeNamespaces(root=nl), p)
    msg = str(err.value)
    assert 'vni: the existing device vx0 has vni=42, wanted 43' in msg
    assert 'dstport: the existing device vx0 has dstport=8472, wanted 4789' in msg
    assert nl.calls == []


def test_vxlan_unset_immutables_are_not_compared():
    nl = FakeNetlink()
    vtep(nl, local='192.0.2.1', ttl=9)
    _before, plan, _after = plan_for(vxlan, FakeNamespaces(root=nl), params(vxlan, name='vx0', vni=42))
    assert plan.texts == []


def test_vxlan_recreate_keeps_unmanaged_settings():
    nl = FakeNetlink()
    link = vtep(nl, local='192.0.2.1')
    nl._fdb[link['index']] = [{'mac': ZERO, 'dst': '192.0.2.5'}]
    _before, plan, after = plan_for(vxlan, FakeNamespaces(root=nl), params(vxlan, name='vx0', vni=50, recreate=True))
    assert plan.texts[0].startswith('delete vxlan vx0 in the current namespace to recreate it (vni 42 -> 50)')
    assert after['local'] == '192.0.2.1' and after['peers'] == ['192.0.2.5'] and after['mac'] == link['mac']
    plan.apply()
    create = [c for c in nl.calls if c[0] == 'add_link'][0]
    assert create[3]['vxlan_id'] == 50 and create[3]['vxlan_local'] == '192.0.2.1'


def test_vxlan_conflict_with_same_vni_and_port():
    nl = FakeNetlink()
    vtep(nl, name='other', vni=42)
    with pytest.raises(FabricError, match="already used by vxlan device 'other'"):
        plan_for(vxlan, FakeNamespaces(root=nl), params(vxlan, name='vx0', vni=42))
    # same VNI on another port is fine
    _before, plan, _after = plan_for(vxlan, FakeNamespaces(root=nl), params(vxlan, name='vx0', vni=42, dstport=4790))
    assert plan.texts[0].startswith('create vxlan vx0')


def test_vxlan_exclusive_entries():
    nl = FakeNetlink()
    link = vtep(nl)
    nl._fdb[link['index']] = [{'mac': ZERO, 'dst': '192.0.2.2'}, {'mac': ZERO, 'dst': '192.0.2.3'},
                              {'mac': '02:00:00:00:00:02', 'dst': '192.0.2.2'}]
    nl._neigh[link['index']] = [{'ip': '10.0.0.2', 'mac': '02:00:00:00:00:02'}]
    p = params(vxlan, name='vx0', vni=42, peers=['192.0.2.3', '192.0.2.4'],
               fdb=[{'mac': '02:00:00:00:00:02', 'dst': '192.0.2.4'}], neigh=[])
    _before, plan, after = plan_for(vxlan, FakeNamespaces(root=nl), p)
    assert plan.texts == [
        'remove flood entry for peer 192.0.2.2 on vx0 in the current namespace',
        'add flood entry for peer 192.0.2.4 on vx0 in the current namespace',
        'remove fdb entry 02:00:00:00:00:02 dst 192.0.2.2 on vx0 in the current namespace',
        'add fdb entry 02:00:00:00:00:02 dst 192.0.2.4 on vx0 in the current namespace',
        'remove neighbour 10.0.0.2 on vx0 in the current namespace',
    ]
    assert after['neigh'] == [] and after['peers'] == ['192.0.2.3', '192.0.2.4']


def test_vxlan_wrong_kind():
    nl = FakeNetlink(links=[{'ifname': 'vx0', 'kind': 'bridge'}])
    with pytest.raises(FabricError, match="is a bridge interface, not a vxlan device"):
        plan_for(vxlan, FakeNamespaces(root=nl), params(vxlan, name='vx0', vni=1))


def test_vxlan_missing_dev_and_master():
    nl = FakeNetlink()
    with pytest.raises(FabricError, match="dev: underlay interface 'eth9' does not exist"):
        plan_for(vxlan, FakeNamespaces(root=nl), params(vxlan, name='vx0', vni=1, dev='eth9'))
    with pytest.raises(FabricError, match="master: 'br9' is not a bridge"):
        plan_for(vxlan, FakeNamespaces(root=nl), params(vxlan, name='vx0', vni=1, master='br9'))


# ---------------------------------------------------------------- veth
def test_veth_across_namespaces_plan():
    host, work = FakeNetlink(), FakeNetlink('w1')
    p = params(veth, name='v1', peer='eth0', peer_netns='w1', peer_addresses=['10.0.0.2/24'],
               peer_gateway='10.0.0.1')
    _before, plan, after = plan_for(veth, FakeNamespaces(root=host, w1=work), p)
    assert plan.texts == [
        "create veth v1 in the current namespace with peer eth0 in namespace 'w1'",
        'set v1 up in the current namespace',
        "add address 10.0.0.2/24 to eth0 in namespace 'w1'",
        "set eth0 up in namespace 'w1'",
        "set default route via 10.0.0.1 in namespace 'w1'",
    ]
    assert after['peer']['gateway'] == '10.0.0.1' and after['peer']['netns'] == 'w1'


def test_veth_peer_namespace_missing_fails_before_planning():
    with pytest.raises(Exception, match="'w9' does not exist"):
        plan_for(veth, FakeNamespaces(root=FakeNetlink()), params(veth, name='v1', peer='eth0', peer_netns='w9'))


def test_veth_existing_pair_in_one_namespace_is_recognised():
    nl = FakeNetlink()
    nl.put('va', 'veth', index=5, link_index=6, up=True)
    nl.put('vb', 'veth', index=6, link_index=5, up=True)
    _before, plan, after = plan_for(veth, FakeNamespaces(root=nl), params(veth, name='va', peer='vb'))
    assert plan.texts == [] and after['peer']['name'] == 'vb'


def test_veth_paired_elsewhere_needs_recreate():
    nl = FakeNetlink()
    nl.put('va', 'veth', index=5, link_index=6, up=True)
    nl.put('vc', 'veth', index=6, link_index=5, up=True)
    with pytest.raises(FabricError, match="its peer is 'vc' in the current namespace, not 'vb'"):
        plan_for(veth, FakeNamespaces(root=nl), params(veth, name='va', peer='vb'))
    _before, plan, _after = plan_for(veth, FakeNamespaces(root=nl), params(veth, name='va', peer='vb', recreate=True))
    assert plan.texts[0].startswith('delete veth va') and plan.texts[1].startswith('create veth va')


def test_veth_route_reinstalled_when_an_address_is_removed():
    host, work = FakeNetlink(), FakeNetlink('w1')
    host.put('v1', 'veth', index=3, link_index=2, link_netnsid=0, up=True)
    work.put('eth0', 'veth', index=2, link_index=3, up=True)
    work._addrs[2] = ['10.0.0.2/24']
    work.gateway = '10.0.0.1'
    p = params(veth, name='v1', peer='eth0', peer_netns='w1', peer_addresses=['10.0.0.3/24'], peer_gateway='10.0.0.1')
    _before, plan, _after = plan_for(veth, FakeNamespaces(root=host, w1=work), p)
    assert plan.texts[-1] == "set default route via 10.0.0.1 in namespace 'w1'"


# ---------------------------------------------------------------- bridge
def test_bridge_absent_of_other_kind_refused():
    nl = FakeNetlink(links=[{'ifname': 'br0', 'kind': 'veth'}])
    with pytest.raises(FabricError, match="'br0' in the current namespace is a veth interface, not a bridge"):
        plan_for(bridge, FakeNamespaces(root=nl), params(bridge, name='br0', state='absent'))


def test_bridge_create_plan_and_prediction():
    nl = FakeNetlink()
    _before, plan, after = plan_for(bridge, FakeNamespaces(root=nl), params(bridge, name='br0', stp=True, mtu=9000))
    assert plan.texts == ['create bridge br0 in the current namespace', 'set mtu of br0 to 9000 in the current namespace',
                          'set br0 up in the current namespace', 'turn stp on on br0 in the current namespace']
    assert after['stp'] is True and after['mtu'] == 9000 and after['up'] is True


# ---------------------------------------------------------------- the shared link options
def test_link_options_declared_once_and_merged():
    shared = _module.LINK_ARGUMENT_SPEC
    for module in (bridge, veth, vxlan):
        spec = module.argument_spec()
        for name, option in shared.items():
            if module is bridge and name == 'master':
                assert 'master' not in spec  # a bridge is no bridge's port
                continue
            assert spec[name] == option, (module.__name__, name)
    assert veth.argument_spec()['peer'] == {'type': 'str'} and vxlan.argument_spec()['vni'] == {'type': 'int'}
    with pytest.raises(KeyError, match='not a shared link option: stp'):
        _module.link_argument_spec(without=('stp',))


def test_link_argument_spec_copies():
    a = _module.link_argument_spec()
    a['state']['choices'].append('bogus')
    assert _module.LINK_ARGUMENT_SPEC['state']['choices'] == ['present', 'absent']


def test_vxlan_neigh_replacement_undo_puts_the_old_mac_back():
    nl = FakeNetlink()
    link = vtep(nl)
    nl._neigh[link['index']] = [{'ip': '10.0.0.2', 'mac': '02:00:00:00:00:02'}]
    p = params(vxlan, name='vx0', vni=42, neigh=[{'ip': '10.0.0.2', 'mac': '02:00:00:00:00:03'},
                                                 {'ip': '10.0.0.3', 'mac': '02:00:00:00:00:04'}])
    _before, plan, _after = plan_for(vxlan, FakeNamespaces(root=nl), p)
    assert plan.texts == ['set neighbour 10.0.0.2 lladdr 02:00:00:00:00:03 on vx0 in the current namespace',
                          'set neighbour 10.0.0.3 lladdr 02:00:00:00:00:04 on vx0 in the current namespace']
    plan.add('fails', _boom)
    with pytest.raises(Exception):
        plan.apply()
    assert nl.calls[-2:] == [('neigh_del', 'vx0', '10.0.0.3'), ('neigh_set', 'vx0', '10.0.0.2', '02:00:00:00:00:02')]


def _boom():
    raise RuntimeError('boom')
