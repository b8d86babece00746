# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to hostnet.fabric: not a public API, may change without notice.
#
# Input validation shared by every module. Pure Python: no Ansible, no pyroute2, so it is
# unit-tested on its own. Every check raises ValidationError naming the parameter and the
# rule; modules call these BEFORE any netlink socket is opened, so bad input never touches
# the host.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re
import socket

IFNAMSIZ = 16  # kernel constant: names are at most IFNAMSIZ - 1 = 15 bytes
VNI_MIN, VNI_MAX = 1, 16777215
MTU_MIN, MTU_MAX = 68, 65535
PORT_MIN, PORT_MAX = 1, 65535
TTL_MIN, TTL_MAX = 0, 255
IFALIAS_MAX = 254  # IFALIASZ - 1 bytes, less the NUL pyroute2 sends with the text

_MAC_RE = re.compile(r'^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$')
_CONTROL_RE = re.compile(r'[\x00-\x1f\x7f]')


class ValidationError(ValueError):
    """Bad input. ``str()`` gives '<param>: <rule> (got <value>)'."""

    def __init__(self, param, rule, value=None):
        self.param = param
        self.rule = rule
        self.value = value
        text = '%s: %s' % (param, rule)
        if value is not None:
            text += ' (got %r)' % (value,)
        super(ValidationError, self).__init__(text)


def ifname(param, value):
    """A Linux interface name: 1..15 bytes, none of '/', ':', '%', whitespace, not '.'/'..'."""
    if not isinstance(value, str) or value == '':
        raise ValidationError(param, 'must be a non-empty interface name', value)
    if len(value.encode('utf-8')) >= IFNAMSIZ:
        raise ValidationError(param, 'interface names are at most %d bytes' % (IFNAMSIZ - 1), value)
    if value in ('.', '..'):
        raise ValidationError(param, "interface name may not be '.' or '..'", value)
    if _CONTROL_RE.search(value) or re.search(r'[/:%\s]', value):
        raise ValidationError(param, "interface name may not contain '/', ':', '%', whitespace "
                                     "or control characters", value)
    return value


def netns_name(param, value):
    """A network namespace name as used under /run/netns: no '/', no '..', no control characters."""
    if not isinstance(value, str) or value == '':
        raise ValidationError(param, 'must be a non-empty namespace name', value)
    if value == '.' or '..' in value:
        raise ValidationError(param, "namespace name may not be '.' or contain '..'", value)
    if '/' in value or _CONTROL_RE.search(value):
        raise ValidationError(param, "namespace name may not contain '/' or control characters", value)
    if len(value.encode('utf-8')) > 255:
        raise ValidationError(param, 'namespace names are at most 255 bytes', value)
    return value


def int_range(param, value, low, high, what='an integer'):
    # bool is an int subclass in Python; "true" is never a valid VNI or MTU.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(param, 'must be %s in %d..%d' % (what, low, high), value)
    if value < low or value > high:
        raise ValidationError(param, 'must be in %d..%d' % (low, high), value)
    return value


def vni(param, value):
    return int_range(param, value, VNI_MIN, VNI_MAX, 'a VXLAN network identifier')


def port(param, value):
    return int_range(param, value, PORT_MIN, PORT_MAX, 'a UDP port')


def mtu(param, value):
    return int_range(param, value, MTU_MIN, MTU_MAX, 'an MTU')


def ttl(param, value):
    return int_range(param, value, TTL_MIN, TTL_MAX, 'a TTL')


def mac(param, value, unicast=True):
    """A 48-bit MAC, normalised to lower case with ':'. Interface and static FDB MACs are unicast."""
    if not isinstance(value, str) or not _MAC_RE.match(value):
        raise ValidationError(param, 'must be a MAC address like 02:42:ac:11:00:02', value)
    norm = value.lower().replace('-', ':')
    if unicast:
        if norm == '00:00:00:00:00:00':
            raise ValidationError(param, 'must not be the all-zero MAC', value)
        if int(norm[:2], 16) & 1:
            raise ValidationError(param, 'must be a unicast MAC (low bit of the first octet clear)', value)
    return norm


