"""netns_info's pure parts: the decoders of kernel messages, the assembled view, Docker's name for an
overlay network's namespace, the holder scan on a fake /proc, input validation, and the report filter."""
import os
import socket

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hostnet.fabric.plugins.filter.netns_report import netns_report
from ansible_collections.hostnet.fabric.plugins.module_utils import _netlink as nlu
from ansible_collections.hostnet.fabric.plugins.module_utils._validate import ValidationError
from ansible_collections.hostnet.fabric.plugins.modules import netns_info

UP_LOWER = 0x1 | 0x10000


def nla(*pairs):
    return {'attrs': list(pairs)}


def link_msg(index, name, kind=None, flags=UP_LOWER, data=(), slave=None, ifi_type=1, **attrs):
    info = [('IFLA_INFO_KIND', kind)] if kind else []
    if data:
        info.append(('IFLA_INFO_DATA', nla(*data)))
    if slave:
        info += [('IFLA_INFO_SLAVE_KIND', 'bridge'), ('IFLA_INFO_SLAVE_DATA', nla(*slave))]
    pairs = [('IFLA_IFNAME', name), ('IFLA_MTU', attrs.pop('mtu', 1500)), ('IFLA_ADDRESS', attrs.pop('mac', None)),
             ('IFLA_OPERSTATE', attrs.pop('state', 'UP'))]
    pairs += [('IFLA_' + k.upper(), v) for k, v in attrs.items()]
    if info:
        pairs.append(('IFLA_LINKINFO', nla(*info)))
    return {'index': index, 'flags': flags, 'ifi_type': ifi_type, 'attrs': pairs}


VXLAN_DATA = (('IFLA_VXLAN_ID', 4097), ('IFLA_VXLAN_PORT', 4789), ('IFLA_VXLAN_LOCAL', '192.0.2.1'),
              ('IFLA_VXLAN_GROUP', '192.0.2.9'), ('IFLA_VXLAN_LINK', 1), ('IFLA_VXLAN_LEARNING', 0),
              ('IFLA_VXLAN_PROXY', 1), ('IFLA_VXLAN_L2MISS', 1), ('IFLA_VXLAN_L3MISS', 1), ('IFLA_VXLAN_TTL', 0),
              ('IFLA_VXLAN_AGEING', 300), ('IFLA_VXLAN_UDP_CSUM', 1),
              ('IFLA_VXLAN_PORT_RANGE', {'low': 0, 'high': 0}), ('UNKNOWN', {'header': {'type': 33}}))
PORT_DATA = (('IFLA_BRPORT_STATE', 3), ('IFLA_BRPORT_PRIORITY', 32), ('IFLA_BRPORT_COST', 100),
             ('IFLA_BRPORT_LEARNING', 1), ('IFLA_BRPORT_UNICAST_FLOOD', 1), ('IFLA_BRPORT_NEIGH_SUPPRESS', 1))


def test_vxlan_link_decodes_every_attribute():
    msg = link_msg(3, 'vx0', 'vxlan', data=VXLAN_DATA, slave=PORT_DATA, master=2, mac='02:00:00:00:00:03',
                   state='UNKNOWN', mtu=1450)
    link = nlu.decode_link_details(msg)
    assert link['vxlan'] == {
        'vni': 4097, 'port': 4789, 'local': '192.0.2.1', 'group': None, 'remote': '192.0.2.9', 'dev_index': 1,
        'learning': False, 'proxy': True, 'rsc': False, 'l2miss': True, 'l3miss': True, 'external': False,
        'ttl': 0, 'tos': None, 'ageing': 300, 'udp_csum': True, 'srcport_min': 0, 'srcport_max': 0}
    assert link['bridge_port']['state'] == 'forwarding' and link['bridge_port']['neigh_suppress'] is True
    assert (link['name'], link['kind'], link['state'], link['mtu'], link['master_index'], link['carrier']) == \
        ('vx0', 'vxlan', 'UNKNOWN', 1450, 2, True)


