import pytest

from conftest import bridge_json, changed, ip_json, link, sh


@pytest.fixture
def host(make_ns):
    """A namespace with an underlay interface u0 (192.168.60.1/24) and a bridge br0."""
    ns = make_ns('h')
    sh('ip', '-n', ns, 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u0p')
    sh('ip', '-n', ns, 'addr', 'add', '192.168.60.1/24', 'dev', 'u0')
    sh('ip', '-n', ns, 'link', 'set', 'u0', 'up')
    sh('ip', '-n', ns, 'link', 'add', 'br0', 'type', 'bridge')
    return ns


def fdb(ns, dev):
    return sorted((e['mac'], e.get('dst')) for e in bridge_json(ns, 'fdb', 'show', 'dev', dev)
                  if e.get('dst') and 'permanent' in e.get('state', ''))


def neigh(ns, dev):
    return sorted((n['dst'], n['lladdr']) for n in ip_json(ns, 'neigh', 'show', 'dev', dev)
                  if 'PERMANENT' in n.get('state', []))


FULL = {'name': 'vx42', 'vni': 42, 'local': '192.168.60.1', 'dev': 'u0', 'master': 'br0', 'mtu': 1450,
        'peers': ['192.168.60.2', '192.168.60.3'],
        'fdb': [{'mac': '02:00:00:00:00:02', 'dst': '192.168.60.2'}],
        'neigh': [{'ip': '10.42.0.2', 'mac': '02:00:00:00:00:02'}]}


def test_create_full_vtep_idempotent(ansible, host):
    res = ansible.cycle('vxlan', dict(FULL, netns=host), [host])
    assert changed(res) == [True, True, False, False]
    assert res[0]['actions'] == res[1]['actions']
    vx = link(host, 'vx42')
    data = vx['linkinfo']['info_data']
    assert vx['linkinfo']['info_kind'] == 'vxlan'
    assert data['id'] == 42 and data['port'] == 4789  # 4789, not the kernel's 8472
    assert data['local'] == '192.168.60.1' and data['learning'] is False
    assert vx['master'] == 'br0' and vx['mtu'] == 1450 and 'UP' in vx['flags']
    assert fdb(host, 'vx42') == [('00:00:00:00:00:00', '192.168.60.2'), ('00:00:00:00:00:00', '192.168.60.3'),
                                 ('02:00:00:00:00:02', '192.168.60.2')]
    assert neigh(host, 'vx42') == [('10.42.0.2', '02:00:00:00:00:02')]
    out = res[1]['vxlan']
    assert out['peers'] == ['192.168.60.2', '192.168.60.3'] and out['dev'] == 'u0' and out['vni'] == 42
    assert res[3]['vxlan'] == out


def test_lists_are_exclusive(ansible, host):
    ansible.run('vxlan', dict(FULL, netns=host))
    sh('bridge', '-n', host, 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx42', 'dst', '192.168.60.9')
    new = dict(FULL, netns=host, peers=['192.168.60.3', '192.168.60.4'],
               fdb=[{'mac': '02:00:00:00:00:02', 'dst': '192.168.60.3'}],
               neigh=[{'ip': '10.42.0.2', 'mac': '02:00:00:00:00:03'}, {'ip': '10.42.0.4', 'mac': '02:00:00:00:00:04'}])
    res = ansible.cycle('vxlan', new, [host])
    assert changed(res) == [True, True, False, False]
    assert fdb(host, 'vx42') == [('00:00:00:00:00:00', '192.168.60.3'), ('00:00:00:00:00:00', '192.168.60.4'),
                                 ('02:00:00:00:00:02', '192.168.60.3')]
    assert neigh(host, 'vx42') == [('10.42.0.2', '02:00:00:00:00:03'), ('10.42.0.4', '02:00:00:00:00:04')]
    res = ansible.cycle('vxlan', dict(new, peers=[], fdb=[], neigh=[]), [host])
    assert changed(res) == [True, True, False, False]
    assert fdb(host, 'vx42') == [] and neigh(host, 'vx42') == []


def test_unmanaged_lists_are_left_alone(ansible, host):
    ansible.run('vxlan', dict(FULL, netns=host))
    res = ansible.run('vxlan', {'name': 'vx42', 'netns': host, 'vni': 42})
    assert not res['changed']
    assert len(fdb(host, 'vx42')) == 3


def test_learning_and_ttl_change_in_place(ansible, host):
    ansible.run('vxlan', dict(FULL, netns=host))
    index = link(host, 'vx42')['ifindex']
    res = ansible.cycle('vxlan', {'name': 'vx42', 'netns': host, 'vni': 42, 'learning': True, 'ttl': 16}, [host])
    assert changed(res) == [True, True, False, False]
    vx = link(host, 'vx42')
    assert vx['ifindex'] == index  # not recreated
    assert vx['linkinfo']['info_data']['learning'] is True and vx['linkinfo']['info_data']['ttl'] == 16


def test_immutable_change_refused_then_recreated_keeping_mac(ansible, host):
    ansible.run('vxlan', dict(FULL, netns=host))
    mac = link(host, 'vx42')['address']
    res = ansible.refused('vxlan', dict(FULL, netns=host, vni=43, dstport=4790), [host])
    assert 'vni: the existing device vx42 has vni=42, wanted 43' in res['msg']
    assert 'dstport: the existing device vx42 has dstport=4789, wanted 4790' in res['msg']
    assert 'recreate' in res['msg']
    res = ansible.cycle('vxlan', dict(FULL, netns=host, vni=43, recreate=True), [host])
    assert changed(res) == [True, True, False, False]
    vx = link(host, 'vx42')
    assert vx['linkinfo']['info_data']['id'] == 43 and vx['address'] == mac and vx['master'] == 'br0'
    assert len(fdb(host, 'vx42')) == 3 and neigh(host, 'vx42')


def test_same_vni_under_another_name_is_a_conflict(ansible, host):
    sh('ip', '-n', host, 'link', 'add', 'foreign', 'type', 'vxlan', 'id', '42', 'dstport', '4789')
    res = ansible.refused('vxlan', dict(FULL, netns=host), [host])
    assert "'foreign'" in res['msg'] and 'VNI 42' in res['msg']
    assert link(host, 'foreign') is not None and link(host, 'vx42') is None


def test_other_kind_with_the_name_is_not_touched(ansible, host):
    res = ansible.refused('vxlan', {'name': 'br0', 'netns': host, 'vni': 5}, [host])
    assert 'not a vxlan' in res['msg']
    ansible.refused('vxlan', {'name': 'br0', 'netns': host, 'state': 'absent'}, [host])


def test_failure_half_way_leaves_nothing_behind(ansible, host):
    # the kernel refuses an MTU above the underlay's minus the VXLAN overhead: the step after
    # creation fails, and the run must remove the device it created
    res = ansible.refused('vxlan', {'name': 'vx9', 'netns': host, 'vni': 9, 'dev': 'u0', 'mtu': 9000,
                                    'peers': ['192.168.60.2']}, [host])
    assert res['rolled_back'] == ['create vxlan vx9 (vni 9, port 4789) in namespace %r' % host]
    assert 'set mtu of vx9 to 9000' in res['failed_action']
    assert link(host, 'vx9') is None


def test_down_and_half_programmed_device_converges_in_one_run(ansible, host):
    sh('ip', '-n', host, 'link', 'add', 'vx42', 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'local',
       '192.168.60.1', 'dev', 'u0', 'nolearning')
    sh('bridge', '-n', host, 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx42', 'dst', '192.168.60.2')
    res = ansible.run('vxlan', dict(FULL, netns=host))
    assert res['changed'] and not res.get('failed')
    assert 'UP' in link(host, 'vx42')['flags'] and len(fdb(host, 'vx42')) == 3
    assert not ansible.run('vxlan', dict(FULL, netns=host))['changed']


def test_absent(ansible, host):
    ansible.run('vxlan', dict(FULL, netns=host))
    res = ansible.cycle('vxlan', {'name': 'vx42', 'netns': host, 'state': 'absent'}, [host])
    assert changed(res) == [True, True, False, False]
    assert link(host, 'vx42') is None


def test_multicast_group(ansible, host):
    res = ansible.cycle('vxlan', {'name': 'vxm', 'netns': host, 'vni': 7, 'group': '239.1.1.7', 'dev': 'u0'}, [host])
    assert changed(res) == [True, True, False, False]
    assert link(host, 'vxm')['linkinfo']['info_data']['group'] == '239.1.1.7'


@pytest.mark.parametrize('args, param, rule', [
    ({'vni': 0}, 'vni', 'must be in 1..16777215'),
    ({'vni': 16777216}, 'vni', 'must be in 1..16777215'),
    ({'vni': '10a'}, 'vni', 'int'),
    ({'dstport': 0}, 'dstport', 'must be in 1..65535'),
    ({'dstport': 65536}, 'dstport', 'must be in 1..65535'),
    ({'peers': ['239.1.1.1']}, 'peers[0]', 'must not be a multicast address'),
    ({'peers': ['192.168.60.2', 'nope']}, 'peers[1]', 'must be an IPv4 or IPv6 address'),
    ({'group': '10.1.1.1'}, 'group', 'must be a multicast address'),
    ({'local': '239.0.0.1'}, 'local', 'must not be a multicast'),
    ({'local': '192.168.60.1', 'peers': ['fd00::2']}, 'local/group/peers/fdb', 'one IP family'),
    ({'fdb': [{'mac': 'zz:00:00:00:00:01', 'dst': '192.168.60.2'}]}, 'fdb[0].mac', 'must be a MAC address'),
    ({'fdb': [{'mac': '02:00:00:00:00:01', 'dst': '192.168.60'}]}, 'fdb[0].dst', 'IPv4 or IPv6'),
    ({'neigh': [{'ip': '10.0.0.1', 'mac': '02:00:00:00:00:01'}, {'ip': '10.0.0.1', 'mac': '02:00:00:00:00:02'}]},
     'neigh[1].ip', 'twice'),
    ({'ttl': 256}, 'ttl', 'must be in 0..255'),
    ({'mtu': 40}, 'mtu', 'must be in 68..65535'),
    ({'dev': 'eth0:1'}, 'dev', "may not contain"),
    ({'master': 'b' * 16}, 'master', 'at most 15 bytes'),
])
def test_bad_input_fails_before_anything_is_touched(ansible, host, args, param, rule):
    ansible.run('vxlan', dict(FULL, netns=host))
    bad = dict(FULL, netns=host)
    bad.update(args)
    bad = {k: v for k, v in bad.items() if v is not None}
    if 'group' in args:
        bad.pop('peers', None) if 'peers' not in args else None
    res = ansible.refused('vxlan', bad, [host])
    assert param in res['msg'] and rule in res['msg'], res['msg']


# Rules Ansible states from the argument spec (required_if, mutually_exclusive): its own words,
# and the same guarantee - refused before anything is touched.
@pytest.mark.parametrize('args, message', [
    ({'vni': None}, 'state is present but all of the following are missing: vni'),
    ({'group': '239.1.1.1', 'peers': ['192.168.60.2']}, 'parameters are mutually exclusive: group|peers'),
])
def test_refused_by_the_argument_spec(ansible, host, args, message):
    ansible.run('vxlan', dict(FULL, netns=host))
    bad = dict(FULL, netns=host)
    bad.update(args)
    bad = {k: v for k, v in bad.items() if v is not None}
    res = ansible.refused('vxlan', bad, [host])
    assert message in res['msg'], res['msg']


def test_alias_survives_a_recreate(ansible, make_ns):
    ns = make_ns('h')
    ansible.run('vxlan', {'name': 'vx0', 'netns': ns, 'vni': 10, 'alias': 'owned by test'})
    res = ansible.run('vxlan', {'name': 'vx0', 'netns': ns, 'vni': 11, 'recreate': True})
    assert res['changed'] and not res.get('failed'), res
    assert link(ns, 'vx0')['ifalias'] == 'owned by test'
    assert link(ns, 'vx0')['linkinfo']['info_data']['id'] == 11
