"""netns_ping's decisions: input checks (naming the probe), the ping command line, reading ping's output,
MISS vs MTU, the concurrency runner (real child processes, no ping needed) and the shape ping_matrix reads."""
import subprocess
import sys

import pytest

from ansible_collections.hostnet.fabric.plugins.filter.ping_matrix import ping_matrix
from ansible_collections.hostnet.fabric.plugins.module_utils import _nsexec
from ansible_collections.hostnet.fabric.plugins.module_utils._docker_api import DockerAPIError
from ansible_collections.hostnet.fabric.plugins.module_utils._validate import ValidationError
from ansible_collections.hostnet.fabric.plugins.modules import netns_ping as np

OK_OUT = """PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.
64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.055 ms

--- 10.0.0.2 ping statistics ---
1 packets transmitted, 1 received, 0% packet loss, time 0ms
rtt min/avg/max/mdev = 0.055/0.061/0.070/0.000 ms
"""
LOST_OUT = """PING 10.0.0.9 (10.0.0.9) 56(84) bytes of data.

--- 10.0.0.9 ping statistics ---
3 packets transmitted, 0 received, 100% packet loss, time 2030ms
"""
TOO_BIG_OUT = """PING 10.0.0.2 (10.0.0.2) 1373(1401) bytes of data.
ping: local error: message too long, mtu=1400

--- 10.0.0.2 ping statistics ---
1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms
"""


def params(probes, **kw):
    p = dict(probes=probes, size=56, dont_fragment=False, count=1, timeout=3, parallel=32, fail_on_miss=False,
             docker_host='unix:///var/run/docker.sock')
    p.update(kw)
    return p


def probe(**kw):
    pr = {'from': 'a', 'to': 'b', 'address': '10.0.0.2', 'netns': None, 'container': None, 'size': None,
          'dont_fragment': None}
    pr.update(kw)
    return pr


# ---------------------------------------------------------------- validate
def test_validate_normalises_and_applies_defaults():
    p = np.validate(params([probe(address='2001:DB8::1', netns='web1'),
                            probe(netns='/proc/1/ns/net', size=1422, dont_fragment=True)], size=100))
    first, second = p['probes']
    assert first['address'] == '2001:db8::1'
    assert first['netns'] == '/run/netns/web1'
    assert (first['size'], first['dont_fragment']) == (100, False)
    assert second['netns'] == '/proc/1/ns/net'
    assert (second['size'], second['dont_fragment']) == (1422, True)


@pytest.mark.parametrize('bad, param, text', [
    (probe(address='10.0.0.300'), 'probes[1].address', 'must be an IPv4 or IPv6 address'),
    (probe(address='224.0.0.1'), 'probes[1].address', 'must not be a multicast address'),
    (probe(netns='web1', container='web1'), 'probes[1]', 'netns and container are mutually exclusive'),
    (probe(netns='../etc'), 'probes[1].netns', "may not be '.' or contain '..'"),
    (probe(netns='/run/netns/../x'), 'probes[1].netns', "may not contain '..'"),
    (probe(container='bad name!'), 'probes[1].container', 'is not a valid container name or id'),
    (probe(size=70000), 'probes[1].size', 'must be in 0..65507'),
])
def test_validate_names_the_probe(bad, param, text):
    with pytest.raises(ValidationError) as err:
        np.validate(params([probe(), bad]))
    assert err.value.param == param
    assert text in str(err.value)


@pytest.mark.parametrize('key, value, text', [
    ('count', 0, 'count: must be in 1..100'),
    ('timeout', 0, 'timeout: must be in 1..600'),
    ('parallel', 0, 'parallel: must be in 1..1024'),
    ('size', -1, 'size: must be in 0..65507'),
])
def test_validate_options(key, value, text):
    with pytest.raises(ValidationError) as err:
        np.validate(params([probe()], **{key: value}))
    assert str(err.value).startswith(text)


def test_validate_docker_host_only_unix_when_a_container_is_probed():
    np.validate(params([probe()], docker_host='tcp://x:2375'))  # not used: not checked
    with pytest.raises(ValidationError) as err:
        np.validate(params([probe(container='web')], docker_host='tcp://x:2375'))
    assert err.value.param == 'docker_host'