def test_a_multicast_group_is_a_group_not_a_remote():
    data = tuple(p for p in VXLAN_DATA if p[0] != 'IFLA_VXLAN_GROUP') + (('IFLA_VXLAN_GROUP', '239.1.1.1'),)
    vx = nlu.decode_link_details(link_msg(3, 'vx0', 'vxlan', data=data))['vxlan']
    assert (vx['group'], vx['remote']) == ('239.1.1.1', None)


def test_fdb_entries_are_named_as_bridge_fdb_show_names_them():
    def fdb(state, flags, **attrs):
        return {'ifindex': 3, 'state': state, 'flags': flags,
                'attrs': [('NDA_' + k.upper(), v) for k, v in attrs.items()]}
    assert nlu.decode_fdb(fdb(0xc0, 0x02, lladdr='02:42:0A:00:00:03', dst='192.0.2.12', vni=4097, port=4790)) == {
        'mac': '02:42:0a:00:00:03', 'dev_index': 3, 'master_index': None, 'dst': '192.0.2.12', 'vlan': None,
        'vni': 4097, 'port': 4790, 'state': 'permanent', 'flags': ['self']}
    assert nlu.decode_fdb(fdb(0x40, 0, lladdr='02:00:00:00:00:0c', master=2))['state'] == 'static'
    assert nlu.decode_fdb(fdb(0x02, 0x10, lladdr='02:00:00:00:00:0d', master=2))['state'] == 'dynamic'
    assert nlu.decode_fdb(fdb(0x04, 0x92, lladdr='02:00:00:00:00:0e'))['flags'] == ['self', 'router', 'extern_learn']


def test_neighbours_left_out_as_ip_neigh_show_does():
    def neigh(family, state, flags=0, **attrs):
        return {'family': family, 'ifindex': 2, 'state': state, 'flags': flags,
                'attrs': [('NDA_' + k.upper(), v) for k, v in attrs.items()]}
    assert nlu.decode_neigh(neigh(socket.AF_INET, 0x80, dst='10.0.0.2', lladdr='02:00:00:00:00:02')) == {
        'ip': '10.0.0.2', 'dev_index': 2, 'mac': '02:00:00:00:00:02', 'state': 'permanent', 'router': False,
        'family': 'inet'}
    assert nlu.decode_neigh(neigh(socket.AF_INET6, 0x02, 0x80, dst='fd00::1', lladdr='02:00:00:00:00:01'))[
        'router'] is True
    assert nlu.decode_neigh(neigh(socket.AF_INET, 0x20, dst='10.0.0.9'))['mac'] is None  # failed: no lladdr
    assert nlu.decode_neigh(neigh(socket.AF_INET, 0x40, dst='224.0.0.22', lladdr='01:00:5e:00:00:16')) is None
    assert nlu.decode_neigh(neigh(socket.AF_INET, 0x00, dst='10.0.0.8')) is None
    assert nlu.decode_neigh(neigh(socket.AF_INET, 0x80, 0x08, dst='10.0.0.7')) is None  # proxy entry
    assert nlu.decode_neigh(neigh(7, 0x80, dst='10.0.0.7')) is None


def route(dst_len=24, table=254, proto=2, scope=253, rtype=1, family=socket.AF_INET, **attrs):
    pairs = [('RTA_TABLE', table)] + [('RTA_' + k.upper(), v) for k, v in attrs.items()]
    return {'family': family, 'dst_len': dst_len, 'table': table, 'proto': proto, 'scope': scope,
            'type': rtype, 'attrs': pairs}


