import pytest

from conftest import addrs, changed, link, sh


def test_create_converge_idempotent(ansible, make_ns):
    ns = make_ns('h')
    args = {'name': 'br0', 'netns': ns, 'stp': True, 'mtu': 1400, 'addresses': ['10.1.0.1/24', 'fd00:1::1/64']}
    res = ansible.cycle('bridge', args, [ns])
    assert changed(res) == [True, True, False, False]
    assert res[0]['actions'] == res[1]['actions'] and res[0]['actions'][0].startswith('create bridge br0')
    br = link(ns, 'br0')
    assert br['linkinfo']['info_kind'] == 'bridge'
    assert br['linkinfo']['info_data']['stp_state'] == 1
    assert br['mtu'] == 1400 and 'UP' in br['flags']
    assert addrs(ns, 'br0') == ['10.1.0.1/24', 'fd00:1::1/64']
    # what the module returns is what the kernel has
    assert res[1]['bridge']['addresses'] == ['10.1.0.1/24', 'fd00:1::1/64']
    assert res[1]['bridge']['mac'] == br['address']
    assert res[1]['diff']['before'] == {} and res[1]['diff']['after']['stp'] is True


def test_addresses_are_exclusive_and_unset_options_unmanaged(ansible, make_ns):
    ns = make_ns('h')
    sh('ip', '-n', ns, 'link', 'add', 'br0', 'mtu', '1300', 'type', 'bridge')
    sh('ip', '-n', ns, 'addr', 'add', '10.1.0.1/24', 'dev', 'br0')
    sh('ip', '-n', ns, 'addr', 'add', '10.1.1.1/24', 'dev', 'br0')
    res = ansible.cycle('bridge', {'name': 'br0', 'netns': ns, 'addresses': ['10.1.1.1/24', '10.1.2.1/24']}, [ns])
    assert changed(res) == [True, True, False, False]
    assert addrs(ns, 'br0') == ['10.1.1.1/24', '10.1.2.1/24']
    assert link(ns, 'br0')['mtu'] == 1300  # mtu not given: left alone
    assert 'remove address 10.1.0.1/24' in ' '.join(res[1]['actions'])


def test_down_bridge_from_crashed_run_converges_in_one_run(ansible, make_ns):
    ns = make_ns('h')
    sh('ip', '-n', ns, 'link', 'add', 'br0', 'type', 'bridge')  # left down, no address
    res = ansible.run('bridge', {'name': 'br0', 'netns': ns, 'addresses': ['10.9.0.1/24']})
    assert res['changed'] and not res.get('failed')
    assert 'UP' in link(ns, 'br0')['flags'] and addrs(ns, 'br0') == ['10.9.0.1/24']
    assert not ansible.run('bridge', {'name': 'br0', 'netns': ns, 'addresses': ['10.9.0.1/24']})['changed']


def test_absent(ansible, make_ns):
    ns = make_ns('h')
    sh('ip', '-n', ns, 'link', 'add', 'br0', 'type', 'bridge')
    res = ansible.cycle('bridge', {'name': 'br0', 'netns': ns, 'state': 'absent'}, [ns])
    assert changed(res) == [True, True, False, False]
    assert link(ns, 'br0') is None


def test_stp_off_again(ansible, make_ns):
    ns = make_ns('h')
    ansible.run('bridge', {'name': 'br0', 'netns': ns, 'stp': True})
    res = ansible.cycle('bridge', {'name': 'br0', 'netns': ns, 'stp': False}, [ns])
    assert changed(res) == [True, True, False, False]
    assert link(ns, 'br0')['linkinfo']['info_data']['stp_state'] == 0


def test_other_kind_with_the_name_is_not_touched(ansible, make_ns):
    ns = make_ns('h')
    sh('ip', '-n', ns, 'link', 'add', 'br0', 'type', 'veth', 'peer', 'name', 'x0')
    res = ansible.refused('bridge', {'name': 'br0', 'netns': ns}, [ns])
    assert "'br0'" in res['msg'] and 'veth' in res['msg'] and 'not a bridge' in res['msg']
    res = ansible.refused('bridge', {'name': 'br0', 'netns': ns, 'state': 'absent'}, [ns])
    assert link(ns, 'br0')['linkinfo']['info_kind'] == 'veth'


def test_missing_namespace_is_an_error_and_not_created(ansible, make_ns):
    ns = make_ns.name('missing')
    res = ansible.refused('bridge', {'name': 'br0', 'netns': ns}, [ns])
    assert ns in res['msg'] and 'does not exist' in res['msg']
    res = ansible.refused('bridge', {'name': 'br0', 'netns': ns}, [ns], check=True)


