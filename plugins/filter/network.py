# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: private_address
short_description: Whether an IP address is private, loopback or link-local (not reachable from the Internet)
version_added: 0.1.0
description:
  - True for RFC 1918, RFC 6598 shared, unique local (fd00::/8), loopback and link-local addresses.
  - Roles use it to keep services (etcd, Consul) off public addresses by default.
positional: _input
options:
  _input:
    description: An IPv4 or IPv6 address, with or without a prefix length.
    type: str
    required: true
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: Refuse a public listen address
  ansible.builtin.assert:
    that: etcd_address | hostnet.fabric.private_address
'''

RETURN = r'''
_value:
  description: Whether the address is private.
  type: bool
'''

import ipaddress

from ansible.errors import AnsibleFilterError

_SHARED = ipaddress.ip_network('100.64.0.0/10')


def private_address(value):
    try:
        addr = ipaddress.ip_interface(str(value).strip()).ip
    except ValueError:
        raise AnsibleFilterError('private_address: %r is not an IP address' % (value,))
    if addr.version == 4 and addr in _SHARED:
        return True
    return bool(addr.is_private or addr.is_loopback or addr.is_link_local) and not addr.is_unspecified


class FilterModule(object):
    def filters(self):
        return {'private_address': private_address}
