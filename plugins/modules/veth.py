#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: veth
short_description: Manage a veth pair, optionally with its peer in another network namespace
version_added: 0.1.0
description:
  - Creates, converges or removes a veth pair through rtnetlink (pyroute2). The O(name) end lives in O(netns),
    the O(peer) end is created directly in O(peer_netns) (never created in one namespace and moved).
  - The classic container plumbing in one task - a veth from a bridge to a workload namespace, with the
    workload's address and default route.
  - Both ends are brought up by default. Only the options you set are compared and changed.
  - An existing veth whose peer is not O(peer) in O(peer_netns) is an error naming where its peer is,
    unless O(recreate=true). An interface of another kind with either name is an error, never deleted.
options:
  name:
    description: Name of the end in O(netns).
    type: str
    required: true
  peer:
    description: Name of the other end, in O(peer_netns). Required with O(state=present).
    type: str
  peer_netns:
    description:
      - Namespace the peer end lives in. Defaults to O(netns) (both ends in one namespace).
      - Must exist; it is never created by this module.
    type: str
  peer_mac:
    description: Unicast MAC address of the peer end. Unmanaged when omitted.
    type: str
  peer_addresses:
    description:
      - The exclusive list of addresses (with prefix length) on the peer end. Unmanaged when omitted.
    type: list
    elements: str
  peer_gateway:
    description:
      - Default route via this address in the peer's namespace (the workload's gateway), replacing an
        existing default route of the same IP family. Unmanaged when omitted.
    type: str
  master:
    description: Bridge the O(name) end is a port of, in O(netns). V('') detaches it. Unmanaged when omitted.
    type: str
  mtu:
    description: MTU of both ends, 68..65535. Unmanaged when omitted.
    type: int
  state:
    description:
      - V(present) creates or converges the pair, V(absent) deletes it (deleting one end deletes both).
    type: str
    choices: [present, absent]
    default: present
  recreate:
    description: Delete and create the pair again when the existing O(name) is paired with another peer.
    type: bool
    default: false
extends_documentation_fragment:
  - hostnet.fabric.common
  - hostnet.fabric.common.link
seealso:
  - module: hostnet.fabric.netns
  - module: hostnet.fabric.bridge
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: Plug a workload namespace into bridge br0 (host end on the bridge, workload end addressed)
  hostnet.fabric.veth:
    name: veth-web1
    master: br0
    peer: eth0
    peer_netns: web1
    peer_addresses:
      - 10.10.0.11/24
    peer_gateway: 10.10.0.1
    mtu: 1450

- name: Both ends in one namespace
  hostnet.fabric.veth:
    name: va
    peer: vb
    netns: lab
    addresses: [192.168.77.1/30]
    peer_addresses: [192.168.77.2/30]