def test_routes_are_decoded_with_names_for_table_protocol_scope_type():
    assert nlu.decode_route(route(dst='10.0.0.0', oif=2, prefsrc='10.0.0.1')) == {
        'family': 'inet', 'dst': '10.0.0.0/24', 'gateway': None, 'dev_index': 2, 'prefsrc': '10.0.0.1',
        'table': 'main', 'protocol': 'kernel', 'scope': 'link', 'type': 'unicast', 'metric': None, 'nexthops': []}
    default = nlu.decode_route(route(0, proto=3, scope=0, gateway='10.0.0.254', oif=2))
    assert (default['dst'], default['gateway'], default['protocol'], default['scope']) == \
        ('default', '10.0.0.254', 'boot', 'global')
    v6 = nlu.decode_route(route(64, table=100, family=socket.AF_INET6, dst='fd80::', priority=20))
    assert (v6['family'], v6['dst'], v6['table'], v6['metric']) == ('inet6', 'fd80::/64', '100', 20)
    assert nlu.decode_route(route(16, proto=4, scope=0, rtype=6, dst='10.99.0.0'))['type'] == 'blackhole'
    multipath = nlu.decode_route(route(0, multipath=[{'oif': 2, 'hops': 0, 'attrs': [('RTA_GATEWAY', '10.0.0.1')]},
                                                     {'oif': 3, 'hops': 1, 'attrs': [('RTA_GATEWAY', '10.0.1.1')]}]))
    assert multipath['nexthops'] == [{'gateway': '10.0.0.1', 'dev_index': 2, 'weight': 1},
                                     {'gateway': '10.0.1.1', 'dev_index': 3, 'weight': 2}]
    assert nlu.decode_route(route(32, table=255, rtype=2, dst='10.0.0.1')) is None  # the local table
    assert nlu.decode_route(route(family=socket.AF_PACKET)) is None


def test_the_view_resolves_names_and_groups_bridge_ports():
    links = [nlu.decode_link_details(m) for m in (
        link_msg(1, 'u0', 'veth', link=9, link_netnsid=0),
        link_msg(2, 'br0', 'bridge', data=(('IFLA_BR_STP_STATE', 0), ('IFLA_BR_AGEING_TIME', 30000))),
        link_msg(3, 'vx0', 'vxlan', data=VXLAN_DATA, slave=PORT_DATA, master=2),
        link_msg(4, 'w0', 'veth', slave=PORT_DATA, master=2, link=5, ifalias='web1'),
        link_msg(5, 'w1', 'veth', link=4))]
    fdb = [{'mac': '02:00:00:00:00:0c', 'dev_index': 4, 'master_index': 2, 'dst': None, 'vlan': None, 'vni': None,
            'port': None, 'state': 'static', 'flags': []}]
    neigh = [{'ip': '10.0.0.2', 'dev_index': 2, 'mac': None, 'state': 'failed', 'router': False, 'family': 'inet'}]
    routes = [nlu.decode_route(route(dst='10.0.0.0', oif=2))]
    view = nlu.assemble_netns_view(links, [(2, '10.0.0.1/24'), (2, 'fd00::1/64'), (99, '10.9.9.9/8')], fdb, neigh,
                                   routes)
    assert list(view['links']) == ['u0', 'br0', 'vx0', 'w0', 'w1']
    assert view['links']['u0']['link'] is None and view['links']['u0']['link_index'] == 9  # peer elsewhere
    assert view['links']['w0']['link'] == 'w1' and view['links']['w0']['alias'] == 'web1'
    assert view['links']['vx0']['vxlan']['dev'] == 'u0' and 'dev_index' not in view['links']['vx0']['vxlan']
    assert view['links']['vx0']['master'] == 'br0' and 'bridge_port' not in view['links']['vx0']
    assert view['links']['br0']['addresses'] == ['10.0.0.1/24', 'fd00::1/64']
    assert sorted(view['bridges']['br0']['ports']) == ['vx0', 'w0']
    assert view['bridges']['br0']['ports']['w0']['state'] == 'forwarding'
    assert view['bridges']['br0']['ageing_time'] == 30000
    assert view['fdb'][0]['dev'] == 'w0' and view['fdb'][0]['master'] == 'br0'
    assert view['neighbours'][0]['dev'] == 'br0' and view['routes'][0]['dev'] == 'br0'


