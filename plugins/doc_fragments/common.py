# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Every netlink module: requirements, attributes and the shared return keys.
    DOCUMENTATION = r'''
options: {}
requirements:
  - pyroute2 >= 0.9 on the managed host
  - Linux, run as root (CAP_NET_ADMIN; CAP_SYS_ADMIN for namespace mounts)
attributes:
  check_mode:
    support: full
    description: Check mode runs the same planning code as a real run and only skips the kernel changes;
      RV(actions) lists what would be done.
  diff_mode:
    support: full
    description: Shows the object's state before and after (predicted in check mode).
  platform:
    platforms: linux
    support: full
    description: Linux kernel network objects through rtnetlink.
notes:
  - Bad input is rejected before any netlink socket is opened; the host is left exactly as it was.
  - If a step fails half-way, the steps already done in this run are undone in reverse order
    and the result lists them in C(rolled_back).
'''

    # Links that live in a namespace and carry the usual link settings.
    LINK = r'''
options:
  netns:
    description:
      - Network namespace (a name under C(/run/netns)) the interface lives in.
      - Default is the namespace Ansible runs in.
      - The namespace is never created by this module; a missing one is an error and nothing is changed.
    type: str
  mtu:
    description:
      - MTU of the interface, 68..65535. Unmanaged when omitted.
    type: int
  mac:
    description:
      - Unicast MAC address of the interface (V(02:42:ac:11:00:02)). Unmanaged when omitted.
    type: str
  alias:
    description:
      - Alias (C(ifalias), shown by C(ip link) as C(alias ...)) of the interface, at most 254 bytes of printable
        text. Tools mark the interfaces they own with it (the hostnet.fabric.vxlan_fabric role does).
      - V('') removes the alias. Unmanaged when omitted.
    type: str
  addresses:
    description:
      - The exclusive list of addresses with prefix length (V(10.0.0.1/24), V(fd00::1/64)) on the interface.
      - When given, addresses not in the list are removed; V([]) removes all.
        IPv6 link-local addresses are the kernel's and are neither listed nor removed.
      - Unmanaged when omitted.
    type: list
    elements: str
  up:
    description:
      - Administrative state of the interface. A device left down by an earlier run is brought up.
    type: bool
    default: true
'''