def test_current_namespace_default(ansible, make_ns):
    ns = make_ns('h')  # ansible runs inside it, so it IS the current namespace
    res = ansible.run('bridge', {'name': 'brx', 'addresses': ['10.7.0.1/24']}, in_netns=ns)
    assert res['changed'] and res['bridge']['netns'] is None
    assert addrs(ns, 'brx') == ['10.7.0.1/24']
    assert not ansible.run('bridge', {'name': 'brx', 'addresses': ['10.7.0.1/24']}, in_netns=ns)['changed']


@pytest.mark.parametrize('args, param, rule', [
    ({'name': 'a' * 16}, 'name', 'at most 15 bytes'),
    ({'name': 'br/0'}, 'name', "may not contain '/'"),
    ({'name': 'br:0'}, 'name', "may not contain"),
    ({'name': 'br 0'}, 'name', "whitespace"),
    ({'name': 'br%d'}, 'name', "'%'"),
    ({'name': '.'}, 'name', "'.' or '..'"),
    ({'name': '..'}, 'name', "'.' or '..'"),
    ({'name': 'br0', 'mtu': 67}, 'mtu', 'must be in 68..65535'),
    ({'name': 'br0', 'mtu': 65536}, 'mtu', 'must be in 68..65535'),
    ({'name': 'br0', 'mac': '02:00:00:00:00'}, 'mac', 'must be a MAC address'),
    ({'name': 'br0', 'mac': '03:00:00:00:00:01'}, 'mac', 'unicast'),
    ({'name': 'br0', 'addresses': ['10.0.0.1']}, 'addresses[0]', 'prefix length'),
    ({'name': 'br0', 'addresses': ['10.0.0.1/24', '10.0.0.300/24']}, 'addresses[1]', 'prefix length'),
    ({'name': 'br0', 'netns': 'a/b'}, 'netns', "may not contain '/'"),
    ({'name': 'br0', 'netns': '..'}, 'netns', "'..'"),
    ({'name': 'br0', 'netns': 'a\nb'}, 'netns', 'control characters'),
])
def test_bad_input_fails_before_anything_is_touched(ansible, make_ns, args, param, rule):
    ns = make_ns('h')
    args = dict(args)
    args.setdefault('netns', ns)
    res = ansible.refused('bridge', args, [ns])
    assert res['msg'].startswith(param + ':') and rule in res['msg'], res['msg']


def test_alias_marks_set_changed_and_removed(ansible, make_ns):
    ns = make_ns('h')
    mark = 'hostnet.fabric vxlan_fabric seg1'
    res = ansible.cycle('bridge', {'name': 'br0', 'netns': ns, 'alias': mark}, [ns])
    assert changed(res) == [True, True, False, False]
    assert link(ns, 'br0')['ifalias'] == mark
    assert res[1]['bridge']['alias'] == mark and res[1]['diff']['after']['alias'] == mark
    # unmanaged when omitted
    assert not ansible.run('bridge', {'name': 'br0', 'netns': ns})['changed']
    assert link(ns, 'br0')['ifalias'] == mark
    res = ansible.cycle('bridge', {'name': 'br0', 'netns': ns, 'alias': 'other owner'}, [ns])
    assert changed(res) == [True, True, False, False]
    assert res[1]['actions'] == ["set alias of br0 to 'other owner' in namespace '%s'" % ns]
    res = ansible.cycle('bridge', {'name': 'br0', 'netns': ns, 'alias': ''}, [ns])
    assert changed(res) == [True, True, False, False]
    assert 'ifalias' not in link(ns, 'br0') and res[1]['bridge']['alias'] is None
    assert res[1]['actions'] == ["remove alias 'other owner' of br0 in namespace '%s'" % ns]


@pytest.mark.parametrize('alias, rule', [
    ('x' * 255, 'an interface alias is at most 254 bytes'),
    ('two\nlines', 'may not contain control characters'),
])
def test_bad_alias_fails_before_anything_is_touched(ansible, make_ns, alias, rule):
    ns = make_ns('h')
    res = ansible.refused('bridge', {'name': 'br0', 'netns': ns, 'alias': alias}, [ns])
    assert res['msg'].startswith('alias:') and rule in res['msg'], res['msg']


def test_longest_alias_is_accepted_by_the_kernel(ansible, make_ns):
    ns = make_ns('h')
    res = ansible.run('bridge', {'name': 'br0', 'netns': ns, 'alias': 'a' * 254})
    assert res['changed'] and not res.get('failed'), res
    assert link(ns, 'br0')['ifalias'] == 'a' * 254
