#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: docker_overlay_network
short_description: Wait until an engine sees a Docker network, or remove one while its endpoints drain, in bounded time
version_added: 0.1.0
description:
  - The two bounded waits of an overlay network's life that M(community.docker.docker_network) does not have, through
    the engine's API on its unix socket. Creating and comparing networks stays with M(community.docker.docker_network).
  - O(state=seen) waits until this engine sees the network O(name), with the scope O(scope) and the Id O(id) when
    given (kv-store overlays reach the other engines through the cluster store, a recreated one with a new Id).
    It fails after O(timeout) seconds saying what the engine saw.
  - O(state=absent) removes the network, trying again every O(delay) seconds while the engine refuses because
    endpoints remain (their containers are being disconnected on other hosts), for at most O(timeout) seconds.
options:
  name:
    description: The network's name.
    type: str
    required: true
  state:
    description: Wait for the network (C(seen)) or remove it (C(absent)).
    type: str
    choices: [seen, absent]
    default: seen
  scope:
    description: The scope the network must have (C(global) for kv-store overlays, C(swarm) for swarm ones).
    type: str
  id:
    description: The Id the network must have (a recreated network's new Id).
    type: str
  timeout:
    description: Seconds to wait at most.
    type: int
    default: 60
  delay:
    description: Seconds between looks.
    type: int
    default: 2
  docker_host:
    description: The engine's API socket (C(unix://) only).
    type: str
    default: unix:///var/run/docker.sock
requirements:
  - A local Docker engine on its unix socket
attributes:
  check_mode:
    support: full
    description: O(state=absent) predicts the removal (changed when the network exists) and removes nothing.
      O(state=seen) only reads; in check mode it looks once and does not fail when the network is not there yet
      (a network the same check run predicted to create does not exist), saying so in RV(msg).
  diff_mode:
    support: none
    description: Nothing but the removal changes, and C(changed) says so.
  platform:
    platforms: linux
    support: full
    description: A Docker engine on the managed host.
seealso:
  - module: community.docker.docker_network
  - module: hostnet.fabric.docker_endpoints
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: Wait until this host sees the overlay through the cluster store
  hostnet.fabric.docker_overlay_network:
    name: ov_net1
    scope: global
    timeout: 60

- name: Remove it once the containers of every host are disconnected
  hostnet.fabric.docker_overlay_network:
    name: ov_net1
    state: absent
'''

RETURN = r'''
network:
  description: The network as this engine sees it (O(state=seen)); null when it was not seen.
  type: dict
  returned: always
waited:
  description: Seconds waited (O(state=seen)).
  type: float
  returned: always
waits:
  description: Every retry of a removal, saying what it waited for.
  type: list
  elements: str
  returned: always
msg:
  description: What was found or done.
  type: str
  returned: always
'''

from ansible_collections.hostnet.fabric.plugins.module_utils._docker_api import (
    BadInput,
    check_docker_host,
    check_minimums,
    run_docker_module,
    valid_container_ref,
)
from ansible_collections.hostnet.fabric.plugins.module_utils import _docker_endpoints as de


def argument_spec():
    return dict(
        name=dict(type='str', required=True),
        state=dict(type='str', choices=['seen', 'absent'], default='seen'),
        scope=dict(type='str'),
        id=dict(type='str'),
        timeout=dict(type='int', default=60),
        delay=dict(type='int', default=2),
        docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
    )


def validate(params):
    if not valid_container_ref(params['name']):
        raise BadInput('name', 'must be a Docker network name (got %r)' % params['name'])
    check_minimums(params, (('timeout', 0), ('delay', 1)))
    if params['state'] == 'absent' and (params['scope'] or params['id']):
        raise BadInput('scope' if params['scope'] else 'id', 'only with state=seen')
    check_docker_host(params)
    return params


def run(params, engine, check_mode, clock=None):
    """(failure message or None, result dict) of one module run."""
    name = params['name']
    result = {'changed': False, 'network': None, 'waited': 0.0, 'waits': [], 'msg': ''}
    if params['state'] == 'absent':
        changed, waits = de.remove_network(engine, name, params['timeout'], params['delay'], check_mode, clock)
        result.update(changed=changed, waits=waits,
                      msg=('%s %s' % ('would remove' if check_mode else 'removed', name)) if changed
                      else 'no network %s' % name)
        return None, result
    wanted = ' '.join(x for x in ('scope %s' % params['scope'] if params['scope'] else '',
                                  'Id %s' % params['id'][:12] if params['id'] else '') if x)
    net, waited, seen = de.wait_network(engine, name, 0 if check_mode else params['timeout'], params['delay'],
                                        params['scope'], params['id'], clock)
    result.update(network=net, waited=round(waited, 1))
    if net is not None:
        result['msg'] = 'this engine sees %s%s' % (name, ' with ' + wanted if wanted else '')
        return None, result
    if check_mode:
        result['msg'] = ('check mode: this engine does not see %s%s yet (looked once, did not wait; seen: %s)'
                         % (name, ' with ' + wanted if wanted else '', seen or 'no such network'))
        return None, result
    return ('this engine does not see network %s%s after waiting %ss for it (seen: %s)'
            % (name, ' with ' + wanted if wanted else '', params['timeout'], seen or 'no such network')), result


def main():
    run_docker_module(argument_spec(), validate, run)


if __name__ == '__main__':
    main()
