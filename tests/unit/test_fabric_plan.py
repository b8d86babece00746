"""The native VXLAN fabric's planning (module_utils/_fabric.py and its filters), without a kernel."""
import copy

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hostnet.fabric.plugins.filter.vxlan_fabric import (
    vxlan_fabric_docker, vxlan_fabric_plan, vxlan_fabric_pluggable, vxlan_fabric_probes, vxlan_fabric_reconnect,
    vxlan_fabric_stale)
from ansible_collections.hostnet.fabric.plugins.module_utils import _fabric

SEGMENTS = [{'name': 'web', 'vni': 4201, 'subnet': '10.42.0.0/24'},
            {'name': 'db', 'vni': 4202, 'subnet': '10.43.0.0/16'}]


def info(ip, mtu=1500, dev='u0', prefix=24, default=False, extra=None):
    links = {'lo': {'addresses': ['127.0.0.1/8'], 'mtu': 65536},
             dev: {'addresses': ['%s/%d' % (ip, prefix)], 'mtu': mtu}}
    links.update(extra or {})
    routes = [{'family': 'inet', 'dst': 'default', 'dev': dev, 'table': 'main'}] if default else []
    return {'links': links, 'routes': routes}


def host(name, ip, number=None, workloads=(), **kw):
    out = {'name': name, 'underlay_ip': ip, 'number': number, 'info': info(ip, **kw),
           'workloads': list(workloads), 'namespaces': []}
    return out


def three(**over):
    hosts = [
        host('h1', '192.168.7.1', workloads=[{'name': 'a', 'segment': 'web', 'address': '10.42.0.17'},
                                             {'name': 'b', 'segment': 'db', 'address': '10.43.1.5'}]),
        host('h2', '192.168.7.2', workloads=[{'name': 'c', 'segment': 'web', 'address': '10.42.0.33'}]),
        host('h3', '192.168.7.3', workloads=[{'name': 'd', 'segment': 'db', 'address': '10.43.3.9'}]),
    ]
    return hosts


def ok_plan(hosts=None, segments=None, **kw):
    res = _fabric.plan(hosts if hosts is not None else three(), segments if segments is not None else SEGMENTS, **kw)
    assert res['errors'] == []
    return res


def errors(hosts=None, segments=None):
    res = _fabric.plan(hosts if hosts is not None else three(), segments if segments is not None else SEGMENTS)
    assert res['hosts'] == {} and res['segments'] == []
    return res['errors']


# ------------------------------------------------------------------ numbering and addresses

def test_mac_is_docker_style():
    assert _fabric.mac_for('10.60.0.64') == '02:42:0a:3c:00:40'


def test_host_numbers_default_to_the_last_underlay_byte_and_gateways_follow():
    p = ok_plan()
    assert [p['hosts'][h]['number'] for h in ('h1', 'h2', 'h3')] == [1, 2, 3]
    web = p['hosts']['h2']['segments'][0]
    assert web['gateway'] == '10.42.0.2' and web['address'] == '10.42.0.2/24'
    assert web['bridge_mac'] == '02:42:0a:2a:00:02' and web['block'] == '10.42.0.32/28'
    db = p['hosts']['h3']['segments'][1]
    assert db['address'] == '10.43.0.3/16' and db['block'] == '10.43.3.0/24'


def test_default_names_and_mtu():
    p = ok_plan()
    web = p['hosts']['h1']['segments'][0]
    assert (web['bridge'], web['vxlan'], web['mtu'], web['vni']) == ('hfbr4201', 'hfvx4201', 1450, 4201)
    assert web['alias'] == 'hostnet.fabric.vxlan_fabric segment=web'


def test_ipv6_underlay_takes_70_bytes_and_the_smallest_underlay_mtu_counts():
    hosts = [host('h1', 'fd00::1', prefix=64, mtu=9000), host('h2', 'fd00::2', prefix=64, mtu=1500)]
    p = ok_plan(hosts)
    assert [s['mtu'] for s in p['hosts']['h1']['segments']] == [1430, 1430]


def test_adding_or_removing_a_host_renumbers_nobody():
    before = ok_plan()
    hosts = three() + [host('h0', '192.168.7.9')]
    after = ok_plan(list(reversed(hosts)))
    for name in ('h1', 'h2', 'h3'):
        assert after['hosts'][name]['number'] == before['hosts'][name]['number']
        assert after['hosts'][name]['segments'][0]['address'] == before['hosts'][name]['segments'][0]['address']
        assert after['hosts'][name]['workloads'] == before['hosts'][name]['workloads']
    dropped = ok_plan([h for h in three() if h['name'] != 'h2'])
    text = repr(dropped)
    assert '192.168.7.2' not in text and '10.42.0.33' not in text and "'h2" not in text
    assert dropped['hosts']['h1']['segments'][0]['peers'] == ['192.168.7.3']


