#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: docker_endpoints
short_description: Connect containers to a Docker network with their addresses and aliases, idempotently, with bounded tries
version_added: 0.1.0
description:
  - The endpoints of this engine's containers on one network (C(docker network connect) and C(disconnect)),
    through the engine's API on its unix socket (no Docker SDK needed).
  - O(state=present) connects every container of O(endpoints) that is not on the network, with its fixed
    addresses and aliases. A container that is on it already is left alone; settings of its endpoint that differ
    from the wanted ones are reported in RV(drift), never changed (disconnect it to have it connected again).
    A running container that lists the network without an endpoint is connected again.
  - Each connect is tried at most O(tries) times, O(delay) seconds apart, and each try's outcome is read back
    from the container (a connect that reported an error may have taken effect; one that succeeded may have left
    no endpoint). Every wait is listed in RV(waits) with what it waited for.
  - "Engine 20.10 with a cluster store sometimes fails a connect with C(failed to update store) and leaves the
    endpoint in the store; the next connect then says C(endpoint with name NAME already exists). Only an engine
    where NAME is not a local container can remove that endpoint, so such names are returned in RV(stale): remove
    them on another host with O(state=absent) and O(stale=true), then connect them again with O(stale=true).
    An C(already exists) that no failed try explains is a real conflict (RV(conflicts)) and is never removed."
  - O(state=absent) disconnects the containers of O(endpoints) (or, with O(all), every container of this engine
    on the network, running or stopped) and returns in RV(endpoints) how to connect them again.
    With O(stale=true) it instead removes, by name, endpoints that are not containers of this engine.
options:
  network:
    description: The network's name.
    type: str
    required: true
  state:
    description: Whether the endpoints should be on the network.
    type: str
    choices: [present, absent]
    default: present
  endpoints:
    description: The containers and their endpoint settings.
    type: list
    elements: dict
    default: []
    suboptions:
      container:
        description: Container name (or id) on this engine; with O(state=absent) and O(stale=true), an endpoint's name.
        type: str
        required: true
      ipv4_address:
        description: Fixed IPv4 address on the network (O(state=present)).
        type: str
      ipv6_address:
        description: Fixed IPv6 address on the network (O(state=present)).
        type: str
      aliases:
        description: DNS aliases on the network (O(state=present)).
        type: list
        elements: str
  all:
    description: With O(state=absent), every container of this engine on the network instead of O(endpoints).
    type: bool
    default: false
  stale:
    description:
      - With O(state=present), an C(already exists) for these containers is their own leftover, removed from another
        engine before this call (it is retried, and reported as failed if it stays).
      - With O(state=absent), remove by name endpoints that are not containers of this engine.
    type: bool
    default: false
  tries:
    description: Tries per connect (1 or more).
    type: int
    default: 4
  delay:
    description: Seconds between tries (0 or more).
    type: int
    default: 3
  settle:
    description: With O(state=present), seconds to wait after connecting before reading every connected container
      again and connecting any that lost its endpoint (0 to skip).
    type: int
    default: 0
  docker_host:
    description: The engine's API socket (C(unix://) only).
    type: str
    default: unix:///var/run/docker.sock
requirements:
  - A local Docker engine on its unix socket
attributes:
  check_mode:
    support: full
    description: Check mode reads the same state and takes the same decisions; only the connect and disconnect
      calls are skipped, and RV(connected) / RV(disconnected) / RV(removed) say what would be done. With
      O(stale=true) and O(state=absent) the store cannot be read from here, so every name that is not a local
      container is predicted as removed.
  diff_mode:
    support: none
    description: RV(connected), RV(disconnected) and RV(drift) say what changes or differs.
  platform:
    platforms: linux
    support: full
    description: A Docker engine on the managed host.
notes:
  - Bad input fails before the engine is asked anything, naming the parameter.
  - The module fails when a container could not be connected (after its tries) or on a name conflict; its
    message names exactly the containers that are not on the network, from the engine's state.
seealso:
  - module: hostnet.fabric.docker_probe
  - module: hostnet.fabric.docker_overlay_network
  - module: community.docker.docker_network
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: A container on the overlay with its address and aliases
  hostnet.fabric.docker_endpoints:
    network: ov_net1
    endpoints:
      - container: db1
        ipv4_address: 10.98.1.77
        aliases: [db, cache]
  register: connected

- name: Remove from another engine what failed tries left in the store
  hostnet.fabric.docker_endpoints:
    network: ov_net1
    state: absent
    stale: true
    endpoints: "{{ connected.stale | map('community.general.dict_kv', 'container') }}"
  delegate_to: "{{ groups['docker_hosts'] | reject('equalto', inventory_hostname) | first }}"
  when: connected.stale | length > 0

- name: Take every container of this host off a network, remembering how to put them back
  hostnet.fabric.docker_endpoints:
    network: ov_net1
    state: absent
    all: true
  register: taken_off