# ---------------------------------------------------------------- resolve
def test_resolve_checks_every_namespace_and_container_before_probing():
    checked = []

    def check(param, path):
        checked.append((param, path))
        if path == '/run/netns/gone':
            raise ValidationError(param, 'no network namespace at %s' % path)
        return path

    pids = {'web': 42}

    def pid_of(host, ref):
        if ref not in pids:
            raise DockerAPIError("container: no container '%s' on the Docker engine at %s" % (ref, host))
        return pids[ref]

    p = np.validate(params([probe(netns='a'), probe(container='web'), probe(), probe(container='web')]))
    out = np.resolve(p['probes'], p['docker_host'], pid_of=pid_of, check_netns=check)
    assert [pr['path'] for pr in out] == ['/run/netns/a', '/proc/42/ns/net', None, '/proc/42/ns/net']
    assert checked[0] == ('probes[0].netns', '/run/netns/a')
    assert checked[1] == ('probes[1].container', '/proc/42/ns/net')

    p = np.validate(params([probe(), probe(netns='gone')]))
    with pytest.raises(ValidationError) as err:
        np.resolve(p['probes'], p['docker_host'], pid_of=pid_of, check_netns=check)
    assert str(err.value) == 'probes[1].netns: no network namespace at /run/netns/gone'

    p = np.validate(params([probe(), probe(), probe(container='db')]))
    with pytest.raises(ValidationError) as err:
        np.resolve(p['probes'], p['docker_host'], pid_of=pid_of, check_netns=check)
    assert str(err.value) == "probes[2].container: no container 'db' on the Docker engine at unix:///var/run/docker.sock"


def test_check_netns_refuses_what_is_not_a_network_namespace(tmp_path):
    with pytest.raises(ValidationError) as err:
        _nsexec.check_netns('probes[0].netns', str(tmp_path / 'none'))
    assert 'no network namespace at' in str(err.value)
    plain = tmp_path / 'file'
    plain.write_text('')
    with pytest.raises(ValidationError) as err:
        _nsexec.check_netns('probes[0].netns', str(plain))
    assert 'left-over file' in str(err.value)  # a plain file under a non-/proc path: nothing mounted on it
    with pytest.raises(ValidationError) as err:
        _nsexec.check_netns('probes[0].netns', '/proc/self/ns/uts')
    assert str(err.value) == 'probes[0].netns: /proc/self/ns/uts is not a network namespace'
    assert _nsexec.check_netns('x', '/proc/self/ns/net') == '/proc/self/ns/net'


# ---------------------------------------------------------------- the command and its output
def test_ping_argv():
    assert np.ping_argv('10.0.0.2', 56, False, 1, 3) == [
        'ping', '-4', '-n', '-c', '1', '-w', '3', '-s', '56', '-M', 'dont', '10.0.0.2']
    assert np.ping_argv('2001:db8::1', 1422, True, 3, 5, ping='/usr/bin/ping') == [
        '/usr/bin/ping', '-6', '-n', '-c', '3', '-w', '5', '-s', '1422', '-i', '0.2', '-M', 'do', '2001:db8::1']


def test_parse_ping():
    assert np.parse_ping(0, OK_OUT, 3) == (True, 0.061, '1/1 replies, rtt 0.061 ms')
    assert np.parse_ping(1, LOST_OUT, 3) == (False, None, '0 of 3 echo requests answered within 3s')
    assert np.parse_ping(1, TOO_BIG_OUT, 3) == (False, None, 'ping: local error: message too long, mtu=1400')
    assert np.parse_ping(2, 'ping: connect: Network is unreachable\n', 3) == (
        False, None, 'ping: connect: Network is unreachable')
    assert np.parse_ping(-9, '', 3) == (False, None, 'ping exited with -9: no output')


def test_miss_or_mtu():
    df = {'dont_fragment': True, 'size': 1373}
    assert np.needs_follow_up(df, False)
    assert not np.needs_follow_up(df, True)
    assert not np.needs_follow_up({'dont_fragment': False, 'size': 1373}, False)
    assert not np.needs_follow_up({'dont_fragment': True, 'size': np.SMALL}, False)
    assert np.status_of(True) == 'ok'
    assert np.status_of(False) == 'MISS'
    assert np.status_of(False, follow_up_ok=False) == 'MISS'
    assert np.status_of(False, follow_up_ok=True) == 'MTU'
    assert np.overhead('10.0.0.1') == 28
    assert np.overhead('2001:db8::1') == 48


