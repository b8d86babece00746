#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: netns
short_description: Manage named network namespaces, and name a container's or process's namespace
version_added: 0.1.0
description:
  - Creates or removes a named network namespace (C(/run/netns/NAME), as C(ip netns add) does).
  - With O(pid) or O(container), makes an existing process's network namespace visible as
    C(/run/netns/NAME) (a bind mount of C(/proc/PID/ns/net), as C(ip netns attach) does), so that
    C(ip netns exec NAME ip addr) and the other hostnet.fabric modules work on a container's network.
    Unlike the old C(ln -s /proc/PID/ns/net) recipe this never dangles, and when the container was restarted
    (a new namespace) the name is pointed at the new one.
  - A left-over C(/run/netns/NAME) file with nothing mounted on it (from a crashed run) is replaced.
  - Names are matched exactly, never as substrings.
options:
  name:
    description: Namespace name (a file name under C(/run/netns); no C(/), no C(..), no control characters).
    type: str
    required: true
  state:
    description:
      - V(present) makes sure the name exists (and, with O(pid)/O(container), refers to that process's namespace).
      - V(absent) removes the name if it exists. For a namespace a running process still uses (a container's)
        only the name goes away; the process keeps its network, and no O(force) is needed.
    type: str
    choices: [present, absent]
    default: present
  pid:
    description: Name the network namespace of this process. Mutually exclusive with O(container).
    type: int
  container:
    description:
      - Name the network namespace of this running Docker container (name or id), resolved through the
        Docker Engine API on O(docker_host). Mutually exclusive with O(pid).
    type: str
  docker_host:
    description: The Docker engine's API socket. Only C(unix://) sockets are supported.
    type: str
    default: unix:///var/run/docker.sock
  force:
    description:
      - Remove (O(state=absent)) or re-point (O(pid)/O(container)) a name whose namespace still holds
        interfaces other than C(lo) and is kept alive by nothing but this name, so that removing the name
        destroys them. Without it that is an error and nothing is changed.
      - Not needed when a process still runs in the namespace (a container's, one adopted with O(pid)) or another
        mount of it exists (another name, Docker's own file). Then only the name goes, the namespace and its
        interfaces live on, and RV(actions) says what holds it.
      - Holders are found by scanning C(/proc/*/ns/net) and this mount namespace's mounts. One that cannot be seen
        from here (an open descriptor of another process, a mount in another mount namespace) is not counted, so
        the module then asks for O(force) although nothing would be lost.
    type: bool
    default: false
extends_documentation_fragment:
  - hostnet.fabric.common
seealso:
  - module: hostnet.fabric.veth
  - name: ip-netns(8)
    description: The iproute2 manual page for network namespaces.
    link: https://man7.org/linux/man-pages/man8/ip-netns.8.html
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: A namespace for a workload
  hostnet.fabric.netns:
    name: web1

- name: Make container "web" inspectable with ip netns exec web ...
  hostnet.fabric.netns:
    name: web
    container: web

- name: Same for a process
  hostnet.fabric.netns:
    name: proc1234
    pid: 1234

- name: Drop the name of the container's namespace again (the container keeps its network; no force needed)
  hostnet.fabric.netns:
    name: web
    state: absent

- name: Remove a namespace that still has interfaces and no process in it (they are destroyed)
  hostnet.fabric.netns:
    name: web1
    state: absent
    force: true
'''

RETURN = r'''
actions:
  description: What was done (or, in check mode, would be done), in order.
  returned: always
  type: list
  elements: str
  sample: ["remove the name web; the namespace lives on, held by process 4242 (nginx) (nothing is destroyed)"]
netns:
  description: The namespace after the run (predicted in check mode); V(null) when absent.
  returned: always
  type: dict
  contains:
    name:
      description: Namespace name.
      type: str
      sample: web1
    path:
      description: Its path.
      type: str
      sample: /run/netns/web1
    inode:
      description: Inode of the namespace (equal for two names of one namespace); V(null) when not known yet.
      type: int
    interfaces:
      description: Names of the interfaces in it.
      type: list
      elements: str
      sample: ["lo", "eth0"]
    stale:
      description: True when only a left-over file with no namespace mounted on it exists.
      type: bool
'''

import os

from ansible_collections.hostnet.fabric.plugins.module_utils import _netlink as nlu
from ansible_collections.hostnet.fabric.plugins.module_utils import _validate as v
from ansible_collections.hostnet.fabric.plugins.module_utils._docker_api import (
    DockerAPIError,
    container_pid,
    socket_path,
    valid_container_ref,
)
from ansible_collections.hostnet.fabric.plugins.module_utils._module import (
    FabricError,
    fabric_module,
    run,
)


def argument_spec():
    return dict(
        name=dict(type='str', required=True),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        pid=dict(type='int'),
        container=dict(type='str'),
        docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
        force=dict(type='bool', default=False),
    )


def validate(p):
    v.netns_name('name', p['name'])
    if p['pid'] is not None and p['pid'] < 1:
        raise v.ValidationError('pid', 'must be a positive process id', p['pid'])
    if p['container'] is not None:
        try:
            socket_path(p['docker_host'])
        except DockerAPIError as exc:
            raise v.ValidationError('docker_host', str(exc).split(': ', 1)[1])
        if not valid_container_ref(p['container']):
            raise v.ValidationError('container', 'is not a valid container name or id', p['container'])
    return p


def read(nss, p):
    name = p['name']
    state = nlu.netns_state(name)
    if state == 'absent':
        return None
    view = {'name': name, 'path': nlu.netns_path(name), 'stale': state == 'stale', 'inode': None, 'interfaces': []}
    if state == 'mounted':
        view['inode'] = nlu.netns_inode(name)[1]
        # a fresh socket, not a cached one: after a re-point it must see the new namespace
        with nlu.Netlink(name) as nl:
            view['interfaces'] = sorted(link['ifname'] for link in nl.links())
    return view


def _busy(view):
    return [i for i in view['interfaces'] if i != 'lo']


def target_pid(p):
    if p['container'] is not None:
        try:
            return container_pid(p['docker_host'], p['container'])
        except DockerAPIError as exc:
            raise FabricError(str(exc))
    return p['pid']


def converge(nss, p, before, plan):
    name = p['name']
    path = nlu.netns_path(name)
    if p['state'] == 'absent':
        if before is None:
            return None
        if before['stale']:
            plan.add('remove stale left-over file %s (nothing mounted on it)' % path, lambda: os.unlink(path))
            return None
        holders = nlu.netns_holders(path)
        if holders:
            # a process (or another mount) still holds the namespace: only the name goes, nothing is destroyed
            plan.add('remove the name %s; the namespace lives on, held by %s (nothing is destroyed)'
                     % (name, nlu.describe_holders(holders)), lambda: nlu.netns_remove(name))
            return None
        if _busy(before) and not p['force']:
            raise FabricError("force: namespace '%s' still holds interfaces %s and nothing else keeps it alive: "
                              "removing its name destroys them; set force: true to remove it"
                              % (name, ', '.join(_busy(before))))
        plan.add('remove namespace %s' % name + (' and destroy its interfaces %s' % ', '.join(_busy(before))
                                                 if _busy(before) else ''),
                 lambda: nlu.netns_remove(name))
        return None

    pid = target_pid(p)
    target = None
    if pid is not None:
        try:
            target = nlu.netns_inode(pid=pid)
        except OSError as exc:
            raise FabricError("%s: cannot open the network namespace of process %d: %s"
                              % ('container' if p['container'] else 'pid', pid, exc.strerror))
        if target == nlu.netns_inode():
            raise FabricError("%s: process %d shares this host's network namespace (host networking?); "
                              "refusing to name it" % ('container' if p['container'] else 'pid', pid))
    fresh = {'name': name, 'path': path, 'stale': False, 'inode': None, 'interfaces': ['lo']}
    after = dict(before) if before else fresh
    if before is not None and before['stale']:
        plan.add('remove stale left-over file %s (nothing mounted on it)' % path, lambda: os.unlink(path))
        before = None
    elif before is not None and target is not None and before['inode'] != target[1]:
        holders = nlu.netns_holders(path)
        if _busy(before) and not holders and not p['force']:
            raise FabricError("force: namespace '%s' refers to another namespace that still holds interfaces %s "
                              "and nothing else keeps it alive; set force: true to point it at process %d"
                              % (name, ', '.join(_busy(before)), pid))
        plan.add('unmount namespace %s (it refers to another namespace%s)'
                 % (name, ', which lives on, held by %s' % nlu.describe_holders(holders) if holders else ''),
                 lambda: nlu.netns_remove(name))
        before = None
    if before is None:
        if pid is None:
            plan.add('create namespace %s' % name, lambda: nlu.netns_create(name), lambda: nlu.netns_remove(name))
        else:
            plan.add('attach the network namespace of process %d as %s' % (pid, name),
                     lambda: nlu.netns_create(name, pid=pid), lambda: nlu.netns_remove(name))
            after['interfaces'] = None  # known after the run
        after.update(stale=False, inode=target[1] if target else None)
    return after


def main():
    module = fabric_module(argument_spec(), mutually_exclusive=[('pid', 'container')])
    run(module, 'netns', validate, read, converge)


if __name__ == '__main__':
    main()