def test_explicit_host_number():
    hosts = three()
    hosts[0]['number'] = 7
    p = ok_plan(hosts[1:] + [dict(hosts[0], workloads=[])])
    assert p['hosts']['h1']['number'] == 7 and p['hosts']['h1']['segments'][0]['gateway'] == '10.42.0.7'


# ------------------------------------------------------------------ the lists each host gets

def test_flood_fdb_and_neigh_lists():
    p = ok_plan()
    web1 = p['hosts']['h1']['segments'][0]
    assert web1['peers'] == ['192.168.7.2', '192.168.7.3']
    # remote gateways and the remote workload, nothing local
    assert web1['neigh'] == [{'ip': '10.42.0.2', 'mac': '02:42:0a:2a:00:02'},
                             {'ip': '10.42.0.33', 'mac': '02:42:0a:2a:00:21'},
                             {'ip': '10.42.0.3', 'mac': '02:42:0a:2a:00:03'}]
    assert web1['fdb'] == [{'mac': '02:42:0a:2a:00:02', 'dst': '192.168.7.2'},
                           {'mac': '02:42:0a:2a:00:21', 'dst': '192.168.7.2'},
                           {'mac': '02:42:0a:2a:00:03', 'dst': '192.168.7.3'}]
    db3 = p['hosts']['h3']['segments'][1]
    assert {'ip': '10.43.1.5', 'mac': '02:42:0a:2b:01:05'} in db3['neigh']
    assert {'mac': '02:42:0a:2b:01:05', 'dst': '192.168.7.1'} in db3['fdb']


def test_workload_plan():
    p = ok_plan(netns_prefix='t-')
    a = p['hosts']['h1']['workloads'][0]
    assert a == {'name': 'a', 'segment': 'web', 'netns': 't-a', 'container': None, 'ifname': 'eth0',
                 'veth': 'hfw-a', 'ip': '10.42.0.17', 'address': '10.42.0.17/24', 'mac': '02:42:0a:2a:00:11',
                 'gateway': '10.42.0.1', 'bridge': 'hfbr4201', 'ready': False, 'mtu': 1450,
                 'alias': 'hostnet.fabric.vxlan_fabric kind=netns netns=t-a workload=a'}


def test_long_workload_names_get_a_stable_short_veth_name():
    hosts = three()
    hosts[0]['workloads'][0]['name'] = 'a-very-long-workload-name'
    v1 = ok_plan(hosts)['hosts']['h1']['workloads'][0]['veth']
    assert len(v1) <= 15 and v1.startswith('hfw-') and v1 == ok_plan(copy.deepcopy(hosts))['hosts']['h1']['workloads'][0]['veth']


def test_check_mode_readiness_follows_what_exists():
    hosts = three()
    hosts[0]['info']['links']['hfbr4201'] = {'addresses': [], 'mtu': 1450}
    hosts[0]['namespaces'] = ['hf-a']
    p = ok_plan(hosts)
    assert [s['ready'] for s in p['hosts']['h1']['segments']] == [True, False]
    assert [w['ready'] for w in p['hosts']['h1']['workloads']] == [True, False]


def engine(version='20.10.24+dfsg1', running=True):
    return {'running': running, 'version': version, 'host': 'unix:///var/run/docker.sock'}


DOCKER_SEGS = [{'name': 'dk', 'vni': 4300, 'subnet': '10.60.0.0/24', 'docker': True}]


def docker_hosts(*versions):
    return [dict(host('h%d' % i, '10.0.0.%d' % i), docker=engine(v)) for i, v in enumerate(versions, 1)]


