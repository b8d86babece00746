import pytest

from conftest import addrs, changed, ip_json, link, sh


@pytest.fixture
def pair(make_ns):
    host, work = make_ns('h'), make_ns('w')
    sh('ip', '-n', host, 'link', 'add', 'br0', 'type', 'bridge')
    sh('ip', '-n', host, 'addr', 'add', '10.20.0.1/24', 'dev', 'br0')
    sh('ip', '-n', host, 'link', 'set', 'br0', 'up')
    return host, work


def workload(host, work, **extra):
    args = {'name': 'vw1', 'netns': host, 'master': 'br0', 'peer': 'eth0', 'peer_netns': work,
            'peer_addresses': ['10.20.0.11/24'], 'peer_gateway': '10.20.0.1', 'mtu': 1450}
    args.update(extra)
    return args


def test_workload_veth_idempotent_and_reachable(ansible, pair):
    host, work = pair
    res = ansible.cycle('veth', workload(host, work), [host, work])
    assert changed(res) == [True, True, False, False]
    assert res[0]['actions'] == res[1]['actions']
    end, peer = link(host, 'vw1'), link(work, 'eth0')
    assert end['linkinfo']['info_kind'] == 'veth' and end['master'] == 'br0' and end['mtu'] == 1450
    assert peer['mtu'] == 1450 and 'UP' in peer['flags'] and 'UP' in end['flags']
    assert addrs(work, 'eth0') == ['10.20.0.11/24']
    routes = ip_json(work, 'route', 'show', 'default')
    assert routes and routes[0]['gateway'] == '10.20.0.1'
    assert res[1]['veth']['peer']['gateway'] == '10.20.0.1' and res[1]['veth']['peer']['netns'] == work
    sh('ip', 'netns', 'exec', work, 'ping', '-c', '1', '-W', '2', '10.20.0.1')


def test_both_ends_in_one_namespace(ansible, make_ns):
    ns = make_ns('h')
    args = {'name': 'va', 'peer': 'vb', 'netns': ns, 'addresses': ['192.168.77.1/30'],
            'peer_addresses': ['192.168.77.2/30'], 'mac': '02:00:00:00:77:01', 'peer_mac': '02:00:00:00:77:02'}
    res = ansible.cycle('veth', args, [ns])
    assert changed(res) == [True, True, False, False]
    assert link(ns, 'va')['address'] == '02:00:00:00:77:01' and link(ns, 'vb')['address'] == '02:00:00:00:77:02'
    assert addrs(ns, 'vb') == ['192.168.77.2/30']


def test_current_namespace_and_peer_namespace_defaults(ansible, make_ns):
    outer, inner = make_ns('o'), make_ns('i')
    # ansible runs inside `outer`, which is then "the current namespace": `name` goes there
    args = {'name': 'vout', 'peer': 'vin', 'peer_netns': inner, 'peer_addresses': ['10.3.0.1/24']}
    res = ansible.run('veth', args, in_netns=outer)
    assert res['changed'] and not res.get('failed'), res.get('msg')
    assert link(outer, 'vout') is not None and addrs(inner, 'vin') == ['10.3.0.1/24']
    assert not ansible.run('veth', args, in_netns=outer)['changed']
    # peer_netns omitted: the peer is made next to `name`
    res = ansible.run('veth', {'name': 'va', 'peer': 'vb', 'netns': inner})
    assert res['changed'] and link(inner, 'va') is not None and link(inner, 'vb') is not None


def test_changes_converge(ansible, pair):
    host, work = pair
    ansible.run('veth', workload(host, work))
    res = ansible.cycle('veth', workload(host, work, mtu=1400, peer_addresses=['10.20.0.12/24'], master=''),
                        [host, work])
    assert changed(res) == [True, True, False, False]
    assert link(host, 'vw1').get('master') is None and link(work, 'eth0')['mtu'] == 1400
    assert addrs(work, 'eth0') == ['10.20.0.12/24']


def test_peer_down_from_crashed_run_is_brought_up(ansible, pair):
    host, work = pair
    ansible.run('veth', workload(host, work))
    sh('ip', '-n', work, 'link', 'set', 'eth0', 'down')
    res = ansible.run('veth', workload(host, work))
    assert res['changed'] and 'UP' in link(work, 'eth0')['flags']
    # the route went with the link; it is put back too
    assert ip_json(work, 'route', 'show', 'default')[0]['gateway'] == '10.20.0.1'