# ---------------------------------------------------------------- running (child processes, no namespaces)
def shell_spawn(job):
    """Run the job's 'script' with sh instead of ping: what ping would print and its exit code."""
    return subprocess.Popen(['sh', '-c', job], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def test_run_concurrently_keeps_order_and_runs_in_parallel(tmp_path):
    """Each job waits (up to 20 s) until all three have started: they can only all pass if they run at once.
    No wall-clock bound: under load the barrier is reached later, never missed."""
    barrier = ('touch %s/$0; n=0; while [ "$(ls %s | wc -l)" -lt 3 ] && [ $n -lt 200 ]; do sleep 0.1; '
               'n=$((n+1)); done; [ "$(ls %s | wc -l)" -ge 3 ] || { echo alone; exit 9; }; ') % ((tmp_path,) * 3)
    jobs = [barrier + 'echo one; exit 0', barrier + 'echo two >&2; exit 1', barrier + 'echo three; exit 2']
    out = np.run_concurrently(['sh -c \'%s\' job%d' % (job, i) for i, job in enumerate(jobs)], 3, shell_spawn,
                              lambda job: 60)
    assert out == [(0, 'one\n'), (1, 'two\n'), (2, 'three\n')]


def test_run_concurrently_limits_parallelism(tmp_path):
    """Each job counts the jobs running beside it (a file each, removed before it exits): never more than 2."""
    job = ('touch %s/$$; ls %s | wc -l; sleep 0.2; rm %s/$$') % ((tmp_path,) * 3)
    out = np.run_concurrently([job] * 6, 2, shell_spawn, lambda job: 60)
    seen = [int(output) for _rc, output in out]
    assert all(rc == 0 for rc, _output in out) and max(seen) <= 2, seen


def test_run_concurrently_kills_a_probe_past_its_deadline_and_reports_spawn_errors():
    def spawn(job):
        if job == 'broken':
            raise OSError(2, 'No such file or directory')
        return shell_spawn(job)

    out = np.run_concurrently(['echo started; exec sleep 60', 'broken', 'exit 0'], 4, spawn, lambda job: 1)
    assert out[0][0] == -9 and out[0][1].startswith('started\n') and 'killed' in out[0][1]
    assert out[1] == (-1, 'could not start the probe: [Errno 2] No such file or directory')
    assert out[2] == (0, '')


def test_probe_all_follows_up_failed_df_probes_and_feeds_ping_matrix():
    """The fake 'ping' answers by size: the path carries 56 but not 1373 bytes with DF; 10.0.0.9 is dead."""
    def spawn(job):
        path, argv = job
        size, address = argv[argv.index('-s') + 1], argv[-1]
        if address == '10.0.0.9':
            script = 'printf %s "$LOST"; exit 1'
        elif size == '1373' and argv[argv.index('-M') + 1] == 'do':
            script = 'printf %s "$TOO_BIG"; exit 1'
        else:
            script = 'printf %s "$OK"; exit 0'
        return subprocess.Popen(['sh', '-c', script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env={'OK': OK_OUT, 'LOST': LOST_OUT, 'TOO_BIG': TOO_BIG_OUT})

    probes = np.validate(params([
        probe(**{'from': 'a', 'to': 'b'}),
        probe(**{'from': 'a', 'to': 'x', 'address': '10.0.0.9', 'size': 1373, 'dont_fragment': True}),
        probe(**{'from': 'b', 'to': 'a', 'size': 1373, 'dont_fragment': True}),
        probe(**{'from': 'b', 'to': 'b', 'size': 1373}),  # no DF: fragmented, passes
    ]))['probes']
    for pr in probes:
        pr['path'] = None
    results = np.probe_all(probes, 1, 3, 8, spawn=spawn)
    assert [r['status'] for r in results] == ['ok', 'MISS', 'MTU', 'ok']
    assert results[0]['rtt_ms'] == 0.061 and results[0]['ok'] is True
    assert results[2]['ok'] is False
    assert results[2]['msg'] == ('ping: local error: message too long, mtu=1400; a 1373-byte probe with DF fails '
                                 'but a 56-byte one passes: the path MTU is below 1401')
    assert np.misses(results) == ['a -> x: MISS', 'b -> a: MTU']
    matrix = ping_matrix(results)
    assert matrix['misses'] == ['a -> x: MISS', 'b -> a: MTU']
    assert matrix['lines'] == ['from \\ to  a    b   x', 'a          -    ok  MISS', 'b          MTU  ok  -']


def test_enter_preexec_is_none_for_the_own_namespace():
    assert _nsexec.enter_preexec(None) is None
    assert callable(_nsexec.enter_preexec('/proc/self/ns/net'))


def test_module_is_loadable_without_pyroute2_use():
    # the module runs no netlink code: importing it must not need a netlink socket
    assert 'pyroute2' not in np.__dict__
    assert sys.modules[np.__name__] is np