def test_docker_segment_programs_every_remote_range_address():
    p = ok_plan(docker_hosts('20.10.24+dfsg1', '26.1.5+dfsg1-9'), DOCKER_SEGS)
    seg = p['hosts']['h1']['segments'][0]
    assert seg['block'] == '10.60.0.16/28'
    assert seg['learning'] is False and seg['macs'].startswith('learning off: static FDB and neighbour entries')
    remote = [n['ip'] for n in seg['neigh']]
    assert remote[0] == '10.60.0.2' and remote[1:] == ['10.60.0.%d' % i for i in range(32, 48)]
    assert len(seg['fdb']) == 17 and all(e['dst'] == '10.0.0.2' for e in seg['fdb'])
    assert {'mac': '02:42:0a:3c:00:20', 'dst': '10.0.0.2'} in seg['fdb']
    # the docker ranges are not verification targets
    assert [e['label'] for e in p['segments'][0]['endpoints']] == ['h1/gw', 'h2/gw']
    # the Docker network of each host: its block as ip_range, its gateway, on the segment's bridge, labelled
    assert p['hosts']['h2']['docker_networks'] == [{
        'name': 'dk', 'bridge': 'hfbr4300', 'subnet': '10.60.0.0/24', 'ip_range': '10.60.0.32/28',
        'gateway': '10.60.0.2', 'mtu': '1450', 'labels': {'hostnet.fabric.vxlan_fabric.segment': 'dk'}}]


def test_plain_segments_have_no_docker_network_and_never_learn():
    p = ok_plan()
    assert p['hosts']['h1']['docker_networks'] == []
    assert [s['learning'] for s in p['hosts']['h1']['segments']] == [False, False]


@pytest.mark.parametrize('version, derives', [
    ('20.10.24+dfsg1', True), ('24.0.7', True), ('25.0.0', False), ('25.0.2', False), ('25.0.3', True),
    ('25.1.0', True), ('26.1.5+dfsg1', True), ('27.0.1', False), ('29.1.0', False), (None, False), ('x', False),
])
def test_which_engines_derive_macs_from_addresses(version, derives):
    assert _fabric.docker_derives_mac(version)[0] is derives


def test_an_engine_not_known_to_derive_macs_turns_learning_on_for_that_segment_only():
    segs = DOCKER_SEGS + [{'name': 'plain', 'vni': 4301, 'subnet': '10.61.0.0/24'}]
    p = ok_plan(docker_hosts('26.1.5', '25.0.1'), segs)
    dk, plain = p['hosts']['h1']['segments']
    assert dk['learning'] is True and plain['learning'] is False
    assert dk['macs'] == ("learning on: container MACs cannot be known in advance (h2: Engine 25.0.1 restores a "
                          "restarted container's previous MAC even when its address changed (moby#47146, fixed in "
                          "25.0.3))")
    # the gateways stay static; the containers' addresses are learned
    assert dk['neigh'] == [{'ip': '10.60.0.2', 'mac': '02:42:0a:3c:00:02'}]
    assert len(dk['fdb']) == 1


def test_big_host_blocks_turn_learning_on_instead_of_thousands_of_entries():
    segs = [{'name': 'dk', 'vni': 1, 'subnet': '10.0.0.0/12', 'docker': True}]
    p = ok_plan(docker_hosts('20.10.24', '20.10.24'), segs)
    seg = p['hosts']['h1']['segments'][0]
    assert seg['learning'] is True and len(seg['fdb']) == 1
    assert seg['macs'] == ('learning on: host blocks of 4096 addresses (/20) are too many to program statically on '
                           'every host (at most 256; set block to 24 or more)')


def test_docker_segments_need_a_running_engine_and_the_hosts_own_namespace():
    hosts = docker_hosts('20.10.24', '20.10.24')
    hosts[0]['docker'] = engine(None, running=False)
    hosts[1]['netns'] = 'h2ns'
    assert errors(hosts, DOCKER_SEGS) == [
        'h1: segment dk: a docker segment needs a running Docker engine on every host; none answers on '
        'vxlan_fabric_docker_host unix:///var/run/docker.sock',
        "h2: segment dk: a docker segment needs the host's own namespace (its Docker engine's bridge), not "
        "vxlan_fabric_netns h2ns"]


def test_a_moved_container_namespace_makes_its_veth_unplannable_in_check_mode():
    wls = [dict(w, ready=r) for w, r in zip(ok_plan()['hosts']['h1']['workloads'], (True, False))]
    results = [{'item': wls[0], 'changed': True}, {'item': wls[1], 'changed': False}]
    assert [w['ready'] for w in _fabric.pluggable(wls, ['hf-a'])] == [False, False]
    assert [w['ready'] for w in vxlan_fabric_pluggable(wls, results)] == [False, False]
    results[0]['changed'] = False
    assert [w['ready'] for w in vxlan_fabric_pluggable(wls, results)] == [True, False]
    assert [w['ready'] for w in wls] == [True, False]   # the plan itself is left as it was


# ------------------------------------------------------------------ refusals

