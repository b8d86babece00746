"""hostnet.fabric.netns_ping on real namespaces: two "hosts" joined by a veth of MTU 1400, a process standing in
for a container (its namespace reached through /proc/PID/ns/net, the pid from a stand-in engine API), a target
nobody answers for, and DF probes exactly at and one byte over the path MTU."""
import os
import subprocess
import time

import pytest

from conftest import sh, snapshot

from ansible_collections.hostnet.fabric.plugins.filter.ping_matrix import ping_matrix

MTU = 1400


@pytest.fixture
def pair(make_ns):
    a, b = make_ns('a'), make_ns('b')
    sh('ip', 'link', 'add', 'pa0', 'netns', a, 'mtu', str(MTU), 'type', 'veth', 'peer', 'name', 'pb0', 'netns', b,
       'mtu', str(MTU))
    for ns, dev, v4, v6 in ((a, 'pa0', '10.77.0.1/24', 'fd77::1/64'), (b, 'pb0', '10.77.0.2/24', 'fd77::2/64')):
        sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
        sh('ip', '-n', ns, 'link', 'set', dev, 'up')
        sh('ip', '-n', ns, 'addr', 'add', v4, 'dev', dev)
        sh('ip', '-n', ns, '-6', 'addr', 'add', v6, 'dev', dev, 'nodad')
    return a, b


@pytest.fixture
def container(pair, engine_api):
    """A process in b's namespace, announced by the stand-in engine as the running container 'web'."""
    host, routes = engine_api
    proc = subprocess.Popen(['ip', 'netns', 'exec', pair[1], 'sleep', '600'])
    target = os.stat('/run/netns/' + pair[1]).st_ino
    deadline = time.monotonic() + 10
    while os.stat('/proc/%d/ns/net' % proc.pid).st_ino != target:  # ip netns exec has not entered it yet
        assert time.monotonic() < deadline, 'the stand-in container did not enter its namespace'
        time.sleep(0.05)
    routes['/containers/web/json'] = {'Id': 'ab' * 32, 'Name': '/web',
                                      'State': {'Running': True, 'Pid': proc.pid, 'Status': 'running'}}
    yield host
    proc.kill()
    proc.wait()


def test_matrix_with_an_unreachable_target_mtu_edges_and_a_container(ansible, pair, container):
    a, b = pair
    probes = [
        {'from': 'a', 'to': 'b', 'netns': a, 'address': '10.77.0.2'},
        {'from': 'b', 'to': 'a', 'netns': '/run/netns/' + b, 'address': '10.77.0.1'},
        {'from': 'web', 'to': 'a', 'container': 'web', 'address': '10.77.0.1'},
        {'from': 'a', 'to': 'dead', 'netns': a, 'address': '10.77.0.9'},
        {'from': 'a', 'to': 'b6', 'netns': a, 'address': 'fd77::2'},
        # DF: exactly MTU - 28 bytes of payload fit, one more does not
        {'from': 'a', 'to': 'b df %d' % (MTU - 28), 'netns': a, 'address': '10.77.0.2', 'size': MTU - 28,
         'dont_fragment': True},
        {'from': 'a', 'to': 'b df %d' % (MTU - 27), 'netns': a, 'address': '10.77.0.2', 'size': MTU - 27,
         'dont_fragment': True},
        # IPv6: 48 bytes of headers
        {'from': 'a', 'to': 'b6 df %d' % (MTU - 48), 'netns': a, 'address': 'fd77::2', 'size': MTU - 48,
         'dont_fragment': True},
        {'from': 'a', 'to': 'b6 df %d' % (MTU - 47), 'netns': a, 'address': 'fd77::2', 'size': MTU - 47,
         'dont_fragment': True},
        # without DF the big one is fragmented and passes
        {'from': 'a', 'to': 'b frag', 'netns': a, 'address': '10.77.0.2', 'size': MTU - 27},
    ]
    before = snapshot([a, b])
    normal, checked = ansible.play([
        {'name': 'probe', 'hostnet.fabric.netns_ping': {'probes': probes, 'docker_host': container, 'timeout': 2}},
        {'name': 'probe (check)', 'hostnet.fabric.netns_ping': {'probes': probes, 'docker_host': container,
                                                                'timeout': 2}, 'check_mode': True},
    ])
    for res in (normal, checked):
        assert not res.get('failed'), res.get('msg')
        assert res['changed'] is False
        status = dict((r['to'], r['status']) for r in res['results'] if r['from'] == 'a')
        assert status == {'b': 'ok', 'dead': 'MISS', 'b6': 'ok', 'b df 1372': 'ok', 'b df 1373': 'MTU',
                          'b6 df 1352': 'ok', 'b6 df 1353': 'MTU', 'b frag': 'ok'}, res['results']
        assert [r['status'] for r in res['results'] if r['from'] != 'a'] == ['ok', 'ok']
        assert res['misses'] == ['a -> dead: MISS', 'a -> b df 1373: MTU', 'a -> b6 df 1353: MTU']
        assert res['ok'] is False
    web = normal['results'][2]
    assert web['netns'].startswith('/proc/') and web['container'] == 'web' and web['rtt_ms'] > 0
    assert 'path MTU is below 1401' in normal['results'][6]['msg']
    matrix = ping_matrix(normal['results'])
    assert matrix['misses'] == normal['misses']
    assert snapshot([a, b]) == before


