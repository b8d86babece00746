# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: docker_cluster_settings
short_description: The cluster store, advertised address and live-restore an engine should get
version_added: 0.1.0
description:
  - The decision of the P(hostnet.fabric.docker_daemon#role) role for O(store=auto), O(advertise=auto) and
    O(live_restore=auto), from what M(hostnet.fabric.docker_engine_info) found on the host.
  - "C(cluster_store): with O(store=auto), a store only when the installed engine still has one (Engine 20.10
    and older) and a key/value server exists (O(kv_server)): C(etcd://KV_ADDRESS:2379) for O(kv_backend=etcd),
    the local Consul agent C(consul://127.0.0.1:CONSUL_PORT) for O(kv_backend=consul); otherwise empty (none set,
    and the key is left as it is)."
  - "C(cluster_advertise): with O(advertise=auto), C(ADVERTISE_IFACE:2376) when a store is set, otherwise empty."
  - "C(swarm): the overlays will use swarm mode, because the engine has no cluster store after this (neither the
    one set here nor one it already has). C(live_restore) with O(live_restore=auto) is the opposite: Docker
    refuses swarm mode with live-restore on."
  - Explicit values (not V(auto)) are passed through; only O(store=auto) needs the engine's version.
  - A store the installed engine was built without is refused with an error that names the engine and what to
    do, before anything is written. Debian 12's docker.io 20.10.24 has no C(consul://) driver, and dockerd would
    otherwise fail only when it restarts with it (C(cluster_store_backends) of M(hostnet.fabric.docker_engine_info)).
positional: _input
options:
  _input:
    description: The C(engine) result of M(hostnet.fabric.docker_engine_info) (the fact C(docker_engine_facts)).
    type: dict
    required: true
  store:
    description: V(auto), or the cluster store URL to set (empty for none).
    type: str
    default: auto
  advertise:
    description: V(auto), or the advertised address to set (empty for none).
    type: str
    default: auto
  live_restore:
    description: V(auto), or a boolean.
    type: raw
    default: auto
  kv_backend:
    description: Which key/value store the kv servers run.
    type: str
    choices: [etcd, consul]
    default: etcd
  kv_server:
    description: The key/value server (an inventory host name); empty when there is none.
    type: str
    default: ""
  kv_address:
    description: The etcd server's address (needed for O(kv_backend=etcd) when O(kv_server) is set).
    type: str
    default: ""
  consul_port:
    description: HTTP port of the local Consul agent.
    type: int
    default: 8500
  advertise_iface:
    description: The underlay interface the engine advertises on.
    type: str
    default: eth0
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: What docker_daemon would set on this host
  ansible.builtin.debug:
    msg: >-
      {{ docker_engine_facts | hostnet.fabric.docker_cluster_settings(kv_server=groups['kv_servers'][0],
         kv_address=hostvars[groups['kv_servers'][0]].hostnet_underlay_ip) }}
'''

RETURN = r'''
_value:
  description: The settings.
  type: dict
  contains:
    cluster_store:
      description: The C(cluster-store) to set; empty for none.
      type: str
    cluster_advertise:
      description: The C(cluster-advertise) to set; empty for none.
      type: str
    live_restore:
      description: The C(live-restore) to set.
      type: bool
    swarm:
      description: Overlays on this engine will use swarm mode (no cluster store).
      type: bool
    reason:
      description: Why, in one sentence.
      type: str
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

KV_BACKENDS = ('etcd', 'consul')
ETCD_CLIENT_PORT = 2379
ADVERTISE_PORT = 2376


def _live_restore(value):
    if value == 'auto':
        return None
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise AnsibleFilterError("docker_daemon_live_restore: must be auto, true or false (got %r)" % (value,))


def docker_cluster_settings(engine, store='auto', advertise='auto', live_restore='auto', kv_backend='etcd',
                            kv_server='', kv_address='', consul_port=8500, advertise_iface='eth0'):
    if not isinstance(engine, dict):
        raise AnsibleFilterError('docker_cluster_settings: the input must be the engine facts of '
                                 'hostnet.fabric.docker_engine_info (got %s)' % type(engine).__name__)
    if kv_backend not in KV_BACKENDS:
        raise AnsibleFilterError("docker_daemon_kv_backend: must be etcd or consul (got '%s')" % (kv_backend,))
    wanted_live_restore = _live_restore(live_restore)
    store = '' if store is None else str(store)
    if store == 'auto':
        if not engine.get('installed'):
            raise AnsibleFilterError(
                'docker_daemon_cluster_store=auto: dockerd is not installed, so its version (and whether it has a '
                'cluster store) is unknown - in check mode the engine is not installed yet; set '
                'docker_daemon_cluster_store and docker_daemon_live_restore explicitly, or run once for real')
        if not engine.get('cluster_store_supported'):
            store, reason = '', 'Engine %s has no cluster store (removed in 23.0)' % engine.get('version')
        elif not kv_server:
            store, reason = '', 'there is no key/value server'
        elif kv_backend == 'consul':
            store = 'consul://127.0.0.1:%d' % int(consul_port)
            reason = 'Engine %s with the local Consul agent' % engine.get('version')
        else:
            if not kv_address:
                raise AnsibleFilterError('docker_daemon_kv_address: empty, but the etcd server %s needs an address '
                                         '(its hostnet_underlay_ip)' % kv_server)
            store = 'etcd://%s:%d' % (kv_address, ETCD_CLIENT_PORT)
            reason = 'Engine %s with etcd on %s' % (engine.get('version'), kv_server)
    else:
        reason = 'the cluster store was set explicitly'
    _refuse_missing_driver(engine, store)
    if advertise is None:
        advertise = ''
    if advertise == 'auto':
        advertise = '%s:%d' % (advertise_iface, ADVERTISE_PORT) if store else ''
    swarm = not (store or engine.get('cluster_store'))
    if wanted_live_restore is None:
        wanted_live_restore = not swarm
    if swarm:
        reason += '; overlays use swarm mode'
        if wanted_live_restore:
            reason += ' (which Docker refuses with live-restore on)'
    return {'cluster_store': store, 'cluster_advertise': str(advertise), 'live_restore': wanted_live_restore,
            'swarm': swarm, 'reason': reason}


def _refuse_missing_driver(engine, store):
    """A store URL whose driver the installed engine lacks is an error. No drivers found (a binary that does not
    carry the package paths) or facts without the list: unknown, not checked."""
    scheme = store.split('://', 1)[0] if '://' in store else ''
    drivers = engine.get('cluster_store_backends')
    if not scheme or not drivers or not engine.get('cluster_store_supported') or scheme in drivers:
        return
    hint = ('use hostnet_kv_backend: etcd, or an engine built with the consul driver (e.g. Debian 11\'s docker.io '
            '20.10.5)' if scheme == 'consul' else 'use a store it has')
    raise AnsibleFilterError(
        'cluster store %s: the installed Engine %s was built without the %s:// driver (it has: %s), so dockerd would '
        'refuse to start with it; %s' % (store, engine.get('version'), scheme, ', '.join(drivers), hint))


class FilterModule(object):
    def filters(self):
        return {'docker_cluster_settings': docker_cluster_settings}
