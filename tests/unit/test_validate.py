import pytest

from ansible_collections.hostnet.fabric.plugins.module_utils import _validate as v


@pytest.mark.parametrize('value', ['eth0', 'a', 'x' * 15, 'br-ov1', 'vx.42', 'w@1'])
def test_ifname_ok(value):
    assert v.ifname('name', value) == value


@pytest.mark.parametrize('value, message', [
    ('x' * 16, "name: interface names are at most 15 bytes (got '%s')" % ('x' * 16)),
    ('é' * 8, "name: interface names are at most 15 bytes"),  # 16 bytes in UTF-8
    ('a/b', "name: interface name may not contain '/', ':', '%', whitespace or control characters (got 'a/b')"),
    ('a:b', "may not contain"),
    ('a b', "may not contain"),
    ('a\tb', "may not contain"),
    ('a%d', "may not contain"),
    ('.', "name: interface name may not be '.' or '..' (got '.')"),
    ('..', "may not be '.' or '..'"),
    ('', 'name: must be a non-empty interface name'),
    (None, 'name: must be a non-empty interface name'),
])
def test_ifname_bad(value, message):
    with pytest.raises(v.ValidationError) as err:
        v.ifname('name', value)
    assert message in str(err.value) and str(err.value).startswith('name: ')
    assert err.value.param == 'name'


@pytest.mark.parametrize('value, message', [
    ('a/b', "netns: namespace name may not contain '/' or control characters (got 'a/b')"),
    ('..', "netns: namespace name may not be '.' or contain '..'"),
    ('a..b', "contain '..'"),
    ('.', "may not be '.'"),
    ('a\x7fb', 'control characters'),
    ('a\nb', 'control characters'),
    ('n' * 256, 'at most 255 bytes'),
])
def test_netns_name_bad(value, message):
    with pytest.raises(v.ValidationError, match=None) as err:
        v.netns_name('netns', value)
    assert message in str(err.value)


@pytest.mark.parametrize('fn, value, ok', [
    (v.vni, 1, True), (v.vni, 16777215, True), (v.vni, 0, False), (v.vni, 16777216, False),
    (v.vni, True, False), (v.vni, '10', False),
    (v.port, 1, True), (v.port, 65535, True), (v.port, 0, False), (v.port, 65536, False),
    (v.mtu, 68, True), (v.mtu, 65535, True), (v.mtu, 67, False), (v.mtu, 65536, False),
    (v.ttl, 0, True), (v.ttl, 255, True), (v.ttl, 256, False), (v.ttl, -1, False),
])
def test_ranges(fn, value, ok):
    if ok:
        assert fn('p', value) == value
    else:
        with pytest.raises(v.ValidationError) as err:
            fn('p', value)
        assert str(err.value).startswith('p: must be')


def test_vni_message_names_range():
    with pytest.raises(v.ValidationError) as err:
        v.vni('vni', 16777216)
    assert str(err.value) == 'vni: must be in 1..16777215 (got 16777216)'


@pytest.mark.parametrize('value, norm', [
    ('02:42:AC:11:00:02', '02:42:ac:11:00:02'),
    ('02-42-ac-11-00-02', '02:42:ac:11:00:02'),
])
def test_mac_ok(value, norm):
    assert v.mac('mac', value) == norm


@pytest.mark.parametrize('value, message', [
    ('02:42:ac:11:00', 'must be a MAC address'),
    ('02:42:ac:11:00:0g', 'must be a MAC address'),
    ('02:42-ac:11:00:02', 'must be a MAC address'),
    ('01:00:5e:00:00:01', 'must be a unicast MAC'),
    ('00:00:00:00:00:00', 'must not be the all-zero MAC'),
    (42, 'must be a MAC address'),
])
def test_mac_bad(value, message):
    with pytest.raises(v.ValidationError) as err:
        v.mac('mac', value)
    assert message in str(err.value)


def test_ip_and_cidr():
    assert v.ip('ip', 'fd00:0::1') == 'fd00::1'
    assert v.cidr('a', '10.0.0.1/24') == '10.0.0.1/24'
    assert v.cidr('a', 'FD00::1/64') == 'fd00::1/64'
    with pytest.raises(v.ValidationError, match='must not be a multicast address'):
        v.ip('peers[0]', '239.1.1.1', allow_multicast=False)
    with pytest.raises(v.ValidationError, match='unspecified'):
        v.ip('peers[0]', '0.0.0.0')
    with pytest.raises(v.ValidationError, match='prefix length'):
        v.cidr('a', '10.0.0.1')
    with pytest.raises(v.ValidationError, match='prefix length'):
        v.cidr('a', '10.0.0.1/33')
    with pytest.raises(v.ValidationError, match='unicast host'):
        v.cidr('a', '224.0.0.1/4')


def test_lists_dedupe_and_name_the_element():
    assert v.cidr_list('addresses', ['10.0.0.1/24', '10.0.0.1/24']) == ['10.0.0.1/24']
    with pytest.raises(v.ValidationError) as err:
        v.ip_list('peers', ['10.0.0.1', 'x'])
    assert err.value.param == 'peers[1]'
    assert v.cidr_list('addresses', None) is None


def test_same_family():
    v.same_family('x', ['10.0.0.1', None, '10.0.0.2'])
    with pytest.raises(v.ValidationError, match='one IP family'):
        v.same_family('x', ['10.0.0.1', 'fd00::1'])


def test_multicast_group():
    assert v.multicast_ip('group', '239.1.1.1') == '239.1.1.1'
    with pytest.raises(v.ValidationError, match='must be a multicast address'):
        v.multicast_ip('group', '10.1.1.1')


# the C fast path for canonical IPv4 text must give exactly what the ipaddress path gives
@pytest.mark.parametrize('value', ['10.0.0.1', '0.0.0.0', '255.255.255.255', '224.0.0.1', '239.255.255.255',
                                   '223.255.255.255', '240.0.0.1', '010.0.0.1', '1.2.3', '1.2.3.4 ', ' 1.2.3.4',
                                   '1.2.3.256', '01.2.3.4', '1.2.3.4/32', '', 'fd00::1', '::ffff:1.2.3.4', b'10.0.0.1',
                                   7, None])
@pytest.mark.parametrize('allow_multicast', [True, False])
def test_ip_fast_path_agrees_with_ipaddress(value, allow_multicast, monkeypatch):
    def outcome():
        try:
            return 'ok', v.ip('p', value, allow_multicast=allow_multicast)
        except v.ValidationError as exc:
            return 'error', str(exc)

    fast = outcome()
    monkeypatch.setattr(v, '_canonical_ipv4', lambda _value: None)
    assert fast == outcome()


def test_same_family_without_parsing():
    v.same_family('x', ['10.0.0.1', None, '10.0.0.2'])
    v.same_family('x', ['fd00::1', '::ffff:1.2.3.4'])
    with pytest.raises(v.ValidationError, match='one IP family'):
        v.same_family('x', ['10.0.0.1', 'fd00::1'])