'''

RETURN = r'''
connected:
  description: Containers connected by this run (in check mode, that would be).
  type: list
  elements: str
  returned: always
disconnected:
  description: Containers disconnected by this run (in check mode, that would be).
  type: list
  elements: str
  returned: always
removed:
  description: Stale endpoints removed by name (O(state=absent), O(stale=true)).
  type: list
  elements: str
  returned: always
unchanged:
  description: Containers already as wanted.
  type: list
  elements: str
  returned: always
missing:
  description: Names with no container on this engine (nothing is done for them).
  type: list
  elements: str
  returned: always
stale:
  description: Containers whose endpoint a failed call left in the store; remove them from another engine.
  type: list
  elements: str
  returned: always
conflicts:
  description: Containers whose name is held on the network by another endpoint that no failed try explains.
  type: list
  elements: str
  returned: always
errors:
  description: Container -> the last error, for every container that is not as wanted.
  type: dict
  returned: always
drift:
  description: Container -> settings of its endpoint that differ from the wanted ones (left as they are).
  type: dict
  returned: always
  sample: {db1: {ipv4_address: {current: 10.98.1.5, wanted: 10.98.1.77}}}
endpoints:
  description: O(state=absent) - the endpoints as they were, in the shape of O(endpoints) (to connect them again).
  type: list
  elements: dict
  returned: always
waits:
  description: Every bounded wait and retry, saying what it waited for and why.
  type: list
  elements: str
  returned: always
'''

import ipaddress

from ansible_collections.hostnet.fabric.plugins.module_utils._docker_api import (
    BadInput,
    check_docker_host,
    check_minimums,
    run_docker_module,
    valid_container_ref,
)
from ansible_collections.hostnet.fabric.plugins.module_utils._docker_endpoints import Endpoints, connect_failure


def argument_spec():
    return dict(
        network=dict(type='str', required=True),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        endpoints=dict(type='list', elements='dict', default=[], options=dict(
            container=dict(type='str', required=True),
            ipv4_address=dict(type='str'),
            ipv6_address=dict(type='str'),
            aliases=dict(type='list', elements='str'),
        )),
        all=dict(type='bool', default=False),
        stale=dict(type='bool', default=False),
        tries=dict(type='int', default=4),
        delay=dict(type='int', default=3),
        settle=dict(type='int', default=0),
        docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
    )


def validate(params):
    if not valid_container_ref(params['network']):
        raise BadInput('network', 'must be a Docker network name (got %r)' % params['network'])
    check_minimums(params, (('tries', 1), ('delay', 0), ('settle', 0)))
    if params['all'] and params['state'] != 'absent':
        raise BadInput('all', 'only with state=absent')
    if params['all'] and (params['endpoints'] or params['stale']):
        raise BadInput('all', 'takes every container of this engine: give neither endpoints nor stale')
    check_docker_host(params)
    seen = set()
    for i, ep in enumerate(params['endpoints']):
        where = 'endpoints[%d]' % i
        if not valid_container_ref(ep['container']):
            raise BadInput(where + '.container', 'must be a container name or id (got %r)' % ep['container'])
        if ep['container'] in seen:
            raise BadInput(where + '.container', '%s is listed twice' % ep['container'])
        seen.add(ep['container'])
        for key, version in (('ipv4_address', 4), ('ipv6_address', 6)):
            if ep.get(key):
                try:
                    addr = ipaddress.ip_address(ep[key])
                except ValueError:
                    addr = None
                if addr is None or addr.version != version:
                    raise BadInput('%s.%s' % (where, key), 'must be an IPv%d address (got %r)' % (version, ep[key]))
        ep['aliases'] = list(ep.get('aliases') or [])
    return params


def run(params, engine, check_mode, clock=None):
    """(failure message or None, result dict) of one module run."""
    eps = Endpoints(engine, params['network'], params['tries'], params['delay'], check_mode, clock)
    if params['state'] == 'present':
        out = eps.connect(params['endpoints'], stale=params['stale'], settle=params['settle'])
        msg = connect_failure(params['network'], out, allow_stale=not params['stale'])
    elif params['all']:
        out = eps.disconnect_all()
        msg = None
    elif params['stale']:
        out = eps.remove_stale([ep['container'] for ep in params['endpoints']])
        msg = None
    else:
        out = eps.disconnect([ep['container'] for ep in params['endpoints']])
        msg = None
    if msg is None and out.failed and params['state'] == 'absent':
        msg = 'could not %s on %s: %s' % ('remove stale endpoints' if params['stale'] else 'disconnect',
                                          params['network'],
                                          '; '.join('%s: %s' % kv for kv in sorted(out.failed.items())))
    return msg, out.result()


def main():
    run_docker_module(argument_spec(), validate, run, context=lambda params: ' (network %s)' % params['network'])


if __name__ == '__main__':
    main()
