#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: bridge
short_description: Manage a Linux bridge in a network namespace
version_added: 0.1.0
description:
  - Creates, converges or removes a Linux bridge through rtnetlink (pyroute2), in the current
    namespace or in a named one.
  - Only the options you set are compared and changed; the rest of the bridge is left alone.
  - An interface of another kind with the wanted name is an error and is never deleted.
options:
  name:
    description: Name of the bridge (at most 15 bytes; no C(/), C(:), C(%) or whitespace).
    type: str
    required: true
  state:
    description:
      - V(present) creates or converges the bridge, V(absent) deletes it if it exists.
      - Deleting a bridge releases its ports; they are not deleted.
    type: str
    choices: [present, absent]
    default: present
  stp:
    description: Spanning tree protocol on or off. Unmanaged when omitted (the kernel default is off).
    type: bool
extends_documentation_fragment:
  - hostnet.fabric.common
  - hostnet.fabric.common.link
seealso:
  - module: hostnet.fabric.veth
  - module: hostnet.fabric.vxlan
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: A bridge with an address, in the current namespace
  hostnet.fabric.bridge:
    name: br0
    addresses:
      - 10.10.0.1/24
    mtu: 1450

- name: A bridge inside the namespace of an overlay
  hostnet.fabric.bridge:
    name: br-ov1
    netns: ov1
    stp: false

- name: Remove it
  hostnet.fabric.bridge:
    name: br-ov1
    netns: ov1
    state: absent
'''

RETURN = r'''
actions:
  description: What was done (or, in check mode, would be done), in order.
  returned: always
  type: list
  elements: str
  sample: ["create bridge br0 in the current namespace", "add address 10.10.0.1/24 to br0 in the current namespace"]
bridge:
  description: State of the bridge after the run (predicted in check mode); V(null) when absent.
  returned: always
  type: dict
  contains:
    name:
      description: Interface name.
      type: str
      sample: br0
    kind:
      description: Link kind.
      type: str
      sample: bridge
    netns:
      description: Namespace, V(null) for the current one.
      type: str
    mtu:
      description: MTU.
      type: int
      sample: 1500
    mac:
      description: MAC address.
      type: str
      sample: "02:42:ac:11:00:02"
    alias:
      description: Alias of the bridge (V(null) when it has none).
      type: str
      sample: "hostnet.fabric vxlan_fabric seg1"
    up:
      description: Whether the link is administratively up.
      type: bool
    master:
      description: Always V(null) for a bridge.
      type: str
    addresses:
      description: Addresses with prefix length (IPv6 link-local left out).
      type: list
      elements: str
      sample: ["10.10.0.1/24"]
    stp:
      description: Whether STP is on.
      type: bool
'''

from ansible_collections.hostnet.fabric.plugins.module_utils import _validate as v
from ansible_collections.hostnet.fabric.plugins.module_utils._module import (
    fabric_module,
    link_argument_spec,
    read_link,
    run,
)
from ansible_collections.hostnet.fabric.plugins.module_utils._plan import plan_link_settings


def argument_spec():
    # a bridge is never a port of another bridge: no master
    return link_argument_spec(without=('master',), stp=dict(type='bool'))


def validate(p):
    return v.link_params(p)


def read(nss, p):
    nl = nss(p['netns'])
    return nl.view(read_link(nl, p['name'], 'bridge'))


def converge(nss, p, before, plan):
    nl = nss(p['netns'])
    name = p['name']
    if p['state'] == 'absent':
        if before is not None:
            plan.add('delete bridge %s in %s' % (name, nl.where), lambda: nl.del_link(name))
        return None
    created = before is None
    current = before
    if created:
        plan.add('create bridge %s in %s' % (name, nl.where),
                 lambda: nl.add_link(name, 'bridge'), lambda: nl.del_link(name))
        current = {'name': name, 'kind': 'bridge', 'netns': p['netns'], 'mtu': None, 'mac': None, 'alias': None,
                   'up': False, 'master': None, 'addresses': [], 'stp': False}
    after = plan_link_settings(plan, nl, name, current, p, created=created)
    if p['stp'] is not None and p['stp'] != current['stp']:
        old = current['stp']
        plan.add('turn stp %s on %s in %s' % ('on' if p['stp'] else 'off', name, nl.where),
                 lambda: nl.set_link(name, kind='bridge', br_stp_state=int(p['stp'])),
                 None if created else (lambda: nl.set_link(name, kind='bridge', br_stp_state=int(old))))
        after['stp'] = p['stp']
    return after


def main():
    module = fabric_module(argument_spec())
    run(module, 'bridge', validate, read, converge)


if __name__ == '__main__':
    main()