@pytest.mark.parametrize('entries, wanted', [
    (['1-f3a5b2c1d0', 'abcdef012345'], '1-f3a5b2c1d0'),
    (['1-f3a5b2c1d0', '3-f3a5b2c1d0', '2-f3a5b2c1d0'], '3-f3a5b2c1d0'),  # re-created: the highest epoch lives
    (['10-f3a5b2c1d', '9-f3a5b2c1d0'], '10-f3a5b2c1d'),  # the key is cut to 12 characters
    (['1-f3a5b2c1d1', 'x-f3a5b2c1d0', '1-f3a5b2c1d'], None),
    ([], None),
])
def test_dockers_name_for_an_overlay_networks_namespace(entries, wanted):
    assert netns_info.find_sandbox(entries, 'f3a5b2c1d0e9' + '0' * 52) == wanted


def test_nsfs_mounts_are_parsed_from_mountinfo():
    text = ('459 357 0:4 net:[4026533274] /run/netns/web rw shared:303 - nsfs nsfs rw\n'
            '99 27 0:4 net:[4026532184] /var/run/docker/netns/0eaa4ada96c0 rw - nsfs nsfs rw\n'
            '100 27 0:4 mnt:[4026532185] /run/x rw - nsfs nsfs rw\n'
            '357 27 254:0 /run/netns /run/netns rw,relatime shared:53 - ext4 /dev/vda rw\n'
            '460 357 0:4 net:[4026533274] /run/netns/with\\040space rw shared:303 master:7 - nsfs nsfs rw\n')
    assert nlu.parse_nsfs_mounts(text) == [
        {'path': '/run/netns/web', 'ino': 4026533274, 'peer_group': 'shared:303'},
        {'path': '/var/run/docker/netns/0eaa4ada96c0', 'ino': 4026532184, 'peer_group': None},
        {'path': '/run/netns/with space', 'ino': 4026533274, 'peer_group': 'shared:303'}]


@pytest.fixture
def fake_proc(tmp_path):
    """A /proc stand-in: processes whose ns/net are hard links of one file share its (dev, inode)."""
    proc = tmp_path / 'proc'
    target = tmp_path / 'run' / 'netns' / 'web'
    target.parent.mkdir(parents=True)
    target.write_text('')
    other = tmp_path / 'other-ns'
    other.write_text('')

    def process(pid, comm, ns):
        d = proc / str(pid) / 'ns'
        d.mkdir(parents=True)
        os.link(str(ns), str(d / 'net'))
        (proc / str(pid) / 'comm').write_text(comm + '\n')
        (proc / str(pid) / 'stat').write_text('%d (%s) S 1 0 0' % (pid, comm))

    (proc / 'self').mkdir(parents=True)
    (proc / 'self' / 'mountinfo').write_text('')
    return proc, target, other, process


def test_holders_are_the_processes_in_the_namespace_and_its_other_mounts(fake_proc):
    proc, target, other, process = fake_proc
    process(100, 'nginx', target)
    process(200, 'sleep', other)
    ino = os.stat(str(target)).st_ino
    (proc / 'self' / 'mountinfo').write_text(
        '1 2 0:4 net:[%d] %s rw shared:9 - nsfs nsfs rw\n' % (ino, target) +
        # a copy propagation made of our mount (same name, same peer group): goes away with it
        '3 4 0:4 net:[%d] /mnt/peer/netns/web rw shared:9 - nsfs nsfs rw\n' % ino +
        # a bind mount of it under another name (same peer group, other name) and Docker's file: holders
        '5 2 0:4 net:[%d] /run/netns/web2 rw shared:9 - nsfs nsfs rw\n' % ino +
        '6 7 0:4 net:[%d] /var/run/docker/netns/abc rw - nsfs nsfs rw\n' % ino +
        '8 7 0:4 net:[%d] /var/run/docker/netns/other rw - nsfs nsfs rw\n' % (ino + 1))
    holders = nlu.netns_holders(str(target), proc=str(proc))
    assert holders == [{'kind': 'process', 'pid': 100, 'comm': 'nginx'},
                       {'kind': 'mount', 'path': '/run/netns/web2'},
                       {'kind': 'mount', 'path': '/var/run/docker/netns/abc'}]
    assert nlu.describe_holders(holders) == 'process 100 (nginx), mount /run/netns/web2, mount /var/run/docker/netns/abc'


