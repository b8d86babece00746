#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: docker_probe
short_description: Probe containers on a Docker network, and pings between them by name
version_added: 0.1.0
description:
  - The probes of a network's reachability matrix (the P(hostnet.fabric.docker_overlay#role) role's verification),
    through the engine's API on its unix socket.
  - O(state=started) starts a probe container (C(sleep 3600)) on O(network) named C(NAME-1); when a start fails,
    the next try, O(delay) seconds later, uses C(NAME-2), and so on up to O(tries) (Engine 20.10 sometimes fails the
    endpoint's store update and leaves the endpoint behind, so that the same name then already exists).
    RV(name) is the running probe; RV(failed_tries) the names whose start failed (remove their endpoints on
    another host with M(hostnet.fabric.docker_endpoints), O(hostnet.fabric.docker_endpoints#module:stale=true)).
  - O(state=nudge) runs a short-lived container on O(network) (bounded tries). Engine 20.10 learns the other hosts'
    endpoint names from a store watch that misses changes made at the same moment on several hosts, and any later
    endpoint change makes every engine re-read the whole list.
  - O(state=pinged) pings every name of O(targets) from the probe O(name) until it answers or O(timeout) seconds
    passed, and returns one result per target in RV(pings), shaped for the P(hostnet.fabric.ping_matrix#filter)
    filter. It does not fail on a miss (the caller prints the matrix and fails naming the misses).
  - O(state=absent) removes the probe C(NAME-1) .. C(NAME-TRIES).
options:
  name:
    description: The probe's name (O(state=pinged)) or the base of its names (C(NAME-1), C(NAME-2) ...).
    type: str
    required: true
  network:
    description: The network (O(state=started) and O(state=nudge)).
    type: str
  state:
    description: What to do.
    type: str
    choices: [started, nudge, pinged, absent]
    default: started
  image:
    description: Image of the probe (it must have C(sleep), C(true) and C(ping)).
    type: str
    default: hostnet/probe:latest
  targets:
    description: Names to ping (O(state=pinged)).
    type: list
    elements: str
    default: []
  label:
    description: The row name of this probe's results (RV(pings[].from)); default O(name).
    type: str
  target_labels:
    description: Column names of O(targets), in the same order (RV(pings[].to)); default the targets themselves.
    type: list
    elements: str
  count:
    description: Echo requests per ping.
    type: int
    default: 2
  tries:
    description: Names (tries) for a start (O(state=started), O(state=nudge)), and the names O(state=absent) removes.
    type: int
    default: 5
  delay:
    description: Seconds between tries, and between rounds of pings.
    type: int
    default: 3
  timeout:
    description: Seconds to keep pinging a target that does not answer (O(state=pinged)).
    type: int
    default: 60
  docker_host:
    description: The engine's API socket (C(unix://) only).
    type: str
    default: unix:///var/run/docker.sock
requirements:
  - A local Docker engine on its unix socket
attributes:
  check_mode:
    support: full
    description: Probes are throwaway containers, yet a check run starts none, pings nothing and removes nothing;
      the result says so in RV(msg). The module always reports C(changed=false).
  diff_mode:
    support: none
    description: Nothing the user manages is changed.
  platform:
    platforms: linux
    support: full
    description: A Docker engine on the managed host.
seealso:
  - module: hostnet.fabric.docker_endpoints
  - plugin: hostnet.fabric.ping_matrix
    plugin_type: filter
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: A probe on this host
  hostnet.fabric.docker_probe:
    name: "probe-{{ inventory_hostname }}"
    network: ov_net1
  register: probe

- name: Ping the other hosts' probes
  hostnet.fabric.docker_probe:
    name: "{{ probe.name }}"
    state: pinged
    targets: "{{ ansible_play_hosts | reject('equalto', inventory_hostname) | map('extract', hostvars, ['probe', 'name']) }}"
  register: pinged

- name: Remove the probe
  hostnet.fabric.docker_probe:
    name: "probe-{{ inventory_hostname }}"
    state: absent
'''

RETURN = r'''
name:
  description: The running probe (O(state=started)); null in check mode or when no try worked.
  type: str
  returned: always
failed_tries:
  description: Names whose start failed (their endpoints may be left in the store).
  type: list
  elements: str
  returned: always
pings:
  description: One result per target (O(state=pinged)), C(ok) true when it answered.
  type: list
  elements: dict
  returned: always
  contains:
    from:
      description: O(label) (or O(name)).
      type: str
    to:
      description: The target's label (or name).
      type: str
    target:
      description: The name that was pinged.
      type: str
    rc:
      description: Exit code of the last ping.
      type: int
    ok:
      description: Whether it answered.
      type: bool
    tries:
      description: How many pings were sent to it.
      type: int
    waited:
      description: Seconds it was tried for when it never answered (null when it did).
      type: float
    why:
      description:
        - For a miss, what the last ping saw (null when it answered) - the name did not resolve on this engine
          (it has not learned the endpoint from the cluster store or swarm), the name resolved to an address that
          did not reply (VXLAN traffic, or the peer's location has not reached this host), or the engine did not
          run the ping in time.
      type: str
dead_netns_threads:
  description:
    - Only after a miss (O(state=pinged)) - how many of the engine's threads are in a network namespace that no
      longer exists (neither the host's nor a sandbox of the engine); null when it cannot be read. Engine 20.10 leaves
      such threads behind when the last container of a host leaves an overlay network, and the store and gossip
      calls it runs on them fail. When not zero, RV(msg) says so.
  type: int
  returned: when a target did not answer
removed:
  description: Probes removed (O(state=absent)).
  type: list
  elements: str
  returned: always
waits:
  description: Every bounded wait and retry, saying what it waited for and why.
  type: list
  elements: str
  returned: always
msg:
  description: What was done, or why not.
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
        network=dict(type='str'),
        state=dict(type='str', choices=['started', 'nudge', 'pinged', 'absent'], default='started'),
        image=dict(type='str', default='hostnet/probe:latest'),
        targets=dict(type='list', elements='str', default=[]),
        label=dict(type='str'),
        target_labels=dict(type='list', elements='str'),
        count=dict(type='int', default=2),
        tries=dict(type='int', default=5),
        delay=dict(type='int', default=3),
        timeout=dict(type='int', default=60),
        docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
    )


def validate(params):
    if not valid_container_ref(params['name']):
        raise BadInput('name', 'must be a container name (got %r)' % params['name'])
    if params['state'] in ('started', 'nudge') and not params['network']:
        raise BadInput('network', 'required with state=%s' % params['state'])
    if params['network'] and not valid_container_ref(params['network']):
        raise BadInput('network', 'must be a Docker network name (got %r)' % params['network'])
    check_minimums(params, (('count', 1), ('tries', 1), ('delay', 0), ('timeout', 0)))
    for i, target in enumerate(params['targets']):
        if not valid_container_ref(target):
            raise BadInput('targets[%d]' % i, 'must be a container name or DNS alias (got %r)' % target)
    if params['target_labels'] is not None and len(params['target_labels']) != len(params['targets']):
        raise BadInput('target_labels', 'must have one label per target (%d targets, %d labels)'
                       % (len(params['targets']), len(params['target_labels'])))
    if len(set(params['targets'])) != len(params['targets']):
        raise BadInput('targets', 'lists a name twice')
    check_docker_host(params)
    return params


def run(params, engine, check_mode, clock=None):
    """(failure message or None, result dict) of one module run."""
    result = {'changed': False, 'name': None, 'failed_tries': [], 'pings': [], 'removed': [], 'waits': [], 'msg': ''}
    state, base, net = params['state'], params['name'], params['network']
    if check_mode:
        result['msg'] = 'check mode: no probe is started, pinged or removed (state=%s)' % state
        return None, result
    if state == 'started':
        name, failed, waits, last = de.start_probe(engine, base, net, params['image'], params['tries'],
                                                   params['delay'], clock)
        result.update(name=name, failed_tries=failed, waits=waits)
        if name is None:
            return ('could not start a probe on %s in %d tries (names %s-1..%d), last: %s'
                    % (net, params['tries'], base, params['tries'], last)), result
        result['msg'] = 'probe %s runs on %s' % (name, net)
    elif state == 'nudge':
        ok, failed, waits, last = de.nudge(engine, base, net, params['image'], params['tries'], params['delay'], clock)
        result.update(failed_tries=failed, waits=waits)
        result['msg'] = ('a short-lived container joined and left %s' % net if ok else
                         'NOTE: no short-lived container could run on %s (%s); containers may resolve the names of '
                         'containers on other hosts only after the next container joins or leaves it' % (net, last))
    elif state == 'pinged':
        pings, waits = de.ping_all(engine, base, params['targets'], params['timeout'], params['delay'],
                                   params['count'], clock)
        labels = dict(zip(params['targets'], params['target_labels'] or params['targets']))
        for ping in pings:
            ping['from'] = params['label'] or base
            ping['target'] = ping['to']
            ping['to'] = labels[ping['to']]
        result.update(pings=pings, waits=waits)
        misses = ['%s: %s' % (p['to'], p['why']) for p in pings if not p['ok']]
        missed = ' (no answer within %ss: %s)' % (params['timeout'], '; '.join(misses)) if misses else ''
        result['msg'] = '%s reaches %d of %d targets%s' % (base, len(pings) - len(misses), len(pings), missed)
        if misses:
            dead = engine.dead_netns_threads()
            result['dead_netns_threads'] = dead
            if dead:
                result['msg'] += ('; the engine has %d thread(s) in destroyed network namespaces, whose store and '
                                  'gossip calls fail (Engine 20.10; restarting the engine clears them, '
                                  'docker_overlay_anchor keeps new ones from appearing)' % dead)
    else:
        result['removed'] = [n for n in de.probe_names(base, params['tries']) if engine.remove(n)]
        result['msg'] = 'removed %s' % (', '.join(result['removed']) or 'nothing')
    return None, result


def main():
    run_docker_module(argument_spec(), validate, run, context=lambda params: ' (probe %s)' % params['name'])


if __name__ == '__main__':
    main()