def test_wrong_peer_is_an_error_unless_recreate(ansible, pair, make_ns):
    host, work = pair
    other = make_ns('x')
    ansible.run('veth', workload(host, work))
    res = ansible.refused('veth', workload(host, other), [host, work, other])
    assert "its peer is" in res['msg'] and 'recreate' in res['msg']
    res = ansible.cycle('veth', workload(host, other, recreate=True), [host, work, other])
    assert changed(res) == [True, True, False, False]
    assert link(work, 'eth0') is None and link(other, 'eth0') is not None


def test_peer_name_taken_is_an_error(ansible, pair):
    host, work = pair
    sh('ip', '-n', work, 'link', 'add', 'eth0', 'type', 'bridge')
    res = ansible.refused('veth', workload(host, work), [host, work])
    assert "peer: 'eth0' already exists" in res['msg']
    assert link(work, 'eth0')['linkinfo']['info_kind'] == 'bridge'


def test_other_kind_with_the_name(ansible, pair):
    host, work = pair
    res = ansible.refused('veth', workload(host, work, name='br0'), [host, work])
    assert 'not a veth' in res['msg']
    ansible.refused('veth', {'name': 'br0', 'netns': host, 'state': 'absent'}, [host, work])


def test_missing_peer_namespace_leaves_nothing(ansible, pair, make_ns):
    host, work = pair
    gone = make_ns.name('gone')
    res = ansible.refused('veth', workload(host, gone), [host, work, gone])
    assert gone in res['msg'] and 'does not exist' in res['msg']
    assert link(host, 'vw1') is None


def test_failure_half_way_removes_what_was_created(ansible, pair):
    host, work = pair
    # a gateway outside the peer's subnet: the route step fails after both ends were made
    res = ansible.refused('veth', workload(host, work, peer_gateway='10.99.0.1'), [host, work])
    assert res['failed_action'].startswith('set default route via 10.99.0.1')
    assert res['rolled_back'][-1].startswith('create veth vw1')
    assert link(host, 'vw1') is None and link(work, 'eth0') is None


def test_absent(ansible, pair):
    host, work = pair
    ansible.run('veth', workload(host, work))
    res = ansible.cycle('veth', {'name': 'vw1', 'netns': host, 'state': 'absent'}, [host, work])
    assert changed(res) == [True, True, False, False]
    assert link(host, 'vw1') is None and link(work, 'eth0') is None


@pytest.mark.parametrize('extra, param, rule', [
    ({'name': 'x' * 16}, 'name', 'at most 15 bytes'),
    ({'peer': 'eth 0'}, 'peer', 'whitespace'),
    ({'peer_netns': 'a/b'}, 'peer_netns', "may not contain '/'"),
    ({'peer_mac': '01:00:5e:00:00:01'}, 'peer_mac', 'unicast'),
    ({'peer_addresses': ['10.20.0.11/33']}, 'peer_addresses[0]', 'prefix length'),
    ({'peer_gateway': '10.20.0'}, 'peer_gateway', 'IPv4 or IPv6'),
    ({'mtu': 65536}, 'mtu', '68..65535'),
    ({'master': 'br/0'}, 'master', "may not contain '/'"),
])
def test_bad_input_fails_before_anything_is_touched(ansible, pair, extra, param, rule):
    host, work = pair
    args = {k: v for k, v in workload(host, work, **extra).items() if v is not None}
    res = ansible.refused('veth', args, [host, work])
    assert res['msg'].startswith(param + ':') and rule in res['msg'], res['msg']


def test_missing_peer_refused_by_the_argument_spec(ansible, pair):
    # Ansible's required_if says it, before anything is touched
    host, work = pair
    args = {k: v for k, v in workload(host, work, peer=None).items() if v is not None}
    res = ansible.refused('veth', args, [host, work])
    assert 'state is present but all of the following are missing: peer' in res['msg'], res['msg']


def test_alias_on_this_end_only(ansible, make_ns):
    ns, peer = make_ns('h'), make_ns('w')
    args = {'name': 've0', 'netns': ns, 'peer': 'eth0', 'peer_netns': peer, 'alias': 'workload w1'}
    res = ansible.cycle('veth', args, [ns, peer])
    assert changed(res) == [True, True, False, False]
    assert link(ns, 've0')['ifalias'] == 'workload w1'
    assert 'ifalias' not in link(peer, 'eth0')
    assert res[1]['veth']['alias'] == 'workload w1' and res[1]['veth']['peer']['alias'] is None
