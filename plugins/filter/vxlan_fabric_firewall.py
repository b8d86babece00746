# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# The hostnet.fabric.vxlan_fabric role's firewall, as a filter (the logic is in module_utils/_fabric_firewall.py).
# Documentation: vxlan_fabric_firewall.yml next to this file.

from ansible.errors import AnsibleFilterError
from ansible_collections.hostnet.fabric.plugins.filter.vxlan_fabric import _plain
from ansible_collections.hostnet.fabric.plugins.module_utils import _fabric_firewall


def vxlan_fabric_firewall(fabric, host, enabled=True, forward=True, state='present'):
    try:
        return _fabric_firewall.firewall(_plain(fabric), host, enabled=bool(enabled), forward=bool(forward),
                                         state=state)
    except _fabric_firewall.FabricFirewallError as exc:
        raise AnsibleFilterError('vxlan_fabric_firewall: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'vxlan_fabric_firewall': vxlan_fabric_firewall}
