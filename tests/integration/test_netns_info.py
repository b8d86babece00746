"""hostnet.fabric.netns_info on the real kernel: what it returns is compared, field by field, with what
iproute2 (`ip -j -d link/addr/route/neigh`, `bridge -j fdb/link`) reports for the same objects."""
import json
import os

import pytest

pytest.register_assert_rewrite('netns_compare')  # detailed assertion messages from the shared comparison
import netns_compare  # noqa: E402 pylint: disable=wrong-import-position
from conftest import sh, snapshot
from netns_compare import compare
# the fixture `proc` (a process in a network namespace of its own), used by `container` below
from test_netns import proc  # noqa: F401 pylint: disable=unused-import

VNI = 4242
NET_ID = 'f3a5b2c1d0e9' + '0' * 52  # a Docker network id (64 hex digits)


@pytest.fixture
def fabric(make_ns):
    """Namespace 'a' holds a small VXLAN fabric node; 'b' is the other end of its underlay.

    a: br0 (10.70.0.1/24, fd70::1/64) with ports vx0 (VXLAN 4242, local 192.0.2.1 dev u0, learning off,
       proxy, l2miss, l3miss, ttl 16) and w0 (veth to w1, with an alias); u0 (veth to u1 in b, 192.0.2.1/24);
       static FDB entries on vx0 (self, with dst, one with port and vni) and on br0 (master, static);
       neighbours (permanent, stale, an IPv6 router; the VTEPs on u0, permanent); routes (gateway, table 100, IPv6,
       blackhole).
    IPv6 link-local addresses are off (addrgenmode none): no traffic, so nothing is learned behind our back.
    """
    a, b = make_ns('a'), make_ns('b')

    def ip(*args):
        sh('ip', '-n', a, *args)

    ip('link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1', 'netns', b)
    ip('link', 'add', 'br0', 'mtu', '1450', 'type', 'bridge')
    ip('link', 'add', 'w0', 'mtu', '1450', 'type', 'veth', 'peer', 'name', 'w1', 'mtu', '1450')
    ip('link', 'add', 'vx0', 'mtu', '1450', 'type', 'vxlan', 'id', str(VNI), 'dstport', '4789', 'local', '192.0.2.1',
       'dev', 'u0', 'nolearning', 'proxy', 'l2miss', 'l3miss', 'ttl', '16')
    for dev in ('u0', 'br0', 'w0', 'w1', 'vx0'):
        ip('link', 'set', dev, 'addrgenmode', 'none')
    sh('ip', '-n', b, 'link', 'set', 'u1', 'addrgenmode', 'none')
    ip('link', 'set', 'w0', 'master', 'br0')
    ip('link', 'set', 'vx0', 'master', 'br0')
    ip('link', 'set', 'dev', 'w0', 'alias', 'workload web1')
    for dev in ('lo', 'u0', 'br0', 'w0', 'w1', 'vx0'):
        ip('link', 'set', dev, 'up')
    sh('ip', '-n', b, 'link', 'set', 'u1', 'up')
    ip('addr', 'add', '192.0.2.1/24', 'dev', 'u0')
    ip('addr', 'add', '10.70.0.1/24', 'dev', 'br0')
    ip('addr', 'add', 'fd70::1/64', 'dev', 'br0', 'nodad')
    ip('route', 'add', '10.80.0.0/16', 'via', '10.70.0.254')
    ip('route', 'add', '10.90.0.0/16', 'dev', 'br0', 'table', '100')
    ip('route', 'add', 'fd80::/64', 'via', 'fd70::254', 'metric', '20')
    ip('route', 'add', 'blackhole', '10.99.0.0/16', 'proto', 'static')
    ip('neigh', 'add', '10.70.0.11', 'lladdr', '02:42:0a:46:00:0b', 'dev', 'br0', 'nud', 'permanent')
    # extern_learn: the neighbour table's garbage collector leaves it alone. The table is shared by all
    # namespaces, so tests elsewhere that fill it (thousands of entries) would otherwise have a stale
    # entry collected between the module's read and iproute2's (seen under load in the full suite).
    ip('neigh', 'add', '10.70.0.12', 'lladdr', '02:42:0a:46:00:0c', 'dev', 'br0', 'nud', 'stale', 'extern_learn')
    ip('neigh', 'add', 'fd70::254', 'lladdr', '02:42:0a:46:00:fe', 'dev', 'br0', 'router', 'nud', 'permanent')
    # the VTEPs the FDB entries below name get permanent neighbours on the underlay: otherwise the first frame the
    # bridge floods to vx0 (an IPv6 multicast report from br0, at any moment) makes the kernel resolve 192.0.2.2,
    # which nobody answers, and its entry (incomplete, then failed, then collected) changes between the module's
    # read and iproute2's (CI, 2026-12-07: 4 of 10 runs of this file failed on it)
    u1_mac = json.loads(sh('ip', '-n', b, '-j', 'link', 'show', 'u1').stdout)[0]['address']
    for vtep in ('192.0.2.2', '192.0.2.3'):
        ip('neigh', 'add', vtep, 'lladdr', u1_mac, 'dev', 'u0', 'nud', 'permanent')
    sh('bridge', '-n', a, 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx0', 'dst', '192.0.2.2')
    sh('bridge', '-n', a, 'fdb', 'add', '02:42:0a:46:00:0b', 'dev', 'vx0', 'dst', '192.0.2.2')
    sh('bridge', '-n', a, 'fdb', 'add', '02:42:0a:46:00:0d', 'dev', 'vx0', 'dst', '192.0.2.3', 'port', '4790',
       'vni', '4243')
    sh('bridge', '-n', a, 'fdb', 'add', '02:42:0a:46:00:0c', 'dev', 'w0', 'master', 'static')
    return a, b


def kernel(ns):
    """What iproute2 reports for the namespace named ``ns`` (or at the path ``ns``)."""
    path = ns if ns.startswith('/') else '/run/netns/' + ns
    return netns_compare.kernel(lambda cmd: json.loads(sh('nsenter', '--net=' + path, *cmd).stdout or '[]'))


def read_stable(ansible, ns, args, **kw):
    """netns_info's result and iproute2's view of ``ns`` taken around it (netns_compare.stable)."""
    def read():
        res = ansible.run('netns_info', args, **kw)
        assert not res.get('failed'), res.get('msg')
        return res
    return netns_compare.stable(lambda: kernel(ns), read)


def test_a_named_namespace_is_what_iproute2_reports(ansible, fabric):
    a, b = fabric
    res, k = read_stable(ansible, a, {'netns': a})
    assert res['changed'] is False
    view = res['namespace']
    assert view['name'] == a and view['path'] == '/run/netns/' + a and view['names'] == [a]
    assert view['inode'] == os.stat('/run/netns/' + a).st_ino and view['current'] is False
    compare(view, k)
    # what the fixture built is really there (the comparison above is not between two empty lists)
    links = view['links']
    assert links['vx0']['vxlan']['vni'] == VNI and links['vx0']['vxlan']['dev'] == 'u0'
    assert links['vx0']['vxlan']['learning'] is False and links['vx0']['vxlan']['proxy'] is True
    assert links['vx0']['master'] == 'br0' and links['w0']['alias'] == 'workload web1'
    assert links['u0']['link_netns'] == b and links['w0']['link'] == 'w1'
    assert links['br0']['addresses'] == ['10.70.0.1/24', 'fd70::1/64']
    assert sorted(view['bridges']['br0']['ports']) == ['vx0', 'w0']
    assert {'mac': '02:42:0a:46:00:0d', 'dev': 'vx0', 'master': None, 'dst': '192.0.2.3', 'vlan': None,
            'vni': 4243, 'port': 4790, 'state': 'permanent', 'flags': ['self']} in view['fdb']
    assert {'mac': '02:42:0a:46:00:0c', 'dev': 'w0', 'master': 'br0', 'dst': None, 'vlan': None, 'vni': None,
            'port': None, 'state': 'static', 'flags': []} in view['fdb']
    assert ('fd70::254', 'permanent', True) in [(n['ip'], n['state'], n['router']) for n in view['neighbours']]
    assert ('10.70.0.12', 'stale') in [(n['ip'], n['state']) for n in view['neighbours']]
    assert ('10.90.0.0/16', '100') in [(r['dst'], r['table']) for r in view['routes']]
    assert ('10.99.0.0/16', 'blackhole', 'static') in [(r['dst'], r['type'], r['protocol']) for r in view['routes']]


def test_the_current_namespace_and_all_named_ones(ansible, fabric):
    a, b = fabric
    # Ansible itself runs in namespace a: no selector reads the current namespace
    res, k = read_stable(ansible, a, {}, in_netns=a)
    assert res['namespace']['current'] is True and res['namespace']['name'] is None
    assert res['namespace']['names'] == [a]
    compare(res['namespace'], k)
    res = ansible.run('netns_info', {'all': True}, in_netns=a)
    assert not res.get('failed'), res.get('msg')
    assert res['namespace']['current'] is True
    assert {a, b} <= set(res['namespaces'])
    assert res['namespaces'][b]['links']['u1']['link_netns'] == a
    assert res['namespaces'][a]['links']['vx0']['vxlan']['vni'] == VNI


def test_check_mode_changes_nothing(ansible, fabric):
    a, b = fabric
    before = snapshot([a, b])
    res = ansible.run('netns_info', {'netns': a}, check=True)
    assert not res.get('failed') and res['changed'] is False
    assert res['namespace']['links']['vx0']['vxlan']['vni'] == VNI
    assert snapshot([a, b]) == before


@pytest.fixture
def container(proc):
    """A process in a network namespace of its own (what a container's init is), with a veth in it."""
    p = proc()
    nsenter = ['nsenter', '--net=/proc/%d/ns/net' % p.pid]
    sh(*nsenter + ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1'])
    sh(*nsenter + ['ip', 'link', 'set', 'eth0', 'addrgenmode', 'none', 'up'])
    sh(*nsenter + ['ip', 'addr', 'add', '10.71.0.2/24', 'dev', 'eth0'])
    return p


def test_a_container_through_its_process_without_naming_it(ansible, engine_api, container):
    host, routes = engine_api
    cid = 'c0ffee' * 10 + 'c0ff'
    routes['/containers/web/json'] = {'Id': cid, 'Name': '/web',
                                      'State': {'Running': True, 'Pid': container.pid, 'Status': 'running'}}
    res = ansible.run('netns_info', {'container': 'web', 'docker_host': host})
    assert not res.get('failed'), res.get('msg')
    view = res['namespace']
    assert view['container'] == {'id': cid, 'name': 'web', 'pid': container.pid}
    assert view['path'] == '/proc/%d/ns/net' % container.pid and view['names'] == [] and view['current'] is False
    # what iproute2 sees in the process's namespace
    compare(view, kernel('/proc/%d/ns/net' % container.pid))
    assert sorted(view['links']) == ['eth0', 'eth1', 'lo']
    assert view['links']['eth0']['addresses'] == ['10.71.0.2/24'] and view['links']['eth0']['link'] == 'eth1'
    assert [(r['dst'], r['dev']) for r in view['routes']] == [('10.71.0.0/24', 'eth0')]
    # nothing was named or mounted to read it (other tests run in parallel: look for this namespace only)
    assert sh('ip', 'netns', 'identify', str(container.pid)).stdout.split() == []
    ino = os.stat('/proc/%d/ns/net' % container.pid).st_ino
    with open('/proc/self/mountinfo') as f:
        assert 'net:[%d]' % ino not in f.read()


@pytest.fixture
def docker_netns_dir(tmpdir_short, make_ns):
    """A stand-in for Docker's exec-root netns directory with an overlay network's namespace in it: a real
    namespace bind-mounted as '2-<network id>' (cut to 12), next to files of other epochs with nothing mounted."""
    d = tmpdir_short / 'netns'
    d.mkdir()
    ns = make_ns('ov')
    sh('ip', '-n', ns, 'link', 'add', 'br0', 'type', 'bridge')
    sh('ip', '-n', ns, 'link', 'add', 'vxlan0', 'type', 'vxlan', 'id', '4097', 'dstport', '4789', 'proxy',
       'l2miss', 'l3miss', 'nolearning')
    sh('ip', '-n', ns, 'link', 'set', 'vxlan0', 'master', 'br0')
    sh('bridge', '-n', ns, 'fdb', 'add', '02:42:0a:00:00:03', 'dev', 'vxlan0', 'dst', '192.0.2.12')
    (d / ('1-' + NET_ID[:10])).write_text('')  # an old epoch: nothing mounted on it
    (d / ('3-' + NET_ID[:10])).write_text('')  # a newer one, not mounted (yet, or any more)
    live = d / ('2-' + NET_ID[:10])
    live.write_text('')
    sh('mount', '--bind', '/run/netns/' + ns, str(live))
    yield d, ns
    sh('umount', str(live), check=False)


def test_an_overlay_networks_own_namespace_by_dockers_name_for_it(ansible, engine_api, docker_netns_dir):
    host, routes = engine_api
    d, ns = docker_netns_dir
    routes['/networks/ov_net1'] = {'Id': NET_ID, 'Name': 'ov_net1', 'Driver': 'overlay', 'Scope': 'swarm',
                                   'Containers': {}}
    res = ansible.run('netns_info', {'network': 'ov_net1', 'docker_host': host, 'docker_netns_dir': str(d)})
    assert not res.get('failed'), res.get('msg')
    view = res['namespace']
    assert view['name'] == '2-' + NET_ID[:10] and view['path'] == str(d / ('2-' + NET_ID[:10]))
    assert view['network'] == {'id': NET_ID, 'name': 'ov_net1', 'driver': 'overlay', 'scope': 'swarm'}
    assert view['names'] == [ns]  # the stand-in is also named under /run/netns
    compare(view, kernel(ns))
    assert view['links']['vxlan0']['vxlan']['vni'] == 4097 and view['links']['vxlan0']['master'] == 'br0'
    assert ('02:42:0a:00:00:03', '192.0.2.12') in [(e['mac'], e['dst']) for e in view['fdb']]


def test_docker_objects_without_a_namespace_are_explained(ansible, engine_api, tmpdir_short):
    host, routes = engine_api
    routes['/networks/br'] = {'Id': 'ab' * 32, 'Name': 'br', 'Driver': 'bridge', 'Scope': 'local',
                              'Options': {}}
    routes['/networks/empty'] = {'Id': NET_ID, 'Name': 'empty', 'Driver': 'overlay', 'Scope': 'swarm',
                                 'Containers': {}}
    routes['/containers/stopped/json'] = {'Id': 'def', 'State': {'Running': False, 'Pid': 0, 'Status': 'exited'}}
    res = ansible.run('netns_info', {'network': 'br', 'docker_host': host})
    assert res['failed'] and res['msg'] == (
        "network: 'br' is a bridge network: only overlay networks have a namespace of their own; its bridge "
        "br-%s is in the host's namespace (run without container, network or netns)" % ('ab' * 6))
    res = ansible.run('netns_info', {'network': 'empty', 'docker_host': host, 'docker_netns_dir': str(tmpdir_short)})
    assert res['failed'] and res['msg'].startswith(
        "network: overlay network 'empty' (id f3a5b2c1d0e9) has no namespace on this host (no 1-f3a5b2c1d0 under %s)"
        % tmpdir_short)
    (tmpdir_short / ('1-' + NET_ID[:10])).write_text('')
    res = ansible.run('netns_info', {'network': 'empty', 'docker_host': host, 'docker_netns_dir': str(tmpdir_short)})
    assert res['failed'] and '; 1-f3a5b2c1d0 is a left-over file with nothing mounted on it)' in res['msg']
    res = ansible.run('netns_info', {'network': 'nope', 'docker_host': host})
    assert res['failed'] and "network: no network 'nope' on the Docker engine" in res['msg']
    res = ansible.run('netns_info', {'container': 'stopped', 'docker_host': host})
    assert res['failed'] and "container: 'stopped' is not running (status: exited)" in res['msg']


def test_a_missing_namespace_is_an_error_and_is_not_created(ansible, make_ns):
    name = make_ns.name('missing')
    res = ansible.run('netns_info', {'netns': name})
    assert res['failed'] and res['msg'] == "netns: network namespace '%s' does not exist (/run/netns/%s)" % (name, name)
    assert not os.path.exists('/run/netns/' + name)
    # a left-over file with nothing mounted on it is reported and left alone
    stale = make_ns.name('stale')
    os.makedirs('/run/netns', exist_ok=True)
    open('/run/netns/' + stale, 'w').close()
    res = ansible.run('netns_info', {'netns': stale})
    assert res['failed'] and 'left-over file with no namespace mounted on it' in res['msg']
    assert os.path.isfile('/run/netns/' + stale) and not os.path.ismount('/run/netns/' + stale)


@pytest.mark.parametrize('args, param, rule', [
    ({'netns': '../etc'}, 'netns', "'..'"),
    ({'netns': 'a/b'}, 'netns', "may not contain '/'"),
    ({'all': True, 'netns': 'x'}, 'all', 'cannot be combined with netns, container or network'),
    ({'netns': 'x', 'container': 'web'}, 'netns', 'mutually exclusive'),
    ({'container': 'a/../b'}, 'container', 'is not a valid container name or id'),
    ({'network': 'a b'}, 'network', 'is not a valid network name or id'),
    ({'container': 'web', 'docker_host': 'tcp://127.0.0.1:2375'}, 'docker_host', 'unix://'),
    ({'network': 'ov', 'docker_netns_dir': 'relative/dir'}, 'docker_netns_dir', 'must be an absolute path'),
])
def test_bad_input(ansible, args, param, rule):
    res = ansible.run('netns_info', args)
    assert res.get('failed') and param in res['msg'] and rule in res['msg'], res['msg']