- name: Remove the pair (either end's name will do)
  hostnet.fabric.veth:
    name: veth-web1
    state: absent
'''

RETURN = r'''
actions:
  description: What was done (or, in check mode, would be done), in order.
  returned: always
  type: list
  elements: str
  sample: ["create veth veth-web1 in the current namespace with peer eth0 in namespace 'web1'"]
veth:
  description: State of the O(name) end after the run (predicted in check mode); V(null) when absent.
  returned: always
  type: dict
  contains:
    name:
      description: Interface name.
      type: str
    kind:
      description: V(veth).
      type: str
    netns:
      description: Namespace, V(null) for the current one.
      type: str
    mtu:
      description: MTU.
      type: int
    mac:
      description: MAC address.
      type: str
    alias:
      description: Alias of this end (V(null) when it has none; O(alias) sets it on this end only).
      type: str
    up:
      description: Administratively up.
      type: bool
    master:
      description: Bridge this end is a port of.
      type: str
    addresses:
      description: Addresses with prefix length.
      type: list
      elements: str
    peer:
      description: The peer end (same keys as this end, plus C(gateway), the default route in its namespace).
      type: dict
      sample: {"name": "eth0", "netns": "web1", "addresses": ["10.10.0.11/24"], "gateway": "10.10.0.1", "up": true}
'''

import ipaddress

from ansible_collections.hostnet.fabric.plugins.module_utils import _validate as v
from ansible_collections.hostnet.fabric.plugins.module_utils._module import (
    FabricError,
    fabric_module,
    link_argument_spec,
    read_link,
    run,
)
from ansible_collections.hostnet.fabric.plugins.module_utils._plan import plan_link_settings


def argument_spec():
    return link_argument_spec(
        peer=dict(type='str'),
        peer_netns=dict(type='str'),
        peer_mac=dict(type='str'),
        peer_addresses=dict(type='list', elements='str'),
        peer_gateway=dict(type='str'),
        recreate=dict(type='bool', default=False),
    )


REQUIRED_IF = [('state', 'present', ('peer',))]


def validate(p):
    v.link_params(p)
    if p['peer_netns'] is not None:
        v.netns_name('peer_netns', p['peer_netns'])
    if p['state'] == 'absent':
        return p
    v.ifname('peer', p['peer'])
    if p['peer_netns'] is None:
        p['peer_netns'] = p['netns']
    if p['peer'] == p['name'] and p['peer_netns'] == p['netns']:
        raise v.ValidationError('peer', 'must differ from name when both ends are in one namespace', p['peer'])
    if p['peer_mac'] is not None:
        p['peer_mac'] = v.mac('peer_mac', p['peer_mac'])
    p['peer_addresses'] = v.cidr_list('peer_addresses', p['peer_addresses'])
    if p['peer_gateway'] is not None:
        p['peer_gateway'] = v.ip('peer_gateway', p['peer_gateway'], allow_multicast=False)
    return p


def _gateway_family(p):
    return ipaddress.ip_address(p['peer_gateway']).version if p.get('peer_gateway') else 4


def find_peer(nss, p, link):
    """(nl, link) of the actual peer of ``link`` if it is ``p['peer']`` in ``p['peer_netns']``, else (None, None)."""
    nl = nss(p['netns'])
    if link['link_netnsid'] is None:  # both ends in one namespace
        peer = nl.link(index=link['link_index'])
        if peer is not None and peer['ifname'] == p.get('peer') and p.get('peer_netns') == p['netns']:
            return nl, peer
        return None, peer
    if p.get('peer_netns') == p['netns']:
        return None, None
    peer_nl = nss(p['peer_netns'])

    def is_peer(other):
        return (other is not None and other['kind'] == 'veth' and other['link_index'] == link['index']
                and link['link_index'] == other['index'])
    peer = peer_nl.link(p['peer'])
    if is_peer(peer):
        return peer_nl, peer
    # not under the wanted name: is it in the wanted namespace under another name?
    other = peer_nl.link(index=link['link_index'])
    if is_peer(other):
        return None, dict(other, where=peer_nl.where)
    return None, None


def read(nss, p):
    nl = nss(p['netns'])
    link = read_link(nl, p['name'], 'veth')
    if link is None:
        return None
    view = nl.view(link)
    view['peer'] = None
    if p['state'] == 'absent':
        return view
    peer_nl, peer = find_peer(nss, p, link)
    if peer_nl is not None:
        view['peer'] = peer_nl.view(peer)
        view['peer']['gateway'] = peer_nl.default_gateway(_gateway_family(p))
    else:
        if peer is not None:
            view['peer_elsewhere'] = (peer['ifname'], peer.get('where', nl.where))
        else:
            view['peer_elsewhere'] = ('ifindex %s' % link['link_index'],
                                      'the namespace with id %s (as seen from %s)' % (link['link_netnsid'], nl.where))
    return view


def _fresh(name, netns):
    return {'name': name, 'kind': 'veth', 'netns': netns, 'mtu': None, 'mac': None, 'alias': None, 'up': False,
            'master': None, 'addresses': []}


def plan_create(plan, nl, peer_nl, p):
    kwargs = {'ifname': p['peer']}
    if p['peer_netns'] != p['netns']:
        # validate() made peer_netns default to netns, so it is a name here
        kwargs['net_ns_fd'] = p['peer_netns']
    plan.add('create veth %s in %s with peer %s in %s' % (p['name'], nl.where, p['peer'], peer_nl.where),
             lambda: nl.add_link(p['name'], 'veth', peer=kwargs), lambda: nl.del_link(p['name']))


def converge(nss, p, before, plan):
    nl = nss(p['netns'])
    name = p['name']
    if p['state'] == 'absent':
        if before is not None:
            plan.add('delete veth %s (and its peer) in %s' % (name, nl.where), lambda: nl.del_link(name))
        return None

    peer_nl = nss(p['peer_netns'])  # a missing namespace fails here, before anything is planned
    if p['master']:
        master = nl.link(p['master'])
        if master is None or master['kind'] != 'bridge':
            raise FabricError("master: '%s' is not a bridge in %s" % (p['master'], nl.where))
    created = before is None or before['peer'] is None
    if before is not None and before['peer'] is None:
        where = before.pop('peer_elsewhere')
        if not p['recreate']:
            raise FabricError("peer: veth '%s' in %s exists, but its peer is '%s' in %s, not '%s' in %s "
                              "(set recreate: true to replace the pair)"
                              % (name, nl.where, where[0], where[1], p['peer'], peer_nl.where))
        plan.add('delete veth %s in %s (its peer is %s in %s) to recreate it' % (name, nl.where, where[0], where[1]),
                 lambda: nl.del_link(name))
    if created:
        taken = peer_nl.link(p['peer'])
        if taken is not None:
            raise FabricError("peer: '%s' already exists in %s (a %s interface); it was left untouched"
                              % (p['peer'], peer_nl.where, taken['kind'] or 'physical'))
        plan_create(plan, nl, peer_nl, p)
        current, current_peer = _fresh(name, p['netns']), dict(_fresh(p['peer'], p['peer_netns']), gateway=None)
    else:
        current, current_peer = before, before['peer']

    after = plan_link_settings(plan, nl, name, current, p, created=created)
    peer_want = {'mtu': p['mtu'], 'mac': p['peer_mac'], 'addresses': p['peer_addresses'], 'up': p['up']}
    after_peer = plan_link_settings(plan, peer_nl, p['peer'], current_peer, peer_want, created=created)
    # the kernel flushes a route with the address its subnet came from: if this plan removes a
    # peer address, (re)install the default route after the address changes
    flushed = p['peer_addresses'] is not None and any(a not in p['peer_addresses'] for a in current_peer['addresses'])
    if p['peer_gateway'] is not None and (p['peer_gateway'] != current_peer.get('gateway') or flushed):
        old = current_peer.get('gateway')
        undo = None
        if not created:
            def undo():
                if old:
                    peer_nl.set_default_gateway(old)
                else:
                    peer_nl.del_default_gateway(p['peer_gateway'])
        plan.add('set default route via %s in %s' % (p['peer_gateway'], peer_nl.where),
                 lambda: peer_nl.set_default_gateway(p['peer_gateway']), undo)
        after_peer['gateway'] = p['peer_gateway']
    after['peer'] = after_peer
    return after


def main():
    module = fabric_module(argument_spec(), required_if=REQUIRED_IF)
    run(module, 'veth', validate, read, converge)


if __name__ == '__main__':
    main()