@pytest.mark.parametrize('change, message', [
    (lambda h: h[1].update(number=1), "h2: host number 1 is also h1's (set vxlan_fabric_host_number on one of them)"),
    (lambda h: h[2].update(underlay_ip='192.168.7.99'),
     'h3: underlay address 192.168.7.99 is not on this host (no interface holds it)'),
    (lambda h: h[0].update(underlay_ip='not-an-ip'), "h1: hostnet_underlay_ip must be an IP address (got 'not-an-ip')"),
    (lambda h: h[0].update(number=16),
     'h1: host number 16 (vxlan_fabric_host_number) does not fit segment web, which numbers hosts 1..15 '
     '(set vxlan_fabric_host_number, or a larger subnet or smaller block)'),
    (lambda h: h[0].update(number='x'), "h1: vxlan_fabric_host_number must be an integer (got 'x')"),
    (lambda h: h[0].update(underlay_iface='eth9'),
     'h1: underlay address 192.168.7.1 is on u0, not on hostnet_underlay_iface eth9'),
    (lambda h: h[1]['workloads'].append({'name': 'c', 'segment': 'web', 'address': '10.42.0.34'}),
     'h2: workload c: the name is used twice on this host'),
    (lambda h: h[1]['workloads'].append({'name': 'e', 'segment': 'nope', 'address': '10.42.0.34'}),
     "h2: workload e: segment 'nope' is not in vxlan_fabric_segments"),
    (lambda h: h[1]['workloads'].append({'name': 'e', 'segment': 'web', 'address': '10.42.0.17'}),
     "h2: workload e: address 10.42.0.17 is not in this host's block 10.42.0.32/28 of segment web (host number 2)"),
    (lambda h: h[1]['workloads'].append({'name': 'e', 'segment': 'web', 'address': 'x'}),
     "h2: workload e: address must be an IPv4 address (got 'x')"),
    (lambda h: h[1]['workloads'].append({'name': 'e', 'segment': 'web', 'address': '10.42.0.33'}),
     'h2: workload e: address 10.42.0.33 on segment web is also h2/c'),
])
def test_refusals_name_the_host_and_the_rule(change, message):
    hosts = three()
    change(hosts)
    assert message in errors(hosts)


def test_every_host_is_checked_not_just_the_first_problem():
    hosts = three()
    hosts[1]['underlay_ip'] = '192.168.7.98'
    hosts[2]['underlay_ip'] = '192.168.7.99'
    assert len(errors(hosts)) == 2


@pytest.mark.parametrize('segments, message', [
    ([{'name': 'a', 'vni': 0, 'subnet': '10.1.0.0/24'}], 'segment a: vni must be in 1..16777215 (got 0)'),
    ([{'name': 'a b', 'vni': 1, 'subnet': '10.1.0.0/24'}], "vxlan_fabric_segments[0].name: must be 1..64 characters"),
    ([{'name': 'a', 'vni': 1, 'subnet': '10.1.0.1/24'}], 'segment a: subnet must be a network in CIDR form'),
    ([{'name': 'a', 'vni': 1, 'subnet': 'fd00::/64'}], 'segment a: subnet must be IPv4'),
    ([{'name': 'a', 'vni': 1, 'subnet': '10.1.0.0/29'}], 'segment a: subnet 10.1.0.0/29 is too small'),
    ([{'name': 'a', 'vni': 1, 'subnet': '10.1.0.0/24', 'block': 24}], "segment a: block (the prefix length of each "
                                                                      "host's block) must be in 25..30 (got 24)"),
    ([{'name': 'a', 'vni': 1, 'subnet': '10.1.0.0/24', 'mtu': 1451}],
     'segment a: mtu 1451 does not fit the underlay (smallest underlay MTU 1500 minus 50 bytes of VXLAN over IPv4: '
     'at most 1450)'),
    ([{'name': 'a', 'vni': 1, 'subnet': '10.1.0.0/24'}, {'name': 'b', 'vni': 1, 'subnet': '10.2.0.0/24'}],
     "segment b: vni 1 is also segment a's"),
    ([{'name': 'a', 'vni': 1, 'subnet': '10.1.0.0/24'}, {'name': 'b', 'vni': 2, 'subnet': '10.1.0.0/25'}],
     "segment b: subnet 10.1.0.0/25 overlaps segment a's 10.1.0.0/24"),
    ([{'name': 'a', 'vni': 1, 'subnet': '10.1.0.0/24', 'bridge': 'x' * 16}],
     'segment a: bridge must be an interface name of at most 15 bytes'),
])
def test_segment_refusals(segments, message):
    found = errors([host('h1', '192.168.7.1')], segments)
    assert any(message in e for e in found), found


