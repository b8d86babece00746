import pytest

from ansible_collections.hostnet.fabric.plugins.module_utils._plan import (
    ApplyError,
    Plan,
    exclusive,
    plan_addresses,
    plan_exclusive,
    plan_link_settings,
)

from fakes import FakeNetlink


def boom():
    raise RuntimeError('boom')


def stuck():
    raise RuntimeError('stuck')


def test_apply_runs_in_order_and_rolls_back_in_reverse():
    log = []
    plan = Plan()
    plan.add('one', lambda: log.append('do1'), lambda: log.append('undo1'))
    plan.add('two (no undo)', lambda: log.append('do2'))
    plan.add('three', lambda: log.append('do3'), lambda: log.append('undo3'))
    plan.add('four', boom, lambda: log.append('undo4'))
    with pytest.raises(ApplyError) as err:
        plan.apply()
    assert log == ['do1', 'do2', 'do3', 'undo3', 'undo1']
    assert err.value.failed == 'four' and err.value.rolled_back == ['three', 'one']
    assert str(err.value) == 'boom (while: four); rolled back: three; one'


def test_rollback_errors_are_reported_and_rollback_continues():
    log = []
    plan = Plan()
    plan.add('a', lambda: None, lambda: log.append('undo a'))
    plan.add('b', lambda: None, stuck)
    plan.add('c', boom)
    with pytest.raises(ApplyError) as err:
        plan.apply()
    assert log == ['undo a'] and err.value.rollback_errors == ['b: stuck']
    assert 'ROLLBACK INCOMPLETE' in str(err.value)


def test_empty_plan_is_falsy():
    assert not Plan() and len(Plan()) == 0


@pytest.mark.parametrize('current, wanted, remove, add', [
    ([], ['10.0.0.1/24'], [], ['10.0.0.1/24']),
    (['10.0.0.1/24'], ['10.0.0.1/24'], [], []),
    (['10.0.0.1/24'], ['10.0.0.1/16'], ['10.0.0.1/24'], ['10.0.0.1/16']),  # prefix counts
    (['10.0.0.1/24', 'fd00::1/64'], [], ['10.0.0.1/24', 'fd00::1/64'], []),
    (['fd00::1/64'], ['fd00:0:0::1/64'], [], []),  # compared normalised
])
def test_plan_addresses(current, wanted, remove, add):
    assert plan_addresses(current, wanted) == (remove, add)


def view(**kw):
    base = {'name': 'x', 'mtu': 1500, 'mac': '02:00:00:00:00:01', 'up': True, 'master': None, 'addresses': []}
    base.update(kw)
    return base


def test_only_options_the_user_set_are_compared():
    nl = FakeNetlink()
    plan = Plan()
    want = {'mtu': None, 'mac': None, 'addresses': None, 'up': True}
    after = plan_link_settings(plan, nl, 'x', view(mtu=9000), want)
    assert not plan and after['mtu'] == 9000


def test_settings_planned_and_predicted():
    nl = FakeNetlink(links=[{'ifname': 'x', 'kind': 'veth'}, {'ifname': 'br0', 'kind': 'bridge'}])
    plan = Plan()
    after = plan_link_settings(plan, nl, 'x', view(up=False, addresses=['10.0.0.9/24']),
                               {'mtu': 1450, 'mac': None, 'master': 'br0', 'addresses': ['10.0.0.1/24'], 'up': True})
    assert plan.texts == [
        'set mtu of x to 1450 in the current namespace',
        'attach x to bridge br0 in the current namespace',
        'remove address 10.0.0.9/24 from x in the current namespace',
        'add address 10.0.0.1/24 to x in the current namespace',
        'set x up in the current namespace',
    ]
    assert after == view(mtu=1450, master='br0', addresses=['10.0.0.1/24'], up=True)
    assert nl.calls == []  # planning touches nothing
    plan.apply()
    assert nl.calls[0] == ('set_link', 'x', {'mtu': 1450})


def test_failure_restores_old_values_of_an_existing_link():
    nl = FakeNetlink(links=[{'ifname': 'x', 'kind': 'veth'}])
    plan = Plan()
    plan_link_settings(plan, nl, 'x', view(), {'mtu': 1400, 'addresses': ['10.0.0.1/24'], 'up': True})
    nl.fail_on = None
    original_add = nl.add_address

    def failing_add(ifname, cidr):
        original_add(ifname, cidr)
        raise RuntimeError('no')
    nl.add_address = failing_add
    with pytest.raises(ApplyError):
        plan.apply()
    assert nl.calls[-1] == ('set_link', 'x', {'mtu': 1500})  # mtu put back


@pytest.mark.parametrize('version, too_old', [('0.7.2', '0.7.2'), ('0.8.1', '0.8.1'), ('0.9.7', None),
                                              ('0.10.0', None), ('1.0a1', None)])
def test_pyroute2_version_gate(monkeypatch, version, too_old):
    from ansible_collections.hostnet.fabric.plugins.module_utils import _netlink
    monkeypatch.setattr(_netlink, 'PYROUTE2_VERSION', version)
    assert _netlink.pyroute2_too_old() == too_old


