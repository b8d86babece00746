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
    # nothing but the name holds this namespace: removing the name destroys x0 and x1
    name = make_ns('a')
    sh('ip', '-n', name, 'link', 'add', 'x0', 'type', 'veth', 'peer', 'name', 'x1')
    res = ansible.refused('netns', {'name': name, 'state': 'absent'}, [name])
    assert res['msg'] == ("force: namespace '%s' still holds interfaces x0, x1 and nothing else keeps it alive: "
                          "removing its name destroys them; set force: true to remove it" % name)
    res = ansible.cycle('netns', {'name': name, 'state': 'absent', 'force': True}, [name])
    assert changed(res) == [True, True, False, False]
    assert res[0]['actions'] == ['remove namespace %s and destroy its interfaces x0, x1' % name]
    assert not os.path.exists('/run/netns/' + name)


def ip_links_of(pid):
    return sorted(sh('nsenter', '--net=/proc/%d/ns/net' % pid, 'ip', '-o', 'link', 'show').stdout.split('\n')[:-1])


def test_absent_of_a_namespace_a_process_still_holds_needs_no_force(ansible, make_ns, proc):
    # the name was adopted from a process (what `container:` does); the namespace holds a veth pair
    name = make_ns.name('p')
    p = proc()
    assert not ansible.run('netns', {'name': name, 'pid': p.pid}).get('failed')
    sh('ip', '-n', name, 'link', 'add', 'x0', 'type', 'veth', 'peer', 'name', 'x1')
    links = ip_links_of(p.pid)
    res = ansible.cycle('netns', {'name': name, 'state': 'absent'}, [name])
    assert changed(res) == [True, True, False, False]
    assert res[0]['actions'] == res[1]['actions'] == [
        'remove the name %s; the namespace lives on, held by process %d (sleep) (nothing is destroyed)' % (name, p.pid)]
    assert not os.path.exists('/run/netns/' + name)
    # the process kept its namespace and every interface in it
    assert p.poll() is None and ip_links_of(p.pid) == links and any(' x0@x1:' in l for l in links)


def test_absent_of_a_namespace_made_here_but_used_by_a_process_needs_no_force(ansible, make_ns):
    # `ip netns add` + a process started in it (`ip netns exec NAME ...`): the process holds it too
    name = make_ns('e')
    sh('ip', '-n', name, 'link', 'add', 'x0', 'type', 'veth', 'peer', 'name', 'x1')
    p = subprocess.Popen(['ip', 'netns', 'exec', name, 'sleep', '600'])
    try:
        for _attempt in range(100):  # bounded: wait until the child has entered the namespace
            try:
                if os.stat('/proc/%d/ns/net' % p.pid).st_ino == ns_inode('/run/netns/' + name):
                    break
            except OSError:
                pass
            threading.Event().wait(0.02)
        res = ansible.run('netns', {'name': name, 'state': 'absent'})
        assert res['changed'] and not res.get('failed'), res.get('msg')
        assert 'held by process %d (sleep)' % p.pid in res['actions'][0]
        assert any(' x0@x1:' in l for l in ip_links_of(p.pid))
    finally:
        p.kill()
        p.wait()


def test_absent_of_one_of_two_names_needs_no_force(ansible, make_ns):
    # two names (mounts) of one namespace: removing one leaves the other, with the interfaces
    name, other = make_ns('m'), make_ns.name('m2')
    sh('ip', '-n', name, 'link', 'add', 'x0', 'type', 'veth', 'peer', 'name', 'x1')
    open('/run/netns/' + other, 'w').close()
    sh('mount', '--bind', '/run/netns/' + name, '/run/netns/' + other)
    res = ansible.cycle('netns', {'name': name, 'state': 'absent'}, [name, other])
    assert changed(res) == [True, True, False, False]
    assert res[1]['actions'] == [
        'remove the name %s; the namespace lives on, held by mount /run/netns/%s (nothing is destroyed)'
        % (name, other)]
    assert sh('ip', '-n', other, '-o', 'link', 'show', 'x0').returncode == 0


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
    assert res['msg'].startswith('force:') and 'nothing else keeps it alive' in res['msg']
    res = ansible.run('netns', {'name': name, 'pid': p.pid, 'force': True})
    assert res['changed'] and ns_inode('/run/netns/' + name) == ns_inode('/proc/%d/ns/net' % p.pid)


def test_repointing_a_name_whose_old_namespace_a_process_holds_needs_no_force(ansible, make_ns, proc):
    # a container was re-created: the name still refers to the old one, whose process still runs
    name = make_ns.name('r')
    old, new = proc(), proc()
    assert not ansible.run('netns', {'name': name, 'pid': old.pid}).get('failed')
    sh('ip', '-n', name, 'link', 'add', 'x0', 'type', 'veth', 'peer', 'name', 'x1')
    res = ansible.run('netns', {'name': name, 'pid': new.pid})
    assert res['changed'] and not res.get('failed'), res.get('msg')
    assert res['actions'][0] == ('unmount namespace %s (it refers to another namespace, which lives on, held by '
                                 'process %d (sleep))' % (name, old.pid))
    assert ns_inode('/run/netns/' + name) == ns_inode('/proc/%d/ns/net' % new.pid)
    assert any(' x0@x1:' in l for l in ip_links_of(old.pid))


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