def test_workloads_cannot_join_docker_segments():
    segs = [{'name': 'dk', 'vni': 1, 'subnet': '10.60.0.0/24', 'docker': True}]
    found = errors([dict(host('h1', '10.0.0.1', workloads=[{'name': 'w', 'segment': 'dk', 'address': '10.60.0.17'}]),
                         docker=engine())], segs)
    assert found == ['h1: workload w: segment dk is a docker segment; its containers join it with docker run '
                     '--network dk']


def test_default_underlay_is_the_default_routes_device():
    h = host('h1', None, default=True)
    h['info'] = info('192.168.7.1', default=True)
    p = ok_plan([h])
    assert p['hosts']['h1']['underlay_ip'] == '192.168.7.1' and p['hosts']['h1']['underlay_dev'] == 'u0'
    h['info']['routes'] = []
    assert errors([h]) == ['h1: no underlay address: the host has no default IPv4 route with an address on its '
                           'device; set hostnet_underlay_ip']


def test_duplicate_underlay_addresses():
    found = errors([host('h1', '192.168.7.1', number=1), host('h2', '192.168.7.1', number=2)])
    assert found == ["h2: underlay address 192.168.7.1 is also h1's"]


# ------------------------------------------------------------------ verification

def test_probes_cover_every_pair_once():
    p = ok_plan()
    web_h1, db_h1 = _fabric.probes(p, 'h1')
    assert web_h1['size'] == 1422 and web_h1['segment'] == 'web'
    pairs = [(x['from'], x['to'], x['address']) for x in web_h1['probes']]
    assert pairs == [('h1/a', 'h1/gw', '10.42.0.1'), ('h1/a', 'h2/gw', '10.42.0.2'), ('h1/a', 'h2/c', '10.42.0.33'),
                     ('h1/a', 'h3/gw', '10.42.0.3'), ('h1', 'h1/a', '10.42.0.17'), ('h1', 'h2/c', '10.42.0.33')]
    assert web_h1['probes'][0]['netns'] == 'hf-a' and 'netns' not in web_h1['probes'][-1]
    # the host probes from its own namespace when the role runs inside one
    hosts = three()
    hosts[0]['netns'] = 'nsh1'
    assert _fabric.probes(ok_plan(hosts), 'h1')[0]['probes'][-1]['netns'] == 'nsh1'


# ------------------------------------------------------------------ removal

def _links(*entries):
    return {'links': dict((name, {'kind': kind, 'alias': alias}) for name, kind, alias in entries)}


def test_stale_finds_only_what_the_role_marked():
    p = ok_plan()
    h1 = p['hosts']['h1']
    wl = h1['workloads'][0]
    state = _links(('hfbr4201', 'bridge', h1['segments'][0]['alias']),
                   ('hfvx4201', 'vxlan', h1['segments'][0]['alias']),
                   (wl['veth'], 'veth', wl['alias']),
                   ('hfw-old', 'veth', 'hostnet.fabric.vxlan_fabric kind=netns netns=hf-old workload=old'),
                   ('hfbr9', 'bridge', 'hostnet.fabric.vxlan_fabric segment=gone'),
                   ('hfvx9', 'vxlan', 'hostnet.fabric.vxlan_fabric segment=gone'),
                   ('br0', 'bridge', None), ('mine', 'veth', 'someone else'),
                   ('hfbr4202', 'bridge', None))
    assert vxlan_fabric_stale(state, h1, ['hf-old', 'hf-a']) == {
        'veths': ['hfw-old'], 'vxlans': ['hfvx9'], 'bridges': ['hfbr9'], 'netns': ['hf-old'], 'docker_networks': []}
    everything = vxlan_fabric_stale(state, None, ['hf-old', 'hf-a', 'hf-b'], also_netns=['hf-b', 'hf-zz'],
                                    docker_networks=['gone'])
    assert everything == {'veths': ['hfw-a', 'hfw-old'], 'vxlans': ['hfvx4201', 'hfvx9'],
                          'bridges': ['hfbr4201', 'hfbr9'], 'netns': ['hf-a', 'hf-b', 'hf-old'],
                          'docker_networks': ['gone']}


def test_stale_docker_networks_are_the_labelled_ones_the_plan_does_not_have():
    p = ok_plan(docker_hosts('20.10.24', '20.10.24'), DOCKER_SEGS)
    h1 = p['hosts']['h1']
    assert vxlan_fabric_stale({'links': {}}, h1, [], docker_networks=['dk', 'old'])['docker_networks'] == ['old']
    assert vxlan_fabric_stale({'links': {}}, None, [], docker_networks=['dk', 'old'])['docker_networks'] == ['dk', 'old']