def test_nothing_but_the_name_holds_it(fake_proc):
    proc, target, other, process = fake_proc
    process(200, 'sleep', other)
    process(os.getpid(), 'python', target)  # this very task (e.g. run through `ip netns exec`) does not count
    assert nlu.netns_holders(str(target), proc=str(proc)) == []


def test_holders_are_described_briefly():
    many = [{'kind': 'process', 'pid': p, 'comm': 'w'} for p in range(1, 9)]
    assert nlu.describe_holders(many) == ('process 1 (w), process 2 (w), process 3 (w), process 4 (w), '
                                          'process 5 (w), ... and 3 more')


def params(**kw):
    p = dict((k, s.get('default')) for k, s in netns_info.argument_spec().items())
    p.update(kw)
    return p


@pytest.mark.parametrize('kw, message', [
    ({'netns': '../x'}, "netns: namespace name may not be '.' or contain '..' (got '../x')"),
    ({'all': True, 'container': 'web'}, 'all: cannot be combined with netns, container or network'),
    ({'network': 'a b'}, "network: is not a valid network name or id (got 'a b')"),
    ({'container': 'web', 'docker_host': 'tcp://h:2375'}, "docker_host: only unix:// sockets are supported "
                                                          "(got 'tcp://h:2375')"),
    ({'network': 'ov', 'docker_netns_dir': 'run/docker'}, "docker_netns_dir: must be an absolute path "
                                                          "(got 'run/docker')"),
])
def test_bad_input_is_refused_naming_the_parameter(kw, message):
    with pytest.raises(ValidationError) as exc:
        netns_info.validate(params(**kw))
    assert str(exc.value) == message


# ---------------------------------------------------------------- the report filter
def small_view(**kw):
    view = {
        'name': 'web1', 'path': '/run/netns/web1', 'inode': 4026532301, 'current': False, 'names': ['web1', 'w'],
        'container': None, 'network': None,
        'links': {
            'lo': {'index': 1, 'name': 'lo', 'kind': None, 'state': 'UNKNOWN', 'up': True, 'carrier': True,
                   'mtu': 65536, 'mac': '00:00:00:00:00:00', 'master': None, 'alias': None,
                   'addresses': ['127.0.0.1/8'], 'link': None, 'link_index': None, 'link_netnsid': None,
                   'link_netns': None},
            'eth0': {'index': 2, 'name': 'eth0', 'kind': 'veth', 'state': 'LOWERLAYERDOWN', 'up': True,
                     'carrier': False, 'mtu': 1450, 'mac': '02:42:0a:0a:00:0b', 'master': None, 'alias': 'web',
                     'addresses': ['10.10.0.11/24'], 'link': None, 'link_index': 9, 'link_netnsid': 0,
                     'link_netns': None},
        },
        'bridges': {},
        'fdb': [{'mac': '33:33:00:00:00:01', 'dev': 'eth0', 'master': None, 'dst': None, 'vlan': None, 'vni': None,
                 'port': None, 'state': 'permanent', 'flags': ['self']}],
        'neighbours': [{'ip': '10.10.0.1', 'dev': 'eth0', 'mac': '02:42:0a:0a:00:01', 'state': 'reachable',
                        'router': False, 'family': 'inet'}],
        'routes': [{'family': 'inet', 'dst': 'default', 'gateway': '10.10.0.1', 'dev': 'eth0', 'prefsrc': None,
                    'table': 'main', 'protocol': 'boot', 'scope': 'global', 'type': 'unicast', 'metric': None,
                    'nexthops': []}],
    }
    view.update(kw)
    return view


def test_report_of_one_namespace_is_aligned_text():
    assert netns_report({'changed': False, 'namespace': small_view()}).split('\n') == [
        'namespace web1 (/run/netns/web1, inode 4026532301)',
        '  also named w under /run/netns',
        'links',
        '  name  link       kind  state                      mtu    mac                master  addresses      alias',
        '  lo    -          -     UNKNOWN                    65536  00:00:00:00:00:00  -       127.0.0.1/8    -',
        '  eth0  if9@nsid0  veth  LOWERLAYERDOWN,NO-CARRIER  1450   02:42:0a:0a:00:0b  -       10.10.0.11/24  web',
        'fdb (1 multicast entry not shown)',
        '  (none)',
        'neighbours',
        '  ip         dev   mac                state',
        '  10.10.0.1  eth0  02:42:0a:0a:00:01  reachable',
        'routes',
        '  dst      gateway    dev   src  table  proto  scope   metric',
        '  default  10.10.0.1  eth0  -    main   boot   global  -',
    ]


