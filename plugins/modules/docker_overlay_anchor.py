#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: docker_overlay_anchor
short_description: Keep one long-lived container on an overlay network so that Engine 20.10 keeps its sandbox
version_added: 0.1.0
description:
  - Engine 20.10's overlay driver watches each network's neighbour misses from a goroutine that enters the network's
    sandbox namespace on a locked OS thread and never leaves it. When the last container of a host leaves the
    network, the sandbox is destroyed, the goroutine ends, and its thread goes back to the engine's pool still in the
    dead namespace. Whatever the engine later runs on that thread - cluster store calls, gossip, registry pulls -
    fails with C(network is unreachable), or C(connection refused) for the local store agent on 127.0.0.1. A store
    watch that fails that way is not restarted while the network has local endpoints, so names of containers on
    other hosts stop arriving; a store write that fails leaves an endpoint behind. Fixed in Engine 23.0
    (moby/moby#44356); libnetwork#1838 describes it.
  - This module keeps one container (the anchor) on O(network) on this engine, so that the sandbox, and with it
    that goroutine, lives as long as the network - containers coming and going no longer leave threads behind.
    The anchor runs O(image) with C(sleep 2147483647), restart policy C(unless-stopped), stop signal C(SIGKILL),
    and the label C(io.hostnet.fabric.anchor=NETWORK), by which it is found again (its name is C(NAME-1), or
    C(NAME-2) and so on when a start failed, as with M(hostnet.fabric.docker_probe)).
  - A labelled container that is not running, runs another image or has no endpoint on the network is replaced;
    extra anchors are removed. O(state=absent) removes every anchor of the network.
options:
  network:
    description: The overlay network the anchor joins.
    type: str
    required: true
  name:
    description:
      - The base of the anchor's name (C(NAME-1) .. C(NAME-TRIES)).
      - Give each host a base of its own (the P(hostnet.fabric.docker_overlay#role) role appends the inventory
        hostname). In a kv-store overlay network an endpoint's name is unique across every engine on the network,
        not per engine; hosts that start anchors of the same name at once take each other's names, and one of
        them runs out of tries with C(endpoint with name ... already exists in network ...).
    type: str
    required: true
  image:
    description: An image with a C(sleep) command (busybox, alpine, debian), present on the host.
    type: str
    default: hostnet/probe:latest
  state:
    description: Whether the network has an anchor on this engine.
    type: str
    choices: [present, absent]
    default: present
  tries:
    description: Starts to try, each under a name of its own, O(delay) seconds apart.
    type: int
    default: 3
  delay:
    description: Seconds between tries.
    type: int
    default: 3
  docker_host:
    description: The engine's API socket (C(unix://) only).
    type: str
    default: unix:///var/run/docker.sock
requirements:
  - A local Docker engine on its unix socket
attributes:
  check_mode:
    support: full
    description: Reads the engine's containers and says in RV(actions) what it would remove and start; changes
      nothing. It does not need the network to exist (a network the same check run predicts to create).
  diff_mode:
    support: full
    description: The diff shows the anchors before and after.
  platform:
    platforms: linux
    support: full
    description: A Docker engine on the managed host.
notes:
  - The P(hostnet.fabric.docker_overlay#role) role runs it for every kv-store overlay network and Docker host
    (C(docker_overlay_anchor)). On Engine 23.0 and later (swarm mode), nothing needs it.
  - Threads already left behind stay until the engine restarts; the anchor prevents new ones.
seealso:
  - module: hostnet.fabric.docker_probe
  - module: hostnet.fabric.docker_overlay_network
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: Keep ov_net1's sandbox alive on this engine
  hostnet.fabric.docker_overlay_anchor:
    network: ov_net1
    name: "hfanchor-ov_net1-{{ inventory_hostname }}"
    image: busybox:stable

- name: Before removing the network, remove its anchor
  hostnet.fabric.docker_overlay_anchor:
    network: ov_net1
    name: "hfanchor-ov_net1-{{ inventory_hostname }}"
    state: absent
'''

RETURN = r'''
anchor:
  description: The anchor's container name (null when there is none, or in check mode when one would be started).
  type: str
  returned: always
  sample: hfanchor-ov_net1-host1-1
actions:
  description: What was done (or, in check mode, would be done), each with its reason.
  type: list
  elements: str
  returned: always
  sample: ["remove hfanchor-ov_net1-host1-1 (it is exited, not running)", "start an anchor on ov_net1"]
waits:
  description: Every retry of a start, saying what it waited for.
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
        network=dict(type='str', required=True),
        name=dict(type='str', required=True),
        image=dict(type='str', default='hostnet/probe:latest'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        tries=dict(type='int', default=3),
        delay=dict(type='int', default=3),
        docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
    )


def validate(params):
    if not valid_container_ref(params['network']):
        raise BadInput('network', 'must be a Docker network name (got %r)' % params['network'])
    if not valid_container_ref(params['name']):
        raise BadInput('name', 'must be a container name (got %r)' % params['name'])
    if not params['image'] or any(c.isspace() for c in params['image']):
        raise BadInput('image', 'must be an image reference without spaces (got %r)' % params['image'])
    check_minimums(params, (('tries', 1), ('delay', 0)))
    check_docker_host(params)
    return params


def run(params, engine, check_mode, clock=None):
    """(failure message or None, result dict) of one module run."""
    net = params['network']
    present = params['state'] == 'present'
    out = de.anchor(engine, params['name'], net, params['image'], present, params['tries'], params['delay'],
                    check_mode, clock)
    after = [out['anchor']] if out['anchor'] else []
    if check_mode and present and not out['anchor']:
        after = ['(a new anchor)']
    result = {'changed': out['changed'], 'anchor': out['anchor'], 'actions': out['actions'], 'waits': out['waits'],
              'diff': {'before': {'anchors': out['before']}, 'after': {'anchors': after}}}
    if not out['changed']:
        result['msg'] = 'anchor %s holds %s' % (out['anchor'], net) if out['anchor'] else 'no anchor on %s' % net
    else:
        result['msg'] = '%s%s' % ('check mode, would: ' if check_mode else '', '; '.join(out['actions']))
    return out['failure'], result


def main():
    run_docker_module(argument_spec(), validate, run, context=lambda params: ' (anchor of %s)' % params['network'])


if __name__ == '__main__':
    main()