def test_parse_alias():
    assert _fabric.parse_alias('hostnet.fabric.vxlan_fabric segment=web') == {'segment': 'web'}
    assert _fabric.parse_alias('hostnet.fabric.vxlan_fabricX') is None
    assert _fabric.parse_alias(None) is None


# ------------------------------------------------------------------ filter wrappers

def test_filters_take_ansible_shaped_input_and_refuse_nonsense():
    assert vxlan_fabric_plan(three(), SEGMENTS)['errors'] == []
    with pytest.raises(AnsibleFilterError, match='expects a list of hosts'):
        vxlan_fabric_plan('h1', SEGMENTS)
    with pytest.raises(AnsibleFilterError, match='host 0 must be a dict with a name'):
        vxlan_fabric_plan([{}], SEGMENTS)
    with pytest.raises(AnsibleFilterError, match='h9 is not a host of the plan'):
        vxlan_fabric_probes(ok_plan(), 'h9')
    assert vxlan_fabric_plan(three(), 'x')['errors'] == ["vxlan_fabric_segments: must be a list (got 'x')"]


def test_verdicts_and_matrices_from_looped_runs():
    from ansible_collections.hostnet.fabric.plugins.filter.vxlan_fabric import (
        vxlan_fabric_matrices, vxlan_fabric_verdicts)
    runs = [{'item': {'segment': 'web'}, 'results': [{'from': 'h1/a', 'to': 'h2/c', 'ok': True, 'status': 'ok'},
                                                     {'from': 'h1', 'to': 'h2/c', 'ok': False, 'status': 'MTU'}]},
            {'item': {'segment': 'db'}, 'skipped': True}]
    v1 = vxlan_fabric_verdicts(runs)
    assert v1 == {'web': [{'from': 'h1/a', 'to': 'h2/c', 'status': 'ok'}, {'from': 'h1', 'to': 'h2/c', 'status': 'MTU'}]}
    v2 = vxlan_fabric_verdicts([{'item': {'segment': 'web'}, 'results': [{'from': 'h2/c', 'to': 'h1/a', 'ok': False}]}])
    assert v2 == {'web': [{'from': 'h2/c', 'to': 'h1/a', 'status': 'MISS'}]}
    p = ok_plan()
    web, db = vxlan_fabric_matrices([v1, v2], p['segments'])
    assert web['misses'] == ['web: h1 -> h2/c: MTU', 'web: h2/c -> h1/a: MISS'] and not web['ok']
    assert web['lines'][0].startswith('segment web (VNI 4201, 10.42.0.0/24, MTU 1450')
    assert db['paths'] == 0 and not db['ok']


# ------------------------------------------------------------------ Docker networks: create, nothing, drift, recreate

DK_LABEL = 'hostnet.fabric.vxlan_fabric.segment'
WANTED = {'name': 'dk', 'bridge': 'hfbr4300', 'subnet': '10.60.0.0/24', 'ip_range': '10.60.0.32/28',
          'gateway': '10.60.0.2', 'mtu': '1450', 'labels': {DK_LABEL: 'dk'}}


def engine_net(**over):
    """A network as docker_engine_info reads it (the role made it as WANTED), with two containers."""
    net = {'name': 'dk', 'id': 'abc', 'driver': 'bridge', 'label': 'dk',
           'options': {'com.docker.network.bridge.name': 'hfbr4300', 'com.docker.network.driver.mtu': '1450'},
           'ipam': [{'subnet': '10.60.0.0/24', 'ip_range': '10.60.0.32/28', 'gateway': '10.60.0.2'}],
           'containers': [{'name': 'web1', 'ipv4_address': '10.60.0.33', 'mac_address': '02:42:0a:3c:00:21'},
                          {'name': 'web2', 'ipv4_address': '10.60.0.34', 'mac_address': '02:42:0a:3c:00:22'}]}
    net.update(over)
    return net


def test_a_missing_network_is_created_and_a_matching_one_left_alone():
    other = dict(WANTED, name='dk2', labels={DK_LABEL: 'dk2'})
    got = _fabric.docker_networks('h2', [WANTED, other], [engine_net()])
    assert got == {'apply': [dict(other, recreate=False)], 'recreate': [], 'unchanged': ['dk'], 'drifted': []}
    # the plan's own docker network (a real plan, not a copy) matches what the role made from it
    p = ok_plan(docker_hosts('26.1.5', '26.1.5'), DOCKER_SEGS)
    assert _fabric.docker_networks('h2', p['hosts']['h2']['docker_networks'], [engine_net()])['unchanged'] == ['dk']