def test_fail_on_miss_names_every_pair(ansible, pair):
    a, b = pair
    res = ansible.run('netns_ping', {'fail_on_miss': True, 'timeout': 1, 'probes': [
        {'from': 'a', 'to': 'b', 'netns': a, 'address': '10.77.0.2'},
        {'from': 'a', 'to': 'x', 'netns': a, 'address': '10.77.0.8'},
        {'from': 'b', 'to': 'y', 'netns': b, 'address': '10.77.0.9'}]})
    assert res['failed']
    assert res['msg'] == '2 of 3 probes failed: a -> x: MISS; b -> y: MISS'
    assert [r['status'] for r in res['results']] == ['ok', 'MISS', 'MISS']
    ok = ansible.run('netns_ping', {'fail_on_miss': True, 'count': 3, 'probes': [
        {'from': 'a', 'to': 'b', 'netns': a, 'address': '10.77.0.2'}]})
    assert not ok.get('failed') and ok['ok'] is True and ok['results'][0]['msg'].startswith('3/3 replies')


@pytest.mark.parametrize('bad, text', [
    ({'address': '10.77.0.300'}, "probes[1].address: must be an IPv4 or IPv6 address (got '10.77.0.300')"),
    ({'netns': 'NS', 'container': 'web'}, 'probes[1]: netns and container are mutually exclusive'),
    ({'netns': 'hft-no-such-ns'}, 'probes[1].netns: no network namespace at /run/netns/hft-no-such-ns'),
    ({'netns': '/proc/self/ns/uts'}, 'probes[1].netns: /proc/self/ns/uts is not a network namespace'),
    ({'container': 'gone'}, "probes[1].container: no container 'gone' on the Docker engine at unix://"),
])
def test_bad_input_fails_before_any_probe(ansible, pair, engine_api, bad, text):
    a, _b = pair
    host, _routes = engine_api
    wrong = {'from': 'a', 'to': 'z', 'address': '10.77.0.2'}
    wrong.update(dict((k, a if v == 'NS' else v) for k, v in bad.items()))
    res = ansible.run('netns_ping', {'docker_host': host, 'timeout': 300, 'probes': [
        {'from': 'a', 'to': 'dead', 'netns': a, 'address': '10.77.0.9'}, wrong]})
    assert res['failed']
    assert res['msg'].startswith(text), res['msg']
    assert 'results' not in res  # nothing was probed
    # the dead target's probe would take 300 s: far past anything load can add to a refused task
    assert res['_seconds'] < 150, 'the task ran %s s: a probe ran before the input was refused' % res['_seconds']


def test_probes_to_dead_addresses_all_miss_in_parallel_and_one_by_one(ansible, pair):
    """Eight probes to dead addresses, concurrently and with parallel: 1. How many run at once is checked by the
    unit tests of run_concurrently (instrumented jobs, no clock); the time it saves is bench/ material."""
    a, _b = pair
    probes = [{'from': 'a', 'to': 'dead%d' % i, 'netns': a, 'address': '10.77.0.%d' % (100 + i)} for i in range(8)]
    res = ansible.run('netns_ping', {'probes': probes, 'timeout': 2})
    assert [r['status'] for r in res['results']] == ['MISS'] * 8
    serial = ansible.run('netns_ping', {'probes': probes[:3], 'timeout': 2, 'parallel': 1})
    assert [r['status'] for r in serial['results']] == ['MISS'] * 3
