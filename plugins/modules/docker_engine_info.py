#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: docker_engine_info
short_description: Read how the Docker Engine of a host is installed and set up
version_added: 0.1.0
description:
  - Reads the installed engine's version (C(dockerd --version)), whether that version still has a cluster store
    (C(cluster-store) and C(cluster-advertise) were removed in Docker Engine 23.0), the running engine's own view
    (API C(/info) over the unix socket, for the server version, cluster store and advertise address, live-restore
    and swarm state) and C(/etc/docker/daemon.json).
  - Read-only, and the same in check mode as in a real run, so that roles can decide from it in C(--check) too.
    It always reports C(changed=false). An engine that is not installed or not running is reported as such
    (RV(engine.installed), RV(engine.running)), never as a failure.
  - The Docker SDK for Python is not needed.
options:
  docker_host:
    description: The engine's API socket (unix sockets only).
    type: str
    default: unix:///var/run/docker.sock
  daemon_json:
    description: The engine's configuration file.
    type: path
    default: /etc/docker/daemon.json
  timeout:
    description: Seconds to wait for the engine's API to answer.
    type: int
    default: 10
  networks_label:
    description:
      - Also list the engine's networks that carry this label (any value), as RV(networks). The
        P(hostnet.fabric.vxlan_fabric#role) role finds the Docker networks it made this way.
      - Each one is read in full (the engine's network inspect) - its driver options, IPAM config and the containers
        attached to it, so that a role can compare it with what it wants before it touches it.
      - Not given, no network is listed.
    type: str
attributes:
  check_mode:
    support: full
    description: Reads only; check mode changes nothing about what it does.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to show.
  platform:
    platforms: posix
    support: full
    description: Hosts with (or without) Docker Engine; the engine's API on a unix socket.
notes:
  - The P(hostnet.fabric.docker_engine#role) role runs this once per host and keeps the result as the fact
    C(docker_engine_facts), which the P(hostnet.fabric.docker_daemon#role) and
    P(hostnet.fabric.docker_overlay#role) roles decide from.
  - An existing daemon.json that is not valid JSON fails the module (the engine would not start with it).
seealso:
  - module: hostnet.fabric.docker_daemon_opts
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: How is the engine set up
  hostnet.fabric.docker_engine_info:
  register: engine

- name: The networks a role labelled as its own
  hostnet.fabric.docker_engine_info:
    networks_label: hostnet.fabric.vxlan_fabric.segment
  register: engine

- name: Only where the engine still has a cluster store
  ansible.builtin.debug:
    msg: "Engine {{ engine.engine.version }} can use {{ engine.engine.cluster_store or 'a cluster store' }}"
  when: engine.engine.cluster_store_supported
'''

RETURN = r'''
networks:
  description:
    - The running engine's networks that carry the label O(networks_label), sorted by name. Empty when the engine
      does not answer or O(networks_label) is not given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The network's name.
      type: str
      sample: fabric
    id:
      description: Its ID.
      type: str
      sample: 3f1c2a...
    driver:
      description: Its driver.
      type: str
      sample: bridge
    label:
      description: The value of the label O(networks_label).
      type: str
      sample: fabric
    options:
      description: Its driver options (C(Options) of the network), as the engine keeps them (strings).
      type: dict
      sample: {"com.docker.network.bridge.name": "hfbr4300", "com.docker.network.driver.mtu": "1450"}
    ipam:
      description: Its IPAM config, one entry per address pool; a field the network does not set is null.
      type: list
      elements: dict
      contains:
        subnet:
          description: The pool's subnet.
          type: str
          sample: 10.60.0.0/24
        ip_range:
          description: The range the engine allocates container addresses from (C(IPRange)).
          type: str
          sample: 10.60.0.16/28
        gateway:
          description: The gateway address (C(Gateway)).
          type: str
          sample: 10.60.0.1
    containers:
      description: The containers attached to it (their endpoints on this engine), sorted by name.
      type: list
      elements: dict
      contains:
        name:
          description: The container's name.
          type: str
          sample: web1
        ipv4_address:
          description: Its IPv4 address on the network, without the prefix length; null when it has none.
          type: str
          sample: 10.60.0.18
        mac_address:
          description: Its endpoint's MAC address.
          type: str
          sample: 02:42:0a:3c:00:12
engine:
  description: The engine as found.
  returned: always
  type: dict
  contains:
    installed:
      description: C(dockerd) is installed.
      type: bool
      sample: true
    version:
      description: The installed engine's version (C(dockerd --version)); null when it is not installed.
      type: str
      sample: 20.10.24
    version_major:
      description: Its major number; null when it is not installed.
      type: int
      sample: 20
    cluster_store_supported:
      description: The installed engine still has C(cluster-store) (Engine 20.10 and older).
      type: bool
      sample: true
    cluster_store_backends:
      description:
        - The key/value stores the installed engine's C(cluster-store) can use (V(boltdb), V(consul), V(etcd),
          V(zookeeper)), read from the store drivers compiled into the dockerd binary (the Go package paths
          C(libkv/store/NAME) that every Go binary carries); empty when the engine has no cluster store (or when
          none was found, and then nothing is checked against it).
        - Distributions may leave drivers out. Debian 12's docker.io 20.10.24 has no V(consul) driver (Debian 11's
          20.10.5 has), and its dockerd then refuses C(consul://) only when it starts.
      type: list
      elements: str
      sample: [boltdb, etcd, zookeeper]
    running:
      description: The engine's API answered on O(docker_host).
      type: bool
      sample: true
    server_version:
      description: The running engine's version as its API reports it; null when it does not answer.
      type: str
      sample: 20.10.24+dfsg1
    cluster_store:
      description: The running engine's cluster store (empty when none, or when it does not answer).
      type: str
      sample: etcd://10.0.0.5:2379
    cluster_advertise:
      description: The running engine's advertised cluster address (empty when none).
      type: str
      sample: 10.0.0.11:2376
    live_restore:
      description: The running engine has live-restore on.
      type: bool
      sample: true
    swarm_state:
      description: C(LocalNodeState) of swarm mode (V(inactive), V(pending), V(active), V(error), V(locked)); empty
        when the engine does not answer.
      type: str
      sample: inactive
    swarm_manager:
      description: This engine is a swarm manager.
      type: bool
      sample: false
    daemon_json:
      description: The content of O(daemon_json) (empty when the file does not exist).
      type: dict
      sample: {"live-restore": true}
    daemon_json_exists:
      description: O(daemon_json) exists.
      type: bool
      sample: false
'''

import json
import mmap
import os

from ansible.module_utils.six.moves.urllib.parse import quote

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.fabric.plugins.module_utils import _daemon_config as dc
from ansible_collections.hostnet.fabric.plugins.module_utils._docker_api import DockerAPIError, get_json

# Engine 23.0 removed cluster-store / cluster-advertise (the same limit docker_daemon_opts checks)
CLUSTER_STORE_LAST = (22, 99)
# libkv's store drivers; dockerd registers those compiled in, and each leaves its package path in the binary
STORE_DRIVERS = ('boltdb', 'consul', 'etcd', 'zookeeper')


def store_drivers(binary):
    """The libkv store drivers compiled into the Go binary at ``binary`` (a path), sorted."""
    with open(binary, 'rb') as f:
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return [name for name in STORE_DRIVERS if data.find(b'libkv/store/' + name.encode() + b'.') != -1
                    or data.find(b'libkv/store/' + name.encode() + b'/') != -1]


def engine_facts(version_output, info, daemon_json_text, daemon_json_path, backends=None):
    """The facts from what was read: ``version_output`` of ``dockerd --version`` (None: not installed),
    ``info`` the API's /info (None: no answer), ``daemon_json_text`` (None: no file), ``backends`` the store
    drivers found in the binary (only kept when the version still has a cluster store)."""
    version = dc.parse_version(version_output) if version_output is not None else None
    supported = bool(version) and version[:2] <= CLUSTER_STORE_LAST
    info = info if isinstance(info, dict) else None
    swarm = (info or {}).get('Swarm') or {}
    return {
        'installed': version is not None,
        'version': dc.version_text(version) if version else None,
        'version_major': version[0] if version else None,
        'cluster_store_supported': supported,
        'cluster_store_backends': sorted(backends or []) if supported else [],
        'running': info is not None,
        'server_version': (info or {}).get('ServerVersion') if info is not None else None,
        'cluster_store': (info or {}).get('ClusterStore') or '',
        'cluster_advertise': (info or {}).get('ClusterAdvertise') or '',
        'live_restore': bool((info or {}).get('LiveRestoreEnabled')),
        'swarm_state': swarm.get('LocalNodeState') or '',
        'swarm_manager': bool(swarm.get('ControlAvailable')),
        'daemon_json': dc.parse_daemon_json(daemon_json_path, daemon_json_text),
        'daemon_json_exists': daemon_json_text is not None,
    }


def networks_url(label):
    """The API URL that lists the networks carrying ``label`` (the engine filters them)."""
    return '/networks?filters=' + quote(json.dumps({'label': [label]}, sort_keys=True))


def network_url(net_id):
    """The API URL that inspects one network (by id): the list leaves out the attached containers."""
    return '/networks/' + quote(net_id, safe='')


def _ipam(net):
    return [{'subnet': c.get('Subnet') or None, 'ip_range': c.get('IPRange') or None, 'gateway': c.get('Gateway') or None}
            for c in ((net.get('IPAM') or {}).get('Config') or []) if isinstance(c, dict)]


def _containers(net):
    out = []
    for ep in (net.get('Containers') or {}).values():
        out.append({'name': ep.get('Name'), 'ipv4_address': (ep.get('IPv4Address') or '').partition('/')[0] or None,
                    'mac_address': ep.get('MacAddress') or None})
    return sorted(out, key=lambda c: c['name'] or '')


def labelled_networks(data, label):
    """RV(networks) from the networks ``data`` (the API's network list or inspect results; None: no answer):
    those carrying ``label``, by name, with their options, IPAM config and attached containers."""
    out = []
    for net in data if isinstance(data, list) else []:
        labels = net.get('Labels') or {}
        if label in labels:
            out.append({'name': net.get('Name'), 'id': net.get('Id'), 'driver': net.get('Driver'),
                        'label': labels[label], 'options': dict(net.get('Options') or {}), 'ipam': _ipam(net),
                        'containers': _containers(net)})
    return sorted(out, key=lambda n: n['name'] or '')


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError):
        return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
            daemon_json=dict(type='path', default='/etc/docker/daemon.json'),
            timeout=dict(type='int', default=10),
            networks_label=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p['docker_host'].startswith('unix://'):
        module.fail_json(msg="docker_host: only unix:// sockets are supported (got %r)" % p['docker_host'])
    if p['timeout'] < 1:
        module.fail_json(msg='timeout: must be at least 1 second (got %d)' % p['timeout'])
    if p['networks_label'] is not None and not p['networks_label'].strip():
        module.fail_json(msg='networks_label: must not be empty (leave it out to list no networks)')

    version_output = None
    dockerd = module.get_bin_path('dockerd')
    if dockerd:
        rc, out, err = module.run_command([dockerd, '--version'])
        if rc != 0:
            module.fail_json(msg='%s --version failed (exit %d): %s' % (dockerd, rc, (err or out).strip()))
        version_output = out
    backends = None
    if dockerd and version_output is not None:
        try:
            backends = store_drivers(dockerd)
        except (IOError, OSError, ValueError) as exc:
            module.fail_json(msg='cannot read %s to find its cluster store drivers: %s' % (dockerd, exc))
    info = None
    try:
        status, data = get_json(p['docker_host'], '/info', timeout=p['timeout'])
        if status == 200:
            info = data
    except DockerAPIError:
        info = None
    networks = []
    if info is not None and p['networks_label']:
        try:
            status, data = get_json(p['docker_host'], networks_url(p['networks_label']), timeout=p['timeout'])
        except DockerAPIError as exc:
            module.fail_json(msg='the engine at %s answered /info but not the network list: %s' % (p['docker_host'], exc))
        if status != 200:
            module.fail_json(msg='the engine at %s refused the network list (HTTP %s): %s' % (p['docker_host'], status, data))
        inspected = []
        for net in data if isinstance(data, list) else []:
            try:
                status, full = get_json(p['docker_host'], network_url(net.get('Id') or ''), timeout=p['timeout'])
            except DockerAPIError as exc:
                module.fail_json(msg='the engine at %s listed network %s but did not answer its inspect: %s'
                                 % (p['docker_host'], net.get('Name'), exc))
            if status == 404:
                continue  # removed between the list and the inspect: it is not there
            if status != 200 or not isinstance(full, dict):
                module.fail_json(msg='the engine at %s refused to inspect network %s (HTTP %s): %s'
                                 % (p['docker_host'], net.get('Name'), status, full))
            inspected.append(full)
        networks = labelled_networks(inspected, p['networks_label'])
    path = p['daemon_json']
    text = read_text(path) if os.path.exists(path) else None
    try:
        facts = engine_facts(version_output, info, text, path, backends)
    except dc.ConfigError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, engine=facts, networks=networks)


if __name__ == '__main__':
    main()
