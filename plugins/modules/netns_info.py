#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: netns_info
short_description: Read what is inside a network namespace, a Docker container or a Docker overlay network
version_added: 0.1.0
description:
  - Reads, through rtnetlink (pyroute2), the links, bridges with their ports, VXLAN attributes, FDB entries,
    neighbours and routes of one network namespace, and returns them as plain data shaped for C(when:) and
    M(ansible.builtin.assert) (links and bridges keyed by name).
  - "What it reads: a namespace named under C(/run/netns) (O(netns)); every such namespace (O(all));
    the namespace of a running Docker container (O(container)), reached through the container's
    process (C(/proc/PID/ns/net)) so that no C(/run/netns) name is needed or made; the namespace that Docker's
    overlay driver keeps for an overlay network on this host (O(network)), the one operators list with
    C(ip netns exec 1-xxxxxxxxxx brctl show); or, with none of these, the namespace Ansible runs in."
  - The overlay network's namespace is the file C(<epoch>-<network id>) cut to 12 characters under Docker's
    C(netns) directory (libnetwork's C(osl.GenerateKey)), for example C(/var/run/docker/netns/1-f3a5b2c1d0);
    when Docker has re-created it, the highest epoch is the live one. Docker makes it when the first
    container on this host joins the network and removes it when the last one leaves.
  - Read-only. Every namespace is opened with C(flags=0), so a missing one is an error and is never created.
    Nothing is changed on the host; the module always reports C(changed=false).
options:
  netns:
    description:
      - A namespace named under C(/run/netns) (as C(ip netns list) shows it).
      - Mutually exclusive with O(container), O(network) and O(all).
    type: str
  container:
    description:
      - A running Docker container, by name or id, on the engine at O(docker_host). Its namespace is read
        through its process; with C(--network container:OTHER) that is OTHER's, with C(--network host) the host's
        (then RV(namespace.current) is true).
      - Mutually exclusive with O(netns), O(network) and O(all).
    type: str
  network:
    description:
      - A Docker overlay network, by name or id. Its own namespace on this host is read (the bridge, the VXLAN
        device with its static FDB and neighbour entries, the veth ends of the local containers).
      - Networks of other drivers have no namespace of their own (a bridge network's bridge is in the host's
        namespace); they are refused with that explanation.
      - Mutually exclusive with O(netns), O(container) and O(all).
    type: str
  all:
    description:
      - Read the namespace Ansible runs in (RV(namespace)) and every namespace named under C(/run/netns)
        (RV(namespaces)). Left-over names with nothing mounted on them are skipped with a warning.
      - Cannot be combined with O(netns), O(container) or O(network).
    type: bool
    default: false
  docker_host:
    description: The Docker engine's API socket (O(container) and O(network) only). Only C(unix://) sockets.
    type: str
    default: unix:///var/run/docker.sock
  docker_netns_dir:
    description:
      - Where the engine keeps its namespace files (its C(--exec-root) followed by C(/netns)); O(network) only.
      - By default it is taken from a local container on the network (the directory of its C(SandboxKey)),
        else C(/var/run/docker/netns).
    type: path
requirements:
  - pyroute2 >= 0.9 on the managed host
  - Linux, run as root (CAP_SYS_ADMIN to enter another namespace)
  - For O(container) and O(network), a local Docker engine on its unix socket
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode runs exactly the same code and changes nothing either.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to show.
  platform:
    platforms: linux
    support: full
    description: Linux network namespaces through rtnetlink.
notes:
  - Neighbour entries in state NOARP or NONE (the kernel's multicast mappings) and proxy entries are left out,
    as C(ip neigh show) does. Routes of the C(local) table (the kernel's own per-address local and broadcast
    routes) are left out, as C(ip route show table all) shows them apart; every other table is returned.
  - Bridge VLAN tables (C(bridge vlan show)) are not read.
seealso:
  - module: hostnet.fabric.netns
  - name: ip-netns(8)
    description: The iproute2 manual page for network namespaces.
    link: https://man7.org/linux/man-pages/man8/ip-netns.8.html
  - name: bridge(8)
    description: The iproute2 manual page for bridges and their forwarding database.
    link: https://man7.org/linux/man-pages/man8/bridge.8.html
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: What is in the workload namespace web1
  hostnet.fabric.netns_info:
    netns: web1
  register: web1

- name: It is plugged into the bridge and addressed
  ansible.builtin.assert:
    that:
      - web1.namespace.links.eth0.state == 'UP'
      - "'10.10.0.11/24' in web1.namespace.links.eth0.addresses"
      - web1.namespace.routes | selectattr('dst', 'eq', 'default') | map(attribute='gateway') | first == '10.10.0.1'

- name: A container's network, without naming its namespace
  hostnet.fabric.netns_info:
    container: web
  register: web

- name: The overlay network's own namespace (bridge, VXLAN device, static FDB)
  hostnet.fabric.netns_info:
    network: ov_net1
  register: ov

- name: The VXLAN device of the overlay and where each remote MAC lives
  ansible.builtin.debug:
    msg:
      - "{{ ov.namespace.links.values() | selectattr('kind', 'eq', 'vxlan') | map(attribute='vxlan') | list }}"
      - "{{ ov.namespace.fdb | selectattr('dst') | map(attribute='mac') | list }}"

- name: Print it as an operator reads it
  ansible.builtin.debug:
    msg: "{{ ov | hostnet.fabric.netns_report }}"

- name: The host and every named namespace
  hostnet.fabric.netns_info:
    all: true
  register: everything
'''

RETURN = r'''
namespace:
  description:
    - The namespace that was read. With O(all), the namespace Ansible runs in.
  returned: success
  type: dict
  contains:
    name:
      description: Its C(/run/netns) name (O(netns), O(all)) or Docker's name for it (O(network),
        e.g. V(1-f3a5b2c1d0)); V(null) for a container's or the current namespace.
      type: str
    path:
      description: The file it was opened by; V(null) for the current namespace.
      type: str
      sample: /proc/4242/ns/net
    inode:
      description: Inode of the namespace (equal for every name of one namespace).
      type: int
    current:
      description: Whether it is the namespace Ansible runs in (a C(--network host) container's is).
      type: bool
    names:
      description: Every name under C(/run/netns) that refers to it (C(ip netns identify)).
      type: list
      elements: str
    container:
      description: With O(container), the container (V(null) otherwise).
      type: dict
      sample: {"id": "3f2a...", "name": "web", "pid": 4242}
    network:
      description: With O(network), the Docker network (V(null) otherwise).
      type: dict
      sample: {"id": "f3a5b2c1d0e9...", "name": "ov_net1", "driver": "overlay", "scope": "swarm"}
    links:
      description: Every link, keyed by name.
      type: dict
      sample:
        vxlan0:
          index: 4
          name: vxlan0
          kind: vxlan
          link_type: ether
          state: UNKNOWN
          up: true
          carrier: true
          mtu: 1450
          mac: "ce:8b:55:66:77:88"
          master: br0
          alias: null
          addresses: []
          link: null
          link_index: null
          link_netnsid: null
          link_netns: null
          vxlan: {vni: 4097, port: 4789, local: null, group: null, remote: null, dev: null, learning: false,
                  proxy: true, rsc: false, l2miss: true, l3miss: true, external: false, ttl: 0, tos: 0,
                  ageing: 300, udp_csum: false, srcport_min: 0, srcport_max: 0}
      contains:
        index:
          description: Interface index.
          type: int
        kind:
          description: Link kind (V(bridge), V(veth), V(vxlan) ...); V(null) for physical devices and C(lo).
          type: str
        link_type:
          description: Hardware type (V(ether), V(loopback), V(none) ...).
          type: str
        state:
          description: Operational state as the kernel reports it (V(UP), V(DOWN), V(UNKNOWN), V(LOWERLAYERDOWN) ...).
          type: str
        up:
          description: Administratively up.
          type: bool
        carrier:
          description: The lower layer is up (C(LOWER_UP)).
          type: bool
        mtu:
          description: MTU.
          type: int
        mac:
          description: MAC address.
          type: str
        master:
          description: Name of the bridge (or other master) it is a port of, V(null) if none.
          type: str
        alias:
          description: The interface alias (C(ip link set dev X alias TEXT)), V(null) if not set.
          type: str
        addresses:
          description: Its addresses with prefix length, in the kernel's order, IPv6 link-local ones included.
          type: list
          elements: str
        link:
          description: Name of the peer (veth) or parent device when it is in the same namespace.
          type: str
        link_index:
          description: Interface index of the peer or parent (in the namespace RV(namespace.links.link_netnsid) names).
          type: int
        link_netnsid:
          description: The peer's or underlay's namespace id as seen from this namespace, V(null) when it is this one.
          type: int
        link_netns:
          description: The name under C(/run/netns) of the namespace RV(namespace.links.link_netnsid) refers to,
            V(null) when it has none (or is this one).
          type: str
        vxlan:
          description: For VXLAN devices only - V(vni), V(port), V(local), V(group) (multicast), V(remote)
            (unicast default destination), V(dev) (underlay device), V(learning), V(proxy), V(rsc),
            V(l2miss), V(l3miss), V(external), V(ttl), V(tos), V(ageing), V(udp_csum), V(srcport_min),
            V(srcport_max).
          type: dict
    bridges:
      description: Every bridge, keyed by name, with its ports (keyed by name) and their state.
      type: dict
      sample:
        br0:
          stp: false
          vlan_filtering: false
          ageing_time: 30000
          forward_delay: 1500
          priority: 32768
          ports:
            vxlan0: {state: forwarding, priority: 32, cost: 100, hairpin: false, learning: true, flood: true,
                     mcast_flood: true, bcast_flood: true, neigh_suppress: false, isolated: false}
    fdb:
      description:
        - The forwarding database as C(bridge fdb show) lists it - the bridges' entries (V(master) set) and the
          devices' own (V(self) in V(flags); a VXLAN device's static entries with their V(dst) VTEP).
        - V(state) is V(permanent), V(static), V(stale) or V(dynamic) (learned; C(bridge) prints nothing then).
      type: list
      elements: dict
      sample:
        - {mac: "02:42:0a:00:00:03", dev: vxlan0, master: null, dst: 192.0.2.12, vlan: null, vni: null,
           port: null, state: permanent, flags: [self]}
    neighbours:
      description: IPv4 and IPv6 neighbour entries (C(ip neigh show)).
      type: list
      elements: dict
      sample:
        - {ip: 10.0.0.3, dev: vxlan0, mac: "02:42:0a:00:00:03", state: permanent, router: false, family: inet}
    routes:
      description:
        - IPv4 and IPv6 routes of every table but C(local). V(dst) is V(default) or a network with prefix length.
      type: list
      elements: dict
      sample:
        - {family: inet, dst: 10.0.0.0/24, gateway: null, dev: br0, prefsrc: 10.0.0.1, table: main,
           protocol: kernel, scope: link, type: unicast, metric: null, nexthops: []}
namespaces:
  description:
    - With O(all), every namespace named under C(/run/netns), keyed by name, each shaped like RV(namespace).
  returned: when O(all=true)
  type: dict
'''

import os
import re

from ansible_collections.hostnet.fabric.plugins.module_utils import _netlink as nlu
from ansible_collections.hostnet.fabric.plugins.module_utils import _validate as v
from ansible_collections.hostnet.fabric.plugins.module_utils._docker_api import (
    DockerAPIError,
    container_pid,
    inspect_object,
    socket_path,
    valid_container_ref,
)
from ansible_collections.hostnet.fabric.plugins.module_utils._module import FabricError, fabric_module

DEFAULT_DOCKER_NETNS_DIR = '/var/run/docker/netns'
SANDBOX_KEY_LEN = 12  # libnetwork osl.GenerateKey keeps the first 12 characters of '<epoch>-<network id>'
_FULL_ID_RE = re.compile(r'^[0-9a-f]{64}$')


def argument_spec():
    return dict(
        netns=dict(type='str'),
        container=dict(type='str'),
        network=dict(type='str'),
        all=dict(type='bool', default=False),
        docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
        docker_netns_dir=dict(type='path'),
    )


def validate(p):
    if p['netns'] is not None:
        v.netns_name('netns', p['netns'])
    if p['all'] and any(p[k] is not None for k in ('netns', 'container', 'network')):
        raise v.ValidationError('all', 'cannot be combined with netns, container or network')
    for key in ('container', 'network'):
        if p[key] is not None:
            if not valid_container_ref(p[key]):
                raise v.ValidationError(key, 'is not a valid %s name or id' % key, p[key])
            try:
                socket_path(p['docker_host'])
            except DockerAPIError as exc:
                raise v.ValidationError('docker_host', str(exc).split(': ', 1)[1])
    if p['docker_netns_dir'] is not None and not os.path.isabs(p['docker_netns_dir']):
        raise v.ValidationError('docker_netns_dir', 'must be an absolute path', p['docker_netns_dir'])
    return p


def sandbox_key(epoch, network_id):
    """Docker's file name for an overlay network's namespace (libnetwork osl.GenerateKey)."""
    return ('%d-%s' % (epoch, network_id))[:SANDBOX_KEY_LEN]


def find_sandbox(entries, network_id):
    """The live file name among ``entries`` for the overlay network ``network_id``: the highest epoch."""
    best = None
    for entry in entries:
        epoch, sep, _rest = entry.partition('-')
        if not sep or not epoch.isdigit() or entry != sandbox_key(int(epoch), network_id):
            continue
        if best is None or int(epoch) > best[0]:
            best = (int(epoch), entry)
    return best[1] if best else None


def _docker(call, *args):
    try:
        return call(*args)
    except DockerAPIError as exc:
        raise FabricError(str(exc))


def describe(path, name=None, extra=None):
    """The view of the namespace at ``path`` (None: the current one)."""
    own = nlu.ns_inode('/proc/self/ns/net')
    try:
        inode = nlu.ns_inode(path) if path else own
    except OSError as exc:
        raise nlu.NamespaceNotFound('no network namespace at %s: %s' % (path, exc.strerror))
    with nlu.NetnsReader(path) as reader:
        data = reader.read()
    view = {
        'name': name,
        'path': path,
        'inode': inode[1],
        'current': inode == own,
        'names': nlu.netns_names_of(inode),
        'container': None,
        'network': None,
    }
    view.update(extra or {})
    view.update(data)
    return view


def read_container(p):
    host, ref = p['docker_host'], p['container']
    pid = _docker(container_pid, host, ref)
    path = '/proc/%d/ns/net' % pid
    try:
        view = describe(path)
    except nlu.NamespaceNotFound:
        raise FabricError("container: '%s' stopped while its namespace was being read (process %d is gone)"
                          % (ref, pid))
    info = _docker(inspect_object, host, 'container', ref)
    if (info.get('State') or {}).get('Pid') != pid:
        raise FabricError("container: '%s' was restarted while its namespace was being read (process %d, now %s); "
                          "run again" % (ref, pid, (info.get('State') or {}).get('Pid')))
    view['container'] = {'id': info.get('Id'), 'name': (info.get('Name') or '').lstrip('/') or ref, 'pid': pid}
    return view


def _netns_dir_of_network(p, net):
    if p['docker_netns_dir']:
        return p['docker_netns_dir']
    for cid in sorted((net.get('Containers') or {})):
        if not _FULL_ID_RE.match(cid):
            continue  # 'ingress-sbox', 'lb-NET': Docker's own endpoints, not containers
        try:
            info = inspect_object(p['docker_host'], 'container', cid)
        except DockerAPIError:
            continue
        key = (info.get('NetworkSettings') or {}).get('SandboxKey')
        if key:
            return os.path.dirname(key)
    return DEFAULT_DOCKER_NETNS_DIR


def read_network(p):
    ref = p['network']
    net = _docker(inspect_object, p['docker_host'], 'network', ref)
    net_id, net_name, driver = net.get('Id') or '', net.get('Name') or ref, net.get('Driver')
    summary = {'id': net_id, 'name': net_name, 'driver': driver, 'scope': net.get('Scope')}
    if driver != 'overlay':
        where = ''
        if driver == 'bridge':
            bridge = (net.get('Options') or {}).get('com.docker.network.bridge.name') or 'br-%s' % net_id[:12]
            where = '; its bridge %s is in the host\'s namespace (run without container, network or netns)' % bridge
        raise FabricError("network: '%s' is a %s network: only overlay networks have a namespace of their own%s"
                          % (net_name, driver, where))
    netns_dir = _netns_dir_of_network(p, net)
    try:
        entries = os.listdir(netns_dir)
    except OSError:
        entries = []
    # the live one: a file Docker has not cleaned up yet has nothing mounted on it
    live = [e for e in entries if find_sandbox([e], net_id) and nlu.nsfs_state(os.path.join(netns_dir, e)) == 'mounted']
    key = find_sandbox(live, net_id)
    if key is None:
        left = find_sandbox(entries, net_id)
        raise FabricError("network: overlay network '%s' (id %s) has no namespace on this host (no %s under %s%s): "
                          "Docker creates it when the first container on this host joins the network, and removes "
                          "it when the last one leaves"
                          % (net_name, net_id[:12], sandbox_key(1, net_id), netns_dir,
                             '; %s is a left-over file with nothing mounted on it' % left if left else ''))
    path = os.path.join(netns_dir, key)
    try:
        return describe(path, name=key, extra={'network': summary})
    except nlu.NamespaceNotFound as exc:
        raise FabricError("network: the namespace of overlay network '%s' is gone: %s (the last container on "
                          "this host left the network?)" % (net_name, exc))


def read_netns(name):
    state = nlu.netns_state(name)
    if state == 'absent':
        raise FabricError("netns: network namespace '%s' does not exist (%s)" % (name, nlu.netns_path(name)))
    if state == 'stale':
        raise FabricError("netns: %s is a left-over file with no namespace mounted on it" % nlu.netns_path(name))
    try:
        return describe(nlu.netns_path(name), name=name)
    except nlu.NamespaceNotFound:
        raise FabricError("netns: network namespace '%s' was removed while being read" % name)


def inspect(p, warn):
    """The module's result (without 'changed')."""
    if p['container'] is not None:
        return {'namespace': read_container(p)}
    if p['network'] is not None:
        return {'namespace': read_network(p)}
    if p['netns'] is not None:
        return {'namespace': read_netns(p['netns'])}
    result = {'namespace': describe(None)}
    if p['all']:
        result['namespaces'] = {}
        for name in nlu.list_netns():
            try:
                result['namespaces'][name] = read_netns(name)
            except FabricError as exc:
                warn('skipped %s' % str(exc).split(': ', 1)[1])
    return result


def main():
    module = fabric_module(argument_spec(), mutually_exclusive=[('netns', 'container', 'network')])
    try:
        params = validate(dict(module.params))
    except v.ValidationError as exc:
        module.fail_json(msg=str(exc), param=exc.param)
    try:
        result = inspect(params, module.warn)
    except (FabricError, nlu.NetlinkOpError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
