# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# The hostnet.fabric.vxlan_fabric role's planning, as filters (the logic is in module_utils/_fabric.py).
# Documentation: vxlan_fabric_plan.yml, vxlan_fabric_probes.yml, vxlan_fabric_verdicts.yml,
# vxlan_fabric_matrices.yml, vxlan_fabric_stale.yml, vxlan_fabric_pluggable.yml, vxlan_fabric_docker.yml and
# vxlan_fabric_reconnect.yml next to this file (one per filter).

from ansible.errors import AnsibleFilterError
from ansible_collections.hostnet.fabric.plugins.filter.ping_matrix import ping_matrix
from ansible_collections.hostnet.fabric.plugins.module_utils import _fabric


def _plain(value):
    """Ansible's lazy containers as plain Python data."""
    if isinstance(value, dict) or hasattr(value, 'items'):
        return dict((str(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    return value


def vxlan_fabric_plan(hosts, segments, netns_prefix='hf-'):
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError('vxlan_fabric_plan: expects a list of hosts (got %s)' % type(hosts).__name__)
    hosts = _plain(hosts)
    for index, host in enumerate(hosts):
        if not isinstance(host, dict) or not host.get('name'):
            raise AnsibleFilterError('vxlan_fabric_plan: host %d must be a dict with a name (got %r)' % (index, host))
    return _fabric.plan(hosts, _plain(segments), netns_prefix=netns_prefix)


def vxlan_fabric_probes(fabric, host):
    fabric = _plain(fabric)
    if host not in (fabric or {}).get('hosts', {}):
        raise AnsibleFilterError('vxlan_fabric_probes: %s is not a host of the plan' % host)
    return _fabric.probes(fabric, host)


def _runs(loop_results):
    # a looped netns_ping task registers {'results': [{'item': {...segment...}, 'results': [...]}, ...]}
    out = []
    for run in _plain(loop_results) or []:
        if run.get('skipped'):
            continue
        item = run.get('item') or {}
        out.append({'segment': item.get('segment'), 'results': run.get('results') or []})
    return out


def vxlan_fabric_verdicts(runs):
    return _fabric.verdicts(_runs(runs))


def vxlan_fabric_matrices(per_host, segments):
    """One ping_matrix per segment from every host's verdicts."""
    out = []
    per_host = [h or {} for h in _plain(per_host) or []]
    for seg in _plain(segments) or []:
        results = [r for h in per_host for r in h.get(seg['name'], [])]
        title = 'segment %s (VNI %s, %s, MTU %s; DF pings of MTU - 28 bytes; MTU = only small packets pass)' % (
            seg['name'], seg['vni'], seg['subnet'], seg['mtu'])
        matrix = ping_matrix(results, title=title)
        matrix['misses'] = ['%s: %s' % (seg['name'], m) for m in matrix['misses']]
        matrix['segment'] = seg['name']
        out.append(matrix)
    return out


def vxlan_fabric_stale(info, host_plan=None, namespaces=None, also_netns=None, docker_networks=None):
    return _fabric.stale(_plain(info), _plain(host_plan), _plain(namespaces or []), _plain(also_netns or []),
                         _plain(docker_networks or []))


def vxlan_fabric_pluggable(workloads, netns_results):
    """The workloads, with ``ready`` false where the looped namespace task changed the name (check mode cannot
    plan a veth into a namespace that is made, or moved to a restarted container, by the real run)."""
    changed = [(r.get('item') or {}).get('netns') for r in _plain(netns_results) or []
               if r.get('changed') and not r.get('skipped')]
    return _fabric.pluggable(_plain(workloads), changed)


def vxlan_fabric_docker(wanted, current, host, recreate=False):
    """What to do with a host's Docker networks of docker segments (create, nothing, report drift, recreate)."""
    if not isinstance(recreate, bool):
        raise AnsibleFilterError('vxlan_fabric_docker: vxlan_fabric_docker_recreate must be a boolean (got %r)'
                                 % (recreate,))
    return _fabric.docker_networks(host, _plain(wanted or []), _plain(current or []), recreate=recreate)


def vxlan_fabric_reconnect(results, decision):
    """The endpoints to connect again to the networks recreated by the role, with their addresses."""
    return _fabric.reconnect_all(_plain(results or []), _plain(decision or {}))


class FilterModule(object):
    def filters(self):
        return {
            'vxlan_fabric_plan': vxlan_fabric_plan,
            'vxlan_fabric_probes': vxlan_fabric_probes,
            'vxlan_fabric_verdicts': vxlan_fabric_verdicts,
            'vxlan_fabric_matrices': vxlan_fabric_matrices,
            'vxlan_fabric_stale': vxlan_fabric_stale,
            'vxlan_fabric_pluggable': vxlan_fabric_pluggable,
            'vxlan_fabric_docker': vxlan_fabric_docker,
            'vxlan_fabric_reconnect': vxlan_fabric_reconnect,
        }
