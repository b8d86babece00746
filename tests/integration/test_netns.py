import os
import subprocess
import threading

import pytest

from conftest import changed, sh


def ns_inode(path):
    return os.stat(path).st_ino


@pytest.fixture
def proc():
    """A process in a network namespace of its own (what a container's init is)."""
    procs = []

    def start():
        p = subprocess.Popen(['unshare', '--net', 'sleep', '600'])
        for _attempt in range(100):  # bounded: wait until unshare has exec'd into sleep
            try:
                if os.readlink('/proc/%d/ns/net' % p.pid) != os.readlink('/proc/self/ns/net'):
                    break
            except OSError:
                pass
            threading.Event().wait(0.02)
        procs.append(p)
        return p
    yield start
    for p in procs:
        p.kill()
        p.wait()


def test_create_and_remove(ansible, make_ns):
    name = make_ns.name('a')
    res = ansible.cycle('netns', {'name': name}, [name])
    assert changed(res) == [True, True, False, False]
    assert os.path.ismount('/run/netns/' + name)
    assert res[1]['netns']['interfaces'] == ['lo'] and res[1]['netns']['path'] == '/run/netns/' + name
    res = ansible.cycle('netns', {'name': name, 'state': 'absent'}, [name])
    assert changed(res) == [True, True, False, False]
    assert not os.path.exists('/run/netns/' + name)


def test_names_are_matched_exactly(ansible, make_ns):
    longer = make_ns('abc')
    name = make_ns.name('ab')
    res = ansible.run('netns', {'name': name, 'state': 'absent'})
    assert not res['changed'] and os.path.exists('/run/netns/' + longer)


def test_absent_with_interfaces_needs_force(ansible, make_ns):
    name = make_ns('a')
    sh('ip', '-n', name, 'link', 'add', 'x0', 'type', 'veth', 'peer', 'name', 'x1')
    res = ansible.refused('netns', {'name': name, 'state': 'absent'}, [name])
    assert res['msg'].startswith('force:') and 'x0, x1' in res['msg']
    res = ansible.cycle('netns', {'name': name, 'state': 'absent', 'force': True}, [name])
    assert changed(res) == [True, True, False, False]
    assert not os.path.exists('/run/netns/' + name)


def test_stale_file_from_a_crashed_run_is_replaced(ansible, make_ns):
    name = make_ns.name('s')
    os.makedirs('/run/netns', exist_ok=True)
    open('/run/netns/' + name, 'w').close()  # what a crash between create and mount leaves
    res = ansible.run('netns', {'name': name})
    assert res['changed'] and 'remove stale' in res['actions'][0]
    assert os.path.ismount('/run/netns/' + name)
    sh('ip', 'netns', 'exec', name, 'ip', 'link', 'show', 'lo')
    assert not ansible.run('netns', {'name': name})['changed']


def test_attach_a_process_namespace(ansible, make_ns, proc):
    name = make_ns.name('p')
    p = proc()
    res = ansible.cycle('netns', {'name': name, 'pid': p.pid}, [name])
    assert changed(res) == [True, True, False, False]
    assert ns_inode('/run/netns/' + name) == ns_inode('/proc/%d/ns/net' % p.pid)
    assert sh('ip', 'netns', 'identify', str(p.pid)).stdout.split() == [name]
    # `ip netns exec NAME` now works on the process's network
    sh('ip', 'netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up')
    # the process is restarted (a new namespace): the name follows it
    q = proc()
    res = ansible.cycle('netns', {'name': name, 'pid': q.pid}, [name])
    assert changed(res) == [True, True, False, False]
    assert res[1]['actions'][0].startswith('unmount namespace')
    assert ns_inode('/run/netns/' + name) == ns_inode('/proc/%d/ns/net' % q.pid)
    # removing the name leaves the process's network alone
    ansible.run('netns', {'name': name, 'state': 'absent'})
    assert q.poll() is None and not os.path.exists('/run/netns/' + name)


def test_repointing_a_namespace_with_interfaces_needs_force(ansible, make_ns, proc):
    name = make_ns('p')
    sh('ip', '-n', name, 'link', 'add', 'x0', 'type', 'veth', 'peer', 'name', 'x1')
    p = proc()
    res = ansible.refused('netns', {'name': name, 'pid': p.pid}, [name])
    assert res['msg'].startswith('force:')
    res = ansible.run('netns', {'name': name, 'pid': p.pid, 'force': True})
    assert res['changed'] and ns_inode('/run/netns/' + name) == ns_inode('/proc/%d/ns/net' % p.pid)


def test_a_process_in_our_own_namespace_is_refused(ansible, make_ns):
    name = make_ns.name('p')
    res = ansible.refused('netns', {'name': name, 'pid': os.getpid()}, [name])
    assert 'shares this host' in res['msg']
    res = ansible.refused('netns', {'name': name, 'pid': 4194304}, [name])
    assert res['msg'].startswith('pid:')


def test_container_namespace_through_the_engine_api(ansible, make_ns, proc, engine_api):
    host, routes = engine_api
    p = proc()
    routes['/containers/web/json'] = {'Id': 'abc', 'State': {'Running': True, 'Pid': p.pid, 'Status': 'running'}}
    routes['/containers/stopped/json'] = {'Id': 'def', 'State': {'Running': False, 'Pid': 0, 'Status': 'exited'}}
    name = make_ns.name('web')
    res = ansible.cycle('netns', {'name': name, 'container': 'web', 'docker_host': host}, [name])
    assert changed(res) == [True, True, False, False]
    assert ns_inode('/run/netns/' + name) == ns_inode('/proc/%d/ns/net' % p.pid)
    res = ansible.refused('netns', {'name': make_ns.name('x'), 'container': 'stopped', 'docker_host': host},
                          [name, make_ns.name('x')])
    assert "container: 'stopped' is not running (status: exited)" in res['msg']
    res = ansible.refused('netns', {'name': make_ns.name('x'), 'container': 'nope', 'docker_host': host},
                          [name, make_ns.name('x')])
    assert "container: no container 'nope'" in res['msg']
    res = ansible.refused('netns', {'name': make_ns.name('x'), 'container': 'web',
                                    'docker_host': 'unix:///nonexistent/docker.sock'}, [name, make_ns.name('x')])
    assert 'cannot reach the Docker engine' in res['msg']


@pytest.mark.parametrize('args, param, rule', [
    ({'name': '../etc'}, 'name', "'..'"),
    ({'name': 'a/b'}, 'name', "may not contain '/'"),
    ({'name': '.'}, 'name', "'.'"),
    ({'name': 'a\x01b'}, 'name', 'control characters'),
    ({'name': 'n' * 256}, 'name', 'at most 255 bytes'),
    ({'name': 'ok', 'pid': 0}, 'pid', 'positive'),
    ({'name': 'ok', 'pid': 1, 'container': 'web'}, 'pid', 'mutually exclusive'),
    ({'name': 'ok', 'container': 'web', 'docker_host': 'tcp://127.0.0.1:2375'}, 'docker_host', 'unix://'),
    ({'name': 'ok', 'container': 'a/../b'}, 'container', 'not a valid container name'),
])
def test_bad_input(ansible, make_ns, args, param, rule):
    name = make_ns.name('ok')
    args = dict(args, name=args['name'] if args['name'] != 'ok' else name)
    res = ansible.refused('netns', args, [name])
    assert param in res['msg'] and rule in res['msg'], res['msg']
