# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# The hostnet.fabric.vxlan_fabric role's planning, as filters (the logic is in module_utils/_fabric.py).
# Documentation: vxlan_fabric_plan.yml, vxlan_fabric_probes.yml, vxlan_fabric_results.yml and
# vxlan_fabric_stale.yml next to this file (one per filter).

from ansible.errors import AnsibleFilterError
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


def vxlan_fabric_results(small, full=None):
    return _fabric.combine(_plain(small), _plain(full))


def vxlan_fabric_stale(info, host_plan=None, namespaces=None, also_netns=None):
    return _fabric.stale(_plain(info), _plain(host_plan), _plain(namespaces or []), _plain(also_netns or []))


class FilterModule(object):
    def filters(self):
        return {
            'vxlan_fabric_plan': vxlan_fabric_plan,
            'vxlan_fabric_probes': vxlan_fabric_probes,
            'vxlan_fabric_results': vxlan_fabric_results,
            'vxlan_fabric_stale': vxlan_fabric_stale,
        }