def test_each_undo_restores_its_own_old_value():
    nl = FakeNetlink(links=[{'ifname': 'x', 'kind': 'veth'}, {'ifname': 'br0', 'kind': 'bridge'},
                            {'ifname': 'br1', 'kind': 'bridge'}])
    plan = Plan()
    current = view(mtu=1500, mac='02:00:00:00:00:01', master='br0', up=True)
    plan_link_settings(plan, nl, 'x', current, {'mtu': 1400, 'mac': '02:00:00:00:00:99', 'master': 'br1',
                                                'addresses': None, 'up': False})
    plan.add('fails', boom)
    with pytest.raises(ApplyError):
        plan.apply()
    undos = [c for c in nl.calls if c[0] == 'set_link'][4:]
    assert undos == [('set_link', 'x', {'state': 'up'}),
                     ('set_link', 'x', {'master': nl.index_of('br0')}),
                     ('set_link', 'x', {'address': '02:00:00:00:00:01'}),
                     ('set_link', 'x', {'mtu': 1500})]


@pytest.mark.parametrize('current, wanted, texts, after', [
    (None, 'mine', ["set alias of x to 'mine' in the current namespace"], 'mine'),
    ('mine', 'mine', [], 'mine'),
    ('theirs', 'mine', ["set alias of x to 'mine' in the current namespace"], 'mine'),
    ('theirs', '', ["remove alias 'theirs' of x in the current namespace"], None),
    (None, '', [], None),  # '' wants none, and there is none
    ('theirs', None, [], 'theirs'),  # unmanaged
])
def test_alias_planned_and_predicted(current, wanted, texts, after):
    nl = FakeNetlink(links=[{'ifname': 'x', 'kind': 'veth'}])
    plan = Plan()
    predicted = plan_link_settings(plan, nl, 'x', view(alias=current), {'alias': wanted, 'up': True})
    assert plan.texts == texts and predicted['alias'] == after


def test_alias_undo_puts_the_old_alias_back():
    nl = FakeNetlink(links=[{'ifname': 'x', 'kind': 'veth'}])
    plan = Plan()
    plan_link_settings(plan, nl, 'x', view(alias='theirs'), {'alias': 'mine', 'up': True})
    plan.add('fails', boom)
    with pytest.raises(ApplyError) as err:
        plan.apply()
    assert nl.calls == [('set_link', 'x', {'ifalias': 'mine'}), ('set_link', 'x', {'ifalias': 'theirs'})]
    assert err.value.rolled_back == ["set alias of x to 'mine' in the current namespace"]


# ---------------------------------------------------------------- exclusive lists, planned once
def test_exclusive_keeps_order_and_finds_replacements():
    current = [{'ip': 'a', 'mac': '1'}, {'ip': 'b', 'mac': '2'}, {'ip': 'c', 'mac': '3'}]
    wanted = [{'ip': 'd', 'mac': '4'}, {'ip': 'b', 'mac': '9'}, {'ip': 'c', 'mac': '3'}]
    remove, put = exclusive(current, wanted, key=lambda e: e['ip'], value=lambda e: e['mac'])
    assert remove == [{'ip': 'a', 'mac': '1'}]
    assert put == [({'ip': 'd', 'mac': '4'}, None), ({'ip': 'b', 'mac': '9'}, {'ip': 'b', 'mac': '2'})]
    # without value, an item whose key is there is no change
    assert exclusive(current, wanted, key=lambda e: e['ip'])[1] == [({'ip': 'd', 'mac': '4'}, None)]
    assert exclusive(['x', 'y'], ['y', 'z', 'z']) == (['x'], [('z', None), ('z', None)])
    assert exclusive([], []) == ([], [])


def test_exclusive_is_linear_on_big_lists():
    # 20,000 items each side: a quadratic membership test would take minutes here
    current = ['10.0.%d.%d' % (i // 256, i % 256) for i in range(20000)]
    wanted = current[1000:] + ['10.1.%d.%d' % (i // 256, i % 256) for i in range(1000)]
    remove, put = exclusive(current, wanted)
    assert remove == current[:1000] and [item for item, _old in put] == wanted[-1000:]


class Steps:
    def __init__(self):
        self.steps = []

    def add(self, text, do, undo=None):
        self.steps.append((text, do, undo))


def test_plan_exclusive_texts_and_undo():
    steps = Steps()
    n = plan_exclusive(steps, ['a', 'b'], ['b', 'c'],
                       remove=lambda x: ('remove ' + x, 'del ' + x, 'add ' + x),
                       put=lambda x, old: ('add ' + x, 'add ' + x, 'del ' + x))
    assert n == 2 and steps.steps == [('remove a', 'del a', 'add a'), ('add c', 'add c', 'del c')]
    steps = Steps()
    plan_exclusive(steps, ['a'], ['c'], undoable=False,
                   remove=lambda x: ('remove ' + x, 'del ' + x, 'add ' + x),
                   put=lambda x, old: ('add ' + x, 'add ' + x, 'del ' + x))
    assert [s[2] for s in steps.steps] == [None, None]


def test_addresses_created_link_have_no_undo():
    nl = FakeNetlink(links=[{'ifname': 'x', 'kind': 'veth'}])
    plan = Plan()
    plan_link_settings(plan, nl, 'x', view(addresses=[]), {'addresses': ['10.0.0.1/24'], 'up': True}, created=True)
    assert plan.texts == ["add address 10.0.0.1/24 to x in the current namespace"] and plan.actions[0].undo is None
