import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hostnet.fabric.plugins.filter.ping_matrix import ping_matrix


def mesh(hosts, bad=()):
    return [{'from': a, 'to': b, 'rc': 1 if (a, b) in bad else 0} for a in hosts for b in hosts if a != b]


def test_full_mesh_is_an_aligned_table():
    m = ping_matrix(mesh(['h1', 'host-two', 'h3']), title='ov_net1')
    assert m['lines'] == [
        'ov_net1: 6 paths, all ok',
        'from \\ to  h1  host-two  h3',
        'h1         -   ok        ok',
        'host-two   ok  -         ok',
        'h3         ok  ok        -',
    ]
    assert m['table'] == '\n'.join(m['lines'])
    assert m['misses'] == [] and m['ok'] is True and m['paths'] == 6


def test_misses_are_named_in_table_order():
    m = ping_matrix(mesh(['a', 'b', 'c'], bad={('c', 'a'), ('a', 'b')}), title='t')
    assert m['misses'] == ['a -> b: MISS', 'c -> a: MISS']
    assert m['ok'] is False
    assert m['lines'][0] == 't: 6 paths, 2 MISSING'
    assert m['lines'][2] == 'a          -     MISS  ok'


def test_status_overrides_ok_and_rc_and_counts_as_a_miss():
    m = ping_matrix([{'from': 'w1', 'to': 'w2', 'ok': True, 'status': 'MTU'},
                     {'from': 'w1', 'to': 'gw', 'ok': False},
                     {'from': 'w2', 'to': 'w1', 'ok': True}])
    assert m['misses'] == ['w1 -> w2: MTU', 'w1 -> gw: MISS']
    assert m['lines'] == ['from \\ to  w1  w2   gw', 'w1         -   MTU  MISS', 'w2         ok  -    -']


def test_worse_result_of_one_path_stands():
    m = ping_matrix([{'from': 'a', 'to': 'b', 'rc': 0}, {'from': 'a', 'to': 'b', 'status': 'MTU'},
                     {'from': 'a', 'to': 'c', 'status': 'MTU'}, {'from': 'a', 'to': 'c', 'rc': 0}])
    assert m['misses'] == ['a -> b: MTU', 'a -> c: MTU']
    assert m['paths'] == 2


def test_given_order_comes_first_and_untested_cells_show_a_dash():
    m = ping_matrix([{'from': 'b', 'to': 'a', 'rc': 0}], rows=['a', 'b'], columns=['a', 'b'])
    assert m['lines'] == ['from \\ to  a   b', 'a          -   -', 'b          ok  -']
    assert m['misses'] == []


def test_nothing_tested_is_not_ok():
    m = ping_matrix([], title='empty')
    assert m['ok'] is False and m['paths'] == 0
    assert m['lines'][0] == 'empty: 0 paths, nothing tested'


@pytest.mark.parametrize('results, message', [
    ('h1', 'expects a list of results (got str)'),
    ([['h1', 'h2']], "result 0 must be a dict (got ['h1', 'h2'])"),
    ([{'to': 'h2', 'rc': 0}], 'result 0: from must be a name (got None)'),
    ([{'from': 'h1', 'to': 'h2', 'rc': 0}, {'from': 'h1', 'to': 'h3'}], 'result 1 (h1 -> h3) has none of status, ok, rc'),
    ([{'from': 'h1', 'to': 'h2', 'rc': 'x'}], "result 0: rc must be an integer (got 'x')"),
])
def test_bad_input_is_refused_naming_the_result(results, message):
    with pytest.raises(AnsibleFilterError) as exc:
        ping_matrix(results)
    assert str(exc.value) == 'ping_matrix: ' + message
