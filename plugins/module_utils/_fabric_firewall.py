# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to hostnet.fabric: not a public API, may change without notice.
#
# The native VXLAN fabric's firewall (the hostnet.fabric.vxlan_fabric role, vxlan_fabric_firewall), pure Python:
# from the plan that _fabric.plan() computed once for the whole fabric, what one host's
# hostnet.fabric.vxlan_firewall call gets - the other hosts' underlay addresses (the only sources its VXLAN port
# accepts) and the bridges whose bridged traffic must pass a FORWARD policy DROP (Docker's, with br_netfilter).

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class FabricFirewallError(Exception):
    pass


def firewall(fabric, host, enabled=True, forward=True, state='present'):
    """{'state', 'peers', 'forward_bridges'} for HOST's vxlan_firewall call.

    ``fabric`` is the plan (None when the role removes everything, state absent). The table is wanted only when
    the fabric is present and the firewall enabled; otherwise the answer is state absent (the table, and the
    forward rules, go if they are there), so that turning the firewall off removes it like any other object the
    role no longer wants."""
    if state not in ('present', 'absent'):
        raise FabricFirewallError('vxlan_fabric_state must be present or absent (got %r)' % (state,))
    if state == 'absent' or not enabled:
        return {'state': 'absent', 'peers': [], 'forward_bridges': []}
    hosts = (fabric or {}).get('hosts') or {}
    if host not in hosts:
        raise FabricFirewallError('%s is not a host of the fabric plan (the firewall is planned from it)' % host)
    me = hosts[host]
    others = sorted((h for name, h in hosts.items() if name != host), key=lambda h: (h['number'], h['name']))
    peers = []
    for other in others:
        if other['underlay_ip'] not in peers:
            peers.append(other['underlay_ip'])
    bridges = sorted(set(seg['bridge'] for seg in me.get('segments') or [])) if forward else []
    return {'state': 'present', 'peers': peers, 'forward_bridges': bridges}