def _canonical_ipv4(value):
    """The packed form of ``value`` when it is IPv4 text already in canonical form, else None.

    The common case of lists of thousands of peers, checked in C (inet_pton/inet_ntop) instead of
    ipaddress' pure-Python parser: text that comes back unchanged is exactly what ipaddress returns."""
    if not isinstance(value, str) or ':' in value:
        return None
    try:
        packed = socket.inet_pton(socket.AF_INET, value)
    except (OSError, ValueError):
        return None
    return packed if socket.inet_ntop(socket.AF_INET, packed) == value else None


def ip(param, value, allow_multicast=True, allow_unspecified=False):
    """A bare IPv4/IPv6 address, returned in canonical text form."""
    packed = _canonical_ipv4(value)
    if packed is not None:
        if not allow_multicast and packed[0] & 0xF0 == 0xE0:
            raise ValidationError(param, 'must not be a multicast address', value)
        if not allow_unspecified and packed == b'\0\0\0\0':
            raise ValidationError(param, 'must not be the unspecified address', value)
        return value
    try:
        addr = ipaddress.ip_address(value if not isinstance(value, bytes) else value.decode())
    except (ValueError, TypeError):
        raise ValidationError(param, 'must be an IPv4 or IPv6 address', value)
    if not allow_multicast and addr.is_multicast:
        raise ValidationError(param, 'must not be a multicast address', value)
    if not allow_unspecified and addr.is_unspecified:
        raise ValidationError(param, 'must not be the unspecified address', value)
    return str(addr)


def multicast_ip(param, value):
    addr = ip(param, value)
    if not ipaddress.ip_address(addr).is_multicast:
        raise ValidationError(param, 'must be a multicast address (224.0.0.0/4 or ff00::/8)', value)
    return addr


def cidr(param, value):
    """An interface address with prefix length ('10.0.0.1/24'), canonical text form."""
    if not isinstance(value, str) or '/' not in value:
        raise ValidationError(param, "must be an address with a prefix length, like '10.0.0.1/24'", value)
    try:
        iface = ipaddress.ip_interface(value)
    except ValueError:
        raise ValidationError(param, "must be an address with a prefix length, like '10.0.0.1/24'", value)
    if iface.ip.is_multicast or iface.ip.is_unspecified:
        raise ValidationError(param, 'must be a unicast host address', value)
    return str(iface)


def _unique(values):
    """The values in order, each once (linear: lists of thousands of entries stay cheap)."""
    seen = set()
    out = []
    for value in values:
        if value not in seen:
            seen.add(value)
            out.append(value)
    return out


def cidr_list(param, values):
    if values is None:
        return None
    return _unique(cidr('%s[%d]' % (param, i), item) for i, item in enumerate(values))


def ip_list(param, values, allow_multicast=True):
    if values is None:
        return None
    return _unique(ip('%s[%d]' % (param, i), item, allow_multicast=allow_multicast)
                   for i, item in enumerate(values))


def same_family(param, addresses):
    """Peers, local and group of one VXLAN must share one IP family."""
    # IPv6 text always has a ':', IPv4 text never (no parsing: lists of thousands stay cheap)
    fams = set(6 if ':' in a else 4 for a in addresses if a)
    if len(fams) > 1:
        raise ValidationError(param, 'all addresses must be of one IP family', sorted(a for a in addresses if a))


def alias(param, value):
    """An interface alias (ifalias): printable text of at most IFALIAS_MAX bytes; '' removes it."""
    if not isinstance(value, str):
        raise ValidationError(param, 'must be a text', value)
    if len(value.encode('utf-8')) > IFALIAS_MAX:
        raise ValidationError(param, 'an interface alias is at most %d bytes' % IFALIAS_MAX, value)
    if _CONTROL_RE.search(value):
        raise ValidationError(param, 'an interface alias may not contain control characters (newlines, tabs ...)',
                              value)
    return value


def link_params(p):
    """The settings all link modules share, checked and normalised in place:
    name, netns, mtu, mac, alias, master and addresses (those present in ``p``)."""
    ifname('name', p['name'])
    if p.get('netns') is not None:
        netns_name('netns', p['netns'])
    if p.get('mtu') is not None:
        mtu('mtu', p['mtu'])
    if p.get('mac') is not None:
        p['mac'] = mac('mac', p['mac'])
    if p.get('alias') is not None:
        alias('alias', p['alias'])
    if p.get('master'):  # '' detaches
        ifname('master', p['master'])
    if 'addresses' in p:
        p['addresses'] = cidr_list('addresses', p['addresses'])
    return p
