#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vxlan
short_description: Manage a VXLAN device, its flood list, static FDB and neighbour entries
version_added: 0.1.0
description:
  - Creates, converges or removes a VXLAN device (a VTEP) through rtnetlink (pyroute2), in the current
    namespace or in a named one, together with its head-end replication list (O(peers)), static unicast
    FDB entries (O(fdb)) and static neighbour entries (O(neigh)).
  - Attributes the kernel cannot change in place (O(vni), O(dstport), O(local), O(dev), O(group), O(proxy))
    are compared with an existing device. When one differs the module fails naming the field, the current
    and the wanted value, and leaves the device alone, unless O(recreate=true).
  - Another VXLAN device that already uses the same VNI and UDP port in the namespace is a conflict; the
    module fails naming it and never touches it. An interface of another kind with the wanted name is an
    error, never deleted.
options:
  name:
    description: Name of the VXLAN device (at most 15 bytes; no C(/), C(:), C(%) or whitespace).
    type: str
    required: true
  state:
    description: V(present) creates or converges the device, V(absent) deletes it if it exists.
    type: str
    choices: [present, absent]
    default: present
  vni:
    description: VXLAN network identifier, 1..16777215. Required with O(state=present).
    type: int
  dstport:
    description:
      - UDP destination port, 1..65535.
      - Defaults to the IANA port 4789, not the kernel's legacy default 8472.
    type: int
    default: 4789
  local:
    description: Source (local VTEP) IP address. Unmanaged when omitted.
    type: str
  dev:
    description: Underlay interface for the tunnel endpoint. Unmanaged when omitted.
    type: str
  group:
    description:
      - Multicast group for BUM traffic (V(239.1.1.1)). Mutually exclusive with O(peers).
    type: str
  peers:
    description:
      - Remote VTEP addresses for head-end replication. Each becomes one all-zero FDB flood entry
        (C(bridge fdb append 00:00:00:00:00:00 dst PEER)), added with append semantics.
      - The list is exclusive when given; flood entries for addresses not listed are removed. V([]) removes all.
      - Multicast addresses are refused (use O(group)).
    type: list
    elements: str
  fdb:
    description:
      - Static unicast FDB entries saying which VTEP each remote MAC lives behind.
      - Exclusive when given; static entries not listed are removed (learned entries are left alone).
    type: list
    elements: dict
    suboptions:
      mac:
        description: Unicast MAC of the remote endpoint.
        type: str
        required: true
      dst:
        description: IP address of the remote VTEP.
        type: str
        required: true
  neigh:
    description:
      - Static permanent neighbour (ARP/ND) entries on the device, e.g. for ARP suppression with O(proxy).
      - Exclusive when given; permanent entries not listed are removed.
    type: list
    elements: dict
    suboptions:
      ip:
        description: IP address of the remote endpoint.
        type: str
        required: true
      mac:
        description: Its MAC address.
        type: str
        required: true
  learning:
    description: Learn remote MACs from received traffic. Off by default, as for a statically programmed fabric.
    type: bool
    default: false
  proxy:
    description:
      - ARP/ND proxy (suppression) on the device. Unmanaged when omitted.
      - The kernel cannot change it in place; a different value needs O(recreate=true).
    type: bool
  ttl:
    description: TTL of the outer packets, 0..255 (0 inherits). Unmanaged when omitted.
    type: int
  master:
    description:
      - Bridge the device is a port of. V('') detaches it. Unmanaged when omitted.
    type: str
  recreate:
    description:
      - Delete and create the device again when an immutable attribute differs. Its FDB and neighbour entries
        are then programmed again. If the new device cannot be created, the old one is restored.
    type: bool
    default: false
extends_documentation_fragment:
  - hostnet.fabric.common
  - hostnet.fabric.common.link
seealso:
  - module: hostnet.fabric.bridge
  - name: VXLAN (RFC 7348)
    description: Virtual eXtensible Local Area Network.
    link: https://www.rfc-editor.org/rfc/rfc7348
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: A VTEP with head-end replication to two peers, in a bridge
  hostnet.fabric.vxlan:
    name: vxlan42
    vni: 42
    local: 192.0.2.10
    dev: eth0
    master: br42
    mtu: 1450
    peers:
      - 192.0.2.11
      - 192.0.2.12