def test_settings_that_are_not_the_roles_are_not_compared():
    # options the engine or someone else added, labels beside the role's: not managed, not drift
    net = engine_net(options={'com.docker.network.bridge.name': 'hfbr4300', 'com.docker.network.driver.mtu': '1450',
                              'com.docker.network.bridge.enable_icc': 'true'})
    assert _fabric.docker_networks('h2', [WANTED], [net])['unchanged'] == ['dk']


def test_a_drifted_network_is_reported_with_each_setting_and_its_containers_and_left_alone():
    net = engine_net(options={'com.docker.network.bridge.name': 'hfbr4300', 'com.docker.network.driver.mtu': '1400'},
                     ipam=[{'subnet': '10.60.0.0/24', 'ip_range': '10.60.0.16/28', 'gateway': '10.60.0.1'}])
    got = _fabric.docker_networks('h2', [WANTED], [net])
    assert got['apply'] == [] and got['recreate'] == [] and got['unchanged'] == []
    assert [dict(d, message=None) for d in got['drifted']] == [{
        'host': 'h2', 'network': 'dk', 'recreate': False, 'containers': net['containers'], 'message': None,
        'settings': [{'setting': 'mtu', 'current': '1400', 'wanted': '1450'},
                     {'setting': 'ip_range', 'current': '10.60.0.16/28', 'wanted': '10.60.0.32/28'},
                     {'setting': 'gateway', 'current': '10.60.0.1', 'wanted': '10.60.0.2'}]}]
    assert [d['message'] for d in got['drifted']] == [
        'DRIFT: h2: Docker network dk differs from the plan: mtu 1400 -> 1450; ip_range 10.60.0.16/28 -> '
        '10.60.0.32/28; gateway 10.60.0.1 -> 10.60.0.2. It was NOT recreated (recreating it disconnects its '
        'containers: web1 (10.60.0.33), web2 (10.60.0.34)); set vxlan_fabric_docker_recreate=true to recreate it '
        '(its containers are connected again, with their addresses where they fit its new ip_range 10.60.0.32/28).']


def test_drift_of_driver_bridge_subnet_label_and_missing_options():
    net = engine_net(driver='macvlan', label='other', options={}, containers=[],
                     ipam=[{'subnet': '10.61.0.0/24', 'ip_range': None, 'gateway': None}])
    got = _fabric.docker_networks('h2', [WANTED], [net])
    assert [(s['setting'], s['current'], s['wanted']) for s in got['drifted'][0]['settings']] == [
        ('driver', 'macvlan', 'bridge'), ('bridge', None, 'hfbr4300'), ('mtu', None, '1450'),
        ('subnet', '10.61.0.0/24', '10.60.0.0/24'), ('ip_range', None, '10.60.0.32/28'),
        ('gateway', None, '10.60.0.2'), ('label', 'other', 'dk')]
    assert [d['message'] for d in got['drifted']] == [
        'DRIFT: h2: Docker network dk differs from the plan: driver macvlan -> bridge; bridge (unset) -> hfbr4300; '
        'mtu (unset) -> 1450; subnet 10.61.0.0/24 -> 10.60.0.0/24; ip_range (unset) -> 10.60.0.32/28; gateway '
        '(unset) -> 10.60.0.2; label other -> dk. It was NOT recreated (no container is attached); set '
        'vxlan_fabric_docker_recreate=true to recreate it.']


def test_several_ipam_pools_are_drift_of_the_subnet():
    net = engine_net(ipam=[{'subnet': '10.60.0.0/24', 'ip_range': '10.60.0.32/28', 'gateway': '10.60.0.2'},
                           {'subnet': 'fd00::/64', 'ip_range': None, 'gateway': None}])
    got = _fabric.docker_networks('h2', [WANTED], [net])
    assert [(s['setting'], s['current']) for s in got['drifted'][0]['settings']] == [
        ('subnet', '10.60.0.0/24, fd00::/64'), ('ip_range', None), ('gateway', None)]