def test_report_shows_bridges_vxlan_and_multicast_on_request():
    view = small_view(name='1-f3a5b2c1d0', path='/var/run/docker/netns/1-f3a5b2c1d0', names=[],
                      network={'id': 'f3a5b2c1d0e9aa', 'name': 'ov_net1', 'driver': 'overlay', 'scope': 'swarm'})
    view['links']['vxlan0'] = dict(view['links']['lo'], index=3, name='vxlan0', kind='vxlan', master='br0',
                                   addresses=[],
                                   vxlan={'vni': 4097, 'port': 4789, 'local': None, 'group': None, 'remote': None,
                                          'dev': None, 'learning': False, 'proxy': True, 'l2miss': True,
                                          'l3miss': True, 'ttl': 0, 'ageing': 300})
    view['bridges'] = {'br0': {'stp': False, 'vlan_filtering': False, 'ports': {
        'vxlan0': {'state': 'forwarding', 'learning': True, 'flood': True, 'neigh_suppress': False},
        'veth0': {'state': 'forwarding', 'learning': True, 'flood': True, 'neigh_suppress': False}}}}
    lines = netns_report(view, multicast=True).split('\n')
    assert lines[0] == ('overlay network ov_net1 (id f3a5b2c1d0e9, scope swarm), namespace 1-f3a5b2c1d0 '
                        '(/var/run/docker/netns/1-f3a5b2c1d0, inode 4026532301)')
    i = lines.index('bridges')
    assert lines[i + 1:i + 4] == [
        '  bridge  stp  vlan_filtering  port    state       learning  flood  neigh_suppress',
        '  br0     off  off             veth0   forwarding  on        on     off',
        '                               vxlan0  forwarding  on        on     off']
    i = lines.index('vxlan')
    assert lines[i + 1:i + 3] == [
        '  name    vni   port  local  group/remote  dev  learning  proxy  l2miss  l3miss  ttl  ageing',
        '  vxlan0  4097  4789  -      -             -    off       on     on      on      0    300']
    i = lines.index('fdb')
    assert lines[i + 2] == '  33:33:00:00:00:01  eth0  -       -    -     permanent  self'


def test_report_of_all_namespaces_puts_the_current_one_first():
    others = {'b': small_view(name='b', names=['b']), 'a': small_view(name='a', names=['a'])}
    text = netns_report({'namespace': small_view(name=None, path=None, current=True, names=[]), 'namespaces': others})
    headings = [l for l in text.split('\n') if l and not l.startswith(' ') and l.split()[0] in ('current', 'namespace')]
    assert headings == ['current namespace (inode 4026532301, the namespace Ansible runs in)',
                        'namespace a (/run/netns/web1, inode 4026532301)',
                        'namespace b (/run/netns/web1, inode 4026532301)']


@pytest.mark.parametrize('value, message', [
    ('text', 'expects the result of hostnet.fabric.netns_info or one namespace of it (a dict with links, bridges, '
             'fdb, neighbours, routes), got str'),
    ({'failed': True, 'msg': "netns: network namespace 'x' does not exist"},
     "the netns_info task failed: netns: network namespace 'x' does not exist"),
    ({'namespace': {'links': {}}}, 'expects the result of hostnet.fabric.netns_info or one namespace of it (a dict '
                                   'with links, bridges, fdb, neighbours, routes), got dict'),
])
def test_report_refuses_what_is_not_a_netns_info_result(value, message):
    with pytest.raises(AnsibleFilterError) as exc:
        netns_report(value)
    assert str(exc.value) == 'netns_report: ' + message