- name: Fully static - known MACs and ARP entries, ARP suppression on
  hostnet.fabric.vxlan:
    name: vxlan42
    vni: 42
    local: 192.0.2.10
    proxy: true
    peers: [192.0.2.11]
    fdb:
      - {mac: "02:42:0a:00:00:02", dst: 192.0.2.11}
    neigh:
      - {ip: 10.0.0.2, mac: "02:42:0a:00:00:02"}

- name: Change the VNI of an existing device (it is deleted and created again)
  hostnet.fabric.vxlan:
    name: vxlan42
    vni: 4242
    recreate: true

- name: Multicast instead of a peer list
  hostnet.fabric.vxlan:
    name: vxlan7
    vni: 7
    group: 239.1.1.7
    dev: eth0
'''

RETURN = r'''
actions:
  description: What was done (or, in check mode, would be done), in order.
  returned: always
  type: list
  elements: str
  sample: ["create vxlan vxlan42 (vni 42, port 4789) in the current namespace", "add flood entry for peer 192.0.2.11 on vxlan42"]
vxlan:
  description: State of the device after the run (predicted in check mode); V(null) when absent.
  returned: always
  type: dict
  contains:
    name:
      description: Interface name.
      type: str
    kind:
      description: V(vxlan).
      type: str
    netns:
      description: Namespace, V(null) for the current one.
      type: str
    vni:
      description: VXLAN network identifier.
      type: int
      sample: 42
    dstport:
      description: UDP destination port.
      type: int
      sample: 4789
    local:
      description: Local VTEP address.
      type: str
    group:
      description: Multicast group.
      type: str
    dev:
      description: Underlay interface.
      type: str
    learning:
      description: MAC learning.
      type: bool
    proxy:
      description: ARP/ND proxy.
      type: bool
    ttl:
      description: Outer TTL (0 inherits).
      type: int
    mtu:
      description: MTU.
      type: int
    mac:
      description: MAC address.
      type: str
    alias:
      description: Alias of the device (V(null) when it has none).
      type: str
    up:
      description: Administratively up.
      type: bool
    master:
      description: Bridge the device is a port of.
      type: str
    addresses:
      description: Addresses with prefix length.
      type: list
      elements: str
    peers:
      description: Remote VTEPs in the flood list.
      type: list
      elements: str
      sample: ["192.0.2.11"]
    fdb:
      description: Static unicast FDB entries.
      type: list
      elements: dict
      sample: [{"mac": "02:42:0a:00:00:02", "dst": "192.0.2.11"}]
    neigh:
      description: Permanent neighbour entries.
      type: list
      elements: dict
      sample: [{"ip": "10.0.0.2", "mac": "02:42:0a:00:00:02"}]