def test_with_recreate_a_drifted_network_is_recreated_and_the_message_says_who_keeps_an_address():
    net = engine_net(options={'com.docker.network.bridge.name': 'hfbr4300', 'com.docker.network.driver.mtu': '1400'},
                     containers=[{'name': 'web1', 'ipv4_address': '10.60.0.33', 'mac_address': None},
                                 {'name': 'web9', 'ipv4_address': '10.60.0.20', 'mac_address': None},
                                 {'name': 'web0', 'ipv4_address': '10.60.0.2', 'mac_address': None}])
    got = _fabric.docker_networks('h2', [WANTED], [net], recreate=True)
    assert got['apply'] == [dict(WANTED, recreate=True)] and got['recreate'] == [WANTED]
    assert got['drifted'][0]['recreate'] is True
    assert [d['message'] for d in got['drifted']] == [
        'DRIFT: h2: Docker network dk differs from the plan: mtu 1400 -> 1450. It is recreated '
        '(vxlan_fabric_docker_recreate=true): its containers are disconnected and connected again: web1 (10.60.0.33), '
        'web9 (10.60.0.20 is outside the new ip_range 10.60.0.32/28: it gets a new address), web0 (10.60.0.2 is '
        'outside the new ip_range 10.60.0.32/28: it gets a new address).']
    empty = _fabric.docker_networks('h2', [WANTED], [dict(net, containers=[])], recreate=True)
    assert [d['message'] for d in empty['drifted']] == [
        'DRIFT: h2: Docker network dk differs from the plan: mtu 1400 -> 1450. It is recreated '
        '(vxlan_fabric_docker_recreate=true); no container is attached.']
    # a matching network is never recreated, with recreate or without
    assert _fabric.docker_networks('h2', [WANTED], [engine_net()], recreate=True)['apply'] == []


def test_reconnect_keeps_addresses_that_fit_the_new_range_and_the_aliases():
    endpoints = [{'container': 'web1', 'ipv4_address': None, 'ipv6_address': None, 'aliases': ['www']},
                 {'container': 'fixed', 'ipv4_address': '10.60.0.40', 'ipv6_address': None, 'aliases': []},
                 {'container': 'old', 'ipv4_address': '10.60.0.20', 'ipv6_address': None, 'aliases': []},
                 {'container': 'late', 'ipv4_address': None, 'ipv6_address': None, 'aliases': []}]
    attached = [{'name': 'web1', 'ipv4_address': '10.60.0.33'}, {'name': 'fixed', 'ipv4_address': '10.60.0.40'},
                {'name': 'old', 'ipv4_address': '10.60.0.20'}]
    assert _fabric.reconnect(endpoints, WANTED, attached) == [
        {'container': 'web1', 'ipv4_address': '10.60.0.33', 'ipv6_address': None, 'aliases': ['www']},
        {'container': 'fixed', 'ipv4_address': '10.60.0.40', 'ipv6_address': None, 'aliases': []},
        # its own --ip address is not in this host's block any more: the engine picks one from the new range
        {'container': 'old', 'ipv4_address': None, 'ipv6_address': None, 'aliases': []},
        # connected after docker_engine_info read the network: nothing known, the engine picks
        {'container': 'late', 'ipv4_address': None, 'ipv6_address': None, 'aliases': []}]
    assert _fabric.docker_fits('10.60.0.2', WANTED) is False     # the gateway itself
    assert _fabric.docker_fits('bogus', WANTED) is False


def test_reconnect_filter_takes_the_looped_results_and_the_decision():
    net = engine_net(options={'com.docker.network.bridge.name': 'hfbr4300', 'com.docker.network.driver.mtu': '1400'})
    decision = vxlan_fabric_docker([WANTED], [net], 'h2', recreate=True)
    results = [{'item': decision['recreate'][0], 'changed': True,
                'endpoints': [{'container': 'web2', 'ipv4_address': None, 'ipv6_address': None, 'aliases': []}]},
               {'item': {'name': 'skipped'}, 'skipped': True}]
    assert vxlan_fabric_reconnect(results, decision) == [{'network': 'dk', 'endpoints': [
        {'container': 'web2', 'ipv4_address': '10.60.0.34', 'ipv6_address': None, 'aliases': []}]}]
    # nothing taken off (no container, or check mode skipped nothing but found none): nothing to connect
    assert vxlan_fabric_reconnect([dict(results[0], endpoints=[])], decision) == []
    assert vxlan_fabric_reconnect([], decision) == []


def test_docker_filter_refuses_a_recreate_that_is_not_a_boolean():
    with pytest.raises(AnsibleFilterError, match='vxlan_fabric_docker_recreate must be a boolean'):
        vxlan_fabric_docker([WANTED], [], 'h2', recreate='yes')