'''

import ipaddress
import socket

from ansible_collections.hostnet.fabric.plugins.module_utils import _validate as v
from ansible_collections.hostnet.fabric.plugins.module_utils._module import (
    FabricError,
    fabric_module,
    link_argument_spec,
    read_link,
    run,
)
from ansible_collections.hostnet.fabric.plugins.module_utils._netlink import ZERO_MAC
from ansible_collections.hostnet.fabric.plugins.module_utils._plan import Batch, plan_exclusive, plan_link_settings

# Attributes the kernel cannot change on an existing device (changelink answers EOPNOTSUPP).
IMMUTABLE = ('vni', 'dstport', 'local', 'dev', 'group', 'proxy')


def argument_spec():
    return link_argument_spec(
        vni=dict(type='int'),
        dstport=dict(type='int', default=4789),
        local=dict(type='str'),
        dev=dict(type='str'),
        group=dict(type='str'),
        peers=dict(type='list', elements='str'),
        fdb=dict(type='list', elements='dict', options=dict(
            mac=dict(type='str', required=True),
            dst=dict(type='str', required=True),
        )),
        neigh=dict(type='list', elements='dict', options=dict(
            ip=dict(type='str', required=True),
            mac=dict(type='str', required=True),
        )),
        learning=dict(type='bool', default=False),
        proxy=dict(type='bool'),
        ttl=dict(type='int'),
        recreate=dict(type='bool', default=False),
    )


# multicast or head-end replication, not both
MUTUALLY_EXCLUSIVE = [('group', 'peers')]
REQUIRED_IF = [('state', 'present', ('vni',))]


def validate(p):
    v.link_params(p)
    if p['state'] == 'absent':
        return p
    v.vni('vni', p['vni'])
    v.port('dstport', p['dstport'])
    if p['local'] is not None:
        p['local'] = v.ip('local', p['local'], allow_multicast=False)
    if p['group'] is not None:
        p['group'] = v.multicast_ip('group', p['group'])
    if p['dev'] is not None:
        v.ifname('dev', p['dev'])
    if p['ttl'] is not None:
        v.ttl('ttl', p['ttl'])
    p['peers'] = v.ip_list('peers', p['peers'], allow_multicast=False)
    if p['fdb'] is not None:
        entries, seen = [], set()
        for i, e in enumerate(p['fdb']):
            entry = {'mac': v.mac('fdb[%d].mac' % i, e['mac']),
                     'dst': v.ip('fdb[%d].dst' % i, e['dst'], allow_multicast=False)}
            if _fdb_key(entry) not in seen:
                seen.add(_fdb_key(entry))
                entries.append(entry)
        p['fdb'] = entries
    if p['neigh'] is not None:
        seen = {}
        for i, e in enumerate(p['neigh']):
            ip = v.ip('neigh[%d].ip' % i, e['ip'], allow_multicast=False)
            mac = v.mac('neigh[%d].mac' % i, e['mac'])
            if seen.get(ip, mac) != mac:
                raise v.ValidationError('neigh[%d].ip' % i, 'is listed twice with different MACs', ip)
            seen[ip] = mac
        p['neigh'] = [{'ip': ip, 'mac': mac} for ip, mac in seen.items()]
    endpoints = [p['local'], p['group']] + (p['peers'] or []) + [e['dst'] for e in p['fdb'] or []]
    v.same_family('local/group/peers/fdb', endpoints)
    return p


# --------------------------------------------------------------------------- reading
def _ip_order(text):
    """Sort key of canonical address text: IPv4 before IPv6, then numeric (ipaddress' order, in C)."""
    if ':' in text:
        return (6, socket.inet_pton(socket.AF_INET6, text))
    return (4, socket.inet_pton(socket.AF_INET, text))


def _sorted_entries(entries, key):
    return sorted(entries, key=lambda e: _ip_order(e[key]))


def read(nss, p):
    nl = nss(p['netns'])
    link = read_link(nl, p['name'], 'vxlan', 'vxlan device')
    if link is None:
        return None
    view = nl.view(link)
    fdb = nl.fdb(link['index'])
    view['peers'] = [e['dst'] for e in _sorted_entries([e for e in fdb if e['mac'] == ZERO_MAC], 'dst')]
    view['fdb'] = _sorted_entries([e for e in fdb if e['mac'] != ZERO_MAC], 'dst')
    view['neigh'] = _sorted_entries(nl.neighbours(link['index']), 'ip')
    return view


# --------------------------------------------------------------------------- planning
def create_kwargs(nl, spec):
    """pyroute2 arguments creating a device with the immutable attributes in ``spec``."""
    kw = {'vxlan_id': spec['vni'], 'vxlan_port': spec['dstport'], 'vxlan_learning': int(bool(spec.get('learning')))}
    for key, attr in (('local', 'vxlan_local'), ('group', 'vxlan_group')):
        if spec.get(key):
            kw[attr + ('6' if ipaddress.ip_address(spec[key]).version == 6 else '')] = spec[key]
    if spec.get('dev'):
        kw['vxlan_link'] = nl.index_of(spec['dev'], 'underlay interface (dev)')
    if spec.get('ttl') is not None:
        kw['vxlan_ttl'] = spec['ttl']
    if spec.get('proxy') is not None:
        kw['vxlan_proxy'] = int(spec['proxy'])
    return kw


def immutable_differences(before, p):
    diffs = []
    for field in IMMUTABLE:
        if p.get(field) is not None and p[field] != before.get(field):
            diffs.append((field, before.get(field), p[field]))
    return diffs


def check_conflicts(nl, p):
    for link in nl.links():
        info = link['info']
        if (link['kind'] == 'vxlan' and link['ifname'] != p['name']
                and info.get('vni') == p['vni'] and info.get('dstport') == p['dstport']):
            raise FabricError("vni: VNI %d on UDP port %d is already used by vxlan device '%s' in %s; "
                              "it was left untouched" % (p['vni'], p['dstport'], link['ifname'], nl.where))
    if p['dev'] is not None and nl.link(p['dev']) is None:
        raise FabricError("dev: underlay interface '%s' does not exist in %s" % (p['dev'], nl.where))
    if p['master']:
        master = nl.link(p['master'])
        if master is None or master['kind'] != 'bridge':
            raise FabricError("master: '%s' is not a bridge in %s" % (p['master'], nl.where))


def plan_restore(nl, name, old):
    """Undo of a deletion: the old device with its settings and entries, as far as possible."""
    def restore():
        nl.add_link(name, 'vxlan', **create_kwargs(nl, old))
        for key, kw in (('mtu', 'mtu'), ('mac', 'address'), ('alias', 'ifalias')):
            if old.get(key):
                nl.set_link(name, **{kw: old[key]})
        if old.get('master'):
            nl.set_link(name, master=nl.index_of(old['master']))
        for cidr in old.get('addresses') or []:
            nl.add_address(name, cidr)
        if old.get('up'):
            nl.set_link(name, state='up')
        for failure in nl.apply_batch(name, [('fdb_append', ZERO_MAC, dst) for dst in old.get('peers') or []]
                                      + [('fdb_append', e['mac'], e['dst']) for e in old.get('fdb') or []]
                                      + [('neigh_set', e['mac'], e['ip']) for e in old.get('neigh') or []]):
            if failure is not None:
                raise failure
    return restore


def _fdb_key(e):
    return (e['mac'], e['dst'])


def _ip_key(e):
    return e['ip']


def _mac_of(e):
    return e['mac']


def plan_entries(plan, nl, name, current, p, created):
    """Flood list, static FDB and neighbour entries (each list exclusive when given).

    All of them go into one Batch: requests (op, mac, ip) sent many per round trip with the link
    resolved once (see _netlink.apply_batch); each entry keeps its own text and undo.
    """
    after = {}
    where = nl.where
    undoable = not created
    batch = Batch(lambda requests: nl.apply_batch(name, requests))
    if p['peers'] is not None:
        plan_exclusive(
            batch, current.get('peers') or [], p['peers'], undoable=undoable,
            remove=lambda d: ('remove flood entry for peer %s on %s in %s' % (d, name, where),
                              ('fdb_del', ZERO_MAC, d), ('fdb_append', ZERO_MAC, d)),
            put=lambda d, _old: ('add flood entry for peer %s on %s in %s' % (d, name, where),
                                 ('fdb_append', ZERO_MAC, d), ('fdb_del', ZERO_MAC, d)))
        after['peers'] = [e['dst'] for e in _sorted_entries([{'dst': d} for d in p['peers']], 'dst')]
    if p['fdb'] is not None:
        plan_exclusive(
            batch, current.get('fdb') or [], p['fdb'], key=_fdb_key, undoable=undoable,
            remove=lambda e: ('remove fdb entry %s dst %s on %s in %s' % (e['mac'], e['dst'], name, where),
                              ('fdb_del', e['mac'], e['dst']), ('fdb_append', e['mac'], e['dst'])),
            put=lambda e, _old: ('add fdb entry %s dst %s on %s in %s' % (e['mac'], e['dst'], name, where),
                                 ('fdb_append', e['mac'], e['dst']), ('fdb_del', e['mac'], e['dst'])))
        after['fdb'] = _sorted_entries(p['fdb'], 'dst')
    if p['neigh'] is not None:
        # one entry per address: a different MAC replaces it, and its undo puts the old one back
        plan_exclusive(
            batch, current.get('neigh') or [], p['neigh'], key=_ip_key, value=_mac_of, undoable=undoable,
            remove=lambda e: ('remove neighbour %s on %s in %s' % (e['ip'], name, where),
                              ('neigh_del', None, e['ip']), ('neigh_set', e['mac'], e['ip'])),
            put=lambda e, old: ('set neighbour %s lladdr %s on %s in %s' % (e['ip'], e['mac'], name, where),
                                ('neigh_set', e['mac'], e['ip']),
                                ('neigh_set', old['mac'], old['ip']) if old else ('neigh_del', None, e['ip'])))
        after['neigh'] = _sorted_entries(p['neigh'], 'ip')
    plan.add_batch(batch)
    return after


def converge(nss, p, before, plan):
    nl = nss(p['netns'])
    name = p['name']
    if p['state'] == 'absent':
        if before is not None:
            plan.add('delete vxlan %s in %s' % (name, nl.where), lambda: nl.del_link(name))
        return None

    check_conflicts(nl, p)
    created = before is None
    if before is not None:
        diffs = immutable_differences(before, p)
        if diffs and not p['recreate']:
            raise FabricError('; '.join("%s: the existing device %s has %s=%s, wanted %s; the kernel cannot change "
                                        "it in place (set recreate: true to delete and create the device)"
                                        % (f, name, f, cur, want) for f, cur, want in diffs))
        if diffs:
            plan.add('delete vxlan %s in %s to recreate it (%s)'
                     % (name, nl.where, ', '.join('%s %s -> %s' % d for d in diffs)),
                     lambda: nl.del_link(name), plan_restore(nl, name, before))
            created = True
            # The new device keeps what the user does not manage (same MAC, so remote FDB entries
            # pointing at it stay right; same bridge, addresses and entries).
            p = dict(p)
            for key in ('local', 'dev', 'group', 'mtu', 'mac', 'alias', 'master', 'addresses', 'ttl', 'proxy',
                        'peers', 'fdb', 'neigh'):
                if p[key] is None:
                    p[key] = before[key]
    spec = dict(p)
    if created:
        plan.add('create vxlan %s (vni %d, port %d) in %s' % (name, p['vni'], p['dstport'], nl.where),
                 lambda: nl.add_link(name, 'vxlan', **create_kwargs(nl, spec)), lambda: nl.del_link(name))
        current = {'name': name, 'kind': 'vxlan', 'netns': p['netns'], 'mtu': None, 'mac': None, 'alias': None, 'up': False,
                   'master': None, 'addresses': [], 'vni': p['vni'], 'dstport': p['dstport'],
                   'local': p['local'], 'group': p['group'], 'dev': p['dev'], 'learning': p['learning'],
                   'proxy': bool(p['proxy']), 'ttl': p['ttl'] if p['ttl'] is not None else 0,
                   'peers': [], 'fdb': [], 'neigh': []}
    else:
        current = before
    after = plan_link_settings(plan, nl, name, current, p, created=created)
    for field, attr in (('learning', 'vxlan_learning'), ('ttl', 'vxlan_ttl')):
        if p[field] is not None and p[field] != current[field]:
            old = current[field]
            plan.add('set %s of %s to %s in %s' % (field, name, p[field], nl.where),
                     lambda attr=attr, val=p[field]: nl.set_link(name, kind='vxlan', **{attr: int(val)}),
                     None if created else (lambda attr=attr, old=old: nl.set_link(name, kind='vxlan', **{attr: int(old)})))
            after[field] = p[field]
    after.update(plan_entries(plan, nl, name, current, p, created))
    return after


def main():
    module = fabric_module(argument_spec(), mutually_exclusive=MUTUALLY_EXCLUSIVE, required_if=REQUIRED_IF)
    run(module, 'vxlan', validate, read, converge)


if __name__ == '__main__':
    main()
