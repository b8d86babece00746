# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to hostnet.fabric: not a public API, may change without notice.
#
# The one thin layer over pyroute2 that every module uses. It
#   * opens netlink sockets in a named namespace WITHOUT ever creating it (pyroute2's
#     default flags create a missing namespace; we always pass flags=0 and check first),
#   * decodes kernel messages once into plain dicts (all diffing is on plain data),
#   * turns netlink errno values into named exceptions with readable messages.
# Nothing here knows about Ansible.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import ctypes.util
import errno
import ipaddress
import os
import socket
import stat
from contextlib import contextmanager

PYROUTE2_MIN_VERSION = (0, 9)

try:
    import pyroute2
    from pyroute2 import IPRoute
    from pyroute2 import netns as _pr_netns
except ImportError as exc:  # pragma: no cover - reported by the module
    IPRoute = None
    _pr_netns = None
    PYROUTE2_IMPORT_ERROR = exc
    PYROUTE2_VERSION = None
else:
    PYROUTE2_IMPORT_ERROR = None
    PYROUTE2_VERSION = getattr(pyroute2, '__version__', '0')


def pyroute2_too_old():
    """The installed pyroute2's version text when it is older than the API this layer uses, else None.

    (0.7.x, e.g. Debian 12's python3-pyroute2, handles namespaces and FDB dumps differently.)
    """
    if PYROUTE2_VERSION is None:
        return None
    parts = []
    for piece in str(PYROUTE2_VERSION).split('.')[:2]:
        digits = ''.join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return PYROUTE2_VERSION if tuple(parts) < PYROUTE2_MIN_VERSION else None


NETNS_DIR = '/run/netns'
ZERO_MAC = '00:00:00:00:00:00'

IFF_UP = 0x1
NUD_NOARP = 0x40
NUD_PERMANENT = 0x80
NTF_SELF = 0x02
NTF_MASTER = 0x04
AF_BRIDGE = 7
MNT_DETACH = 2
MS_BIND = 4096


# --------------------------------------------------------------------------- errors
class NetlinkOpError(Exception):
    """A kernel operation failed. ``errno`` keeps the kernel's code."""

    def __init__(self, message, code=None):
        super(NetlinkOpError, self).__init__(message)
        self.errno = code


class NotFound(NetlinkOpError):
    pass


class Exists(NetlinkOpError):
    pass


class Busy(NetlinkOpError):
    pass


class PermissionDenied(NetlinkOpError):
    pass


class InvalidArgument(NetlinkOpError):
    pass


class NamespaceNotFound(NotFound):
    pass


_ERRNO_CLASSES = {
    errno.ENOENT: NotFound,
    errno.ENODEV: NotFound,
    errno.ESRCH: NotFound,
    errno.EEXIST: Exists,
    errno.EBUSY: Busy,
    errno.EADDRINUSE: Busy,
    errno.EPERM: PermissionDenied,
    errno.EACCES: PermissionDenied,
    errno.EINVAL: InvalidArgument,
    errno.EOPNOTSUPP: InvalidArgument,
    errno.EADDRNOTAVAIL: InvalidArgument,
    errno.ERANGE: InvalidArgument,
}


def error_for(code, what):
    cls = _ERRNO_CLASSES.get(code, NetlinkOpError)
    return cls('%s: %s' % (what, os.strerror(code) if code else 'failed'), code)


@contextmanager
def translated(what):
    """Run a kernel call; NetlinkError/OSError become a named NetlinkOpError saying ``what``."""
    try:
        yield
    except NetlinkOpError:
        raise
    except Exception as exc:  # NetlinkError is not an OSError subclass in every pyroute2
        code = getattr(exc, 'code', None) or getattr(exc, 'errno', None)
        if isinstance(code, int):
            raise error_for(code, what)
        raise NetlinkOpError('%s: %s' % (what, exc))


# --------------------------------------------------------------------------- namespaces
def netns_path(name):
    return os.path.join(NETNS_DIR, name)


def _libc():
    return ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)


def netns_state(name):
    """'absent', 'mounted' (a live namespace) or 'stale' (a left-over file, nothing mounted)."""
    path = netns_path(name)
    try:
        st = os.lstat(path)
    except OSError:
        return 'absent'
    if stat.S_ISLNK(st.st_mode):
        # the old 'ln -s /proc/PID/ns/net' recipe: alive while the target is
        try:
            os.stat(path)
        except OSError:
            return 'stale'
        return 'mounted'
    return 'mounted' if os.path.ismount(path) else 'stale'


def netns_exists(name):
    return netns_state(name) == 'mounted'


def netns_inode(name=None, pid=None):
    """(st_dev, st_ino) identifying a network namespace: a name, a pid, or our own (None)."""
    if name is not None:
        path = netns_path(name)
    else:
        path = '/proc/%s/ns/net' % (pid if pid is not None else 'self')
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def list_netns():
    try:
        return sorted(os.listdir(NETNS_DIR))
    except OSError:
        return []


def _unmount_and_unlink(path):
    if os.path.islink(path) or not os.path.ismount(path):
        os.unlink(path)
        return
    if _libc().umount2(path.encode(), MNT_DETACH) != 0:
        code = ctypes.get_errno()
        raise error_for(code, 'unmount %s' % path)
    os.unlink(path)


def netns_create(name, pid=None):
    """Create a namespace (pid None) or bind a process's namespace to /run/netns/NAME.

    Never leaves a half-made entry: if the bind mount fails, the placeholder file is removed.
    """
    path = netns_path(name)
    what = 'create namespace %s' % name if pid is None else 'attach namespace of pid %s as %s' % (pid, name)
    try:
        with translated(what):
            if pid is None:
                _pr_netns.create(name)
            else:
                _pr_netns.attach(name, pid)
    except Exception:
        if netns_state(name) == 'stale':
            try:
                os.unlink(path)
            except OSError:
                pass
        raise
    if not netns_exists(name):
        if netns_state(name) == 'stale':
            os.unlink(path)
        raise NetlinkOpError('%s: the namespace did not appear at %s' % (what, path))


def netns_remove(name):
    """Remove /run/netns/NAME (mount or stale file). The namespace itself lives on while used."""
    with translated('remove namespace %s' % name):
        _unmount_and_unlink(netns_path(name))


# --------------------------------------------------------------------------- decoding
def _attrs(nla):
    """Attribute list of a pyroute2 nla (or None) as a plain dict."""
    if nla is None:
        return {}
    return dict((k, v) for k, v in nla.get('attrs', []) if k != 'UNKNOWN')


def decode_link(msg):
    """A kernel RTM_NEWLINK message as a plain dict (kind-specific data under 'info')."""
    attrs = _attrs(msg)
    linkinfo = _attrs(attrs.get('IFLA_LINKINFO'))
    kind = linkinfo.get('IFLA_INFO_KIND')
    data = _attrs(linkinfo.get('IFLA_INFO_DATA'))
    link = {
        'index': msg['index'],
        'ifname': attrs.get('IFLA_IFNAME'),
        'kind': kind,
        'mtu': attrs.get('IFLA_MTU'),
        'mac': attrs.get('IFLA_ADDRESS'),
        'alias': attrs.get('IFLA_IFALIAS') or None,
        'up': bool(msg['flags'] & IFF_UP),
        'operstate': attrs.get('IFLA_OPERSTATE'),
        'master_index': attrs.get('IFLA_MASTER') or None,
        'link_index': attrs.get('IFLA_LINK'),
        'link_netnsid': attrs.get('IFLA_LINK_NETNSID'),
        'info': {},
    }
    if kind == 'vxlan':
        local = data.get('IFLA_VXLAN_LOCAL') or data.get('IFLA_VXLAN_LOCAL6')
        group = data.get('IFLA_VXLAN_GROUP') or data.get('IFLA_VXLAN_GROUP6')
        link['info'] = {
            'vni': data.get('IFLA_VXLAN_ID'),
            'dstport': data.get('IFLA_VXLAN_PORT'),
            'local': _norm_ip(local),
            'group': _norm_ip(group),
            'dev_index': data.get('IFLA_VXLAN_LINK') or None,
            'learning': bool(data.get('IFLA_VXLAN_LEARNING')),
            'proxy': bool(data.get('IFLA_VXLAN_PROXY')),
            'ttl': data.get('IFLA_VXLAN_TTL'),
        }
    elif kind == 'bridge':
        link['info'] = {'stp': bool(data.get('IFLA_BR_STP_STATE'))}
    return link


def _norm_ip(value):
    if not value:
        return None
    addr = ipaddress.ip_address(value)
    return None if addr.is_unspecified else str(addr)


# --------------------------------------------------------------------------- sockets
class Netlink(object):
    """One rtnetlink socket in one namespace (None: the namespace this process runs in).

    Opening never creates the namespace: a missing one raises NamespaceNotFound.
    """

    def __init__(self, netns=None):
        if PYROUTE2_IMPORT_ERROR is not None:
            raise NetlinkOpError('pyroute2 is required on the managed host: %s' % PYROUTE2_IMPORT_ERROR)
        self.netns = netns
        if netns is not None and not netns_exists(netns):
            raise NamespaceNotFound("network namespace '%s' does not exist (%s)" % (netns, netns_path(netns)))
        try:
            self.ipr = IPRoute(netns=netns, flags=0) if netns else IPRoute()
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise NamespaceNotFound("network namespace '%s' does not exist (it vanished)" % netns)
            raise error_for(exc.errno, 'open netlink socket in namespace %s' % netns)

    @property
    def where(self):
        return "namespace '%s'" % self.netns if self.netns else 'the current namespace'

    def close(self):
        self.ipr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---------------------------------------------------------------- links
    def links(self):
        with translated('list links in %s' % self.where):
            return [decode_link(m) for m in self.ipr.get_links()]

    def link(self, ifname=None, index=None):
        """The decoded link by name or index, or None."""
        with translated('read link %s in %s' % (ifname or index, self.where)):
            try:
                if index is not None:
                    msgs = self.ipr.get_links(index)
                else:
                    msgs = self.ipr.link('get', ifname=ifname)
            except Exception as exc:
                if getattr(exc, 'code', None) in (errno.ENODEV, errno.ENOENT):
                    return None
                raise
        return decode_link(msgs[0]) if msgs else None

    def name_of(self, index):
        if not index:
            return None
        link = self.link(index=index)
        return link['ifname'] if link else None

    def index_of(self, ifname, what=None):
        link = self.link(ifname)
        if link is None:
            raise NotFound("%s '%s' does not exist in %s" % (what or 'interface', ifname, self.where))
        return link['index']

    def add_link(self, ifname, kind, **kwargs):
        with translated('create %s %s in %s' % (kind, ifname, self.where)):
            self.ipr.link('add', ifname=ifname, kind=kind, **kwargs)

    def set_link(self, ifname, **kwargs):
        index = self.index_of(ifname)
        with translated('change %s (%s) in %s' % (ifname, ', '.join(sorted(kwargs)), self.where)):
            self.ipr.link('set', index=index, **kwargs)

    def del_link(self, ifname):
        link = self.link(ifname)
        if link is None:
            return
        with translated('delete %s in %s' % (ifname, self.where)):
            self.ipr.link('del', index=link['index'])

    # ---------------------------------------------------------------- addresses
    def addresses(self, index):
        """Addresses on a link as canonical CIDR text; IPv6 link-local ones are the kernel's."""
        out = []
        with translated('list addresses in %s' % self.where):
            msgs = self.ipr.get_addr(index=index)
        for msg in msgs:
            if msg.get('index') != index:
                continue
            addr = _attrs(msg).get('IFA_ADDRESS')
            if addr is None:
                continue
            iface = ipaddress.ip_interface('%s/%d' % (addr, msg['prefixlen']))
            if iface.version == 6 and iface.ip.is_link_local:
                continue
            out.append(str(iface))
        return out

    def add_address(self, ifname, cidr):
        iface = ipaddress.ip_interface(cidr)
        index = self.index_of(ifname)
        with translated('add address %s to %s in %s' % (cidr, ifname, self.where)):
            self.ipr.addr('add', index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen)

    def del_address(self, ifname, cidr):
        iface = ipaddress.ip_interface(cidr)
        index = self.index_of(ifname)
        with translated('remove address %s from %s in %s' % (cidr, ifname, self.where)):
            self.ipr.addr('del', index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen)

    # ---------------------------------------------------------------- default route
    def default_gateway(self, family=4):
        fam = socket.AF_INET if family == 4 else socket.AF_INET6
        with translated('read routes in %s' % self.where):
            msgs = self.ipr.get_routes(family=fam, table=254)
        for msg in msgs:
            if msg['dst_len'] == 0 and _attrs(msg).get('RTA_GATEWAY'):
                return str(ipaddress.ip_address(_attrs(msg)['RTA_GATEWAY']))
        return None

    def set_default_gateway(self, gateway):
        dst = 'default' if ipaddress.ip_address(gateway).version == 4 else '::/0'
        with translated('set default route via %s in %s' % (gateway, self.where)):
            if ipaddress.ip_address(gateway).version == 4:
                self.ipr.route('replace', dst='0.0.0.0/0', gateway=gateway)
            else:
                self.ipr.route('replace', dst=dst, gateway=gateway, family=socket.AF_INET6)

    def del_default_gateway(self, gateway):
        with translated('delete default route via %s in %s' % (gateway, self.where)):
            if ipaddress.ip_address(gateway).version == 4:
                self.ipr.route('del', dst='0.0.0.0/0', gateway=gateway)
            else:
                self.ipr.route('del', dst='::/0', gateway=gateway, family=socket.AF_INET6)

    # ---------------------------------------------------------------- FDB
    def fdb(self, index):
        """Static entries in a device's own FDB (NTF_SELF, not the bridge's): {mac, dst}."""
        out = []
        with translated('list FDB entries in %s' % self.where):
            msgs = self.ipr.fdb('dump', ifindex=index)
        for msg in msgs:
            if msg.get('ifindex') != index or not msg['state'] & NUD_PERMANENT:
                continue
            attrs = _attrs(msg)
            if attrs.get('NDA_MASTER') or not attrs.get('NDA_DST'):
                continue
            out.append({'mac': attrs['NDA_LLADDR'].lower(), 'dst': str(ipaddress.ip_address(attrs['NDA_DST']))})
        return out

    def fdb_append(self, ifname, mac, dst):
        index = self.index_of(ifname)
        with translated('add FDB entry %s dst %s on %s in %s' % (mac, dst, ifname, self.where)):
            self.ipr.fdb('append', ifindex=index, lladdr=mac, dst=dst)

    def fdb_del(self, ifname, mac, dst):
        index = self.index_of(ifname)
        with translated('delete FDB entry %s dst %s on %s in %s' % (mac, dst, ifname, self.where)):
            self.ipr.fdb('del', ifindex=index, lladdr=mac, dst=dst)

    # ---------------------------------------------------------------- neighbours
    def neighbours(self, index):
        """Permanent IPv4/IPv6 neighbour entries on a link: {ip, mac}."""
        out = []
        with translated('list neighbours in %s' % self.where):
            msgs = self.ipr.get_neighbours(ifindex=index)
        for msg in msgs:
            if msg.get('ifindex') != index or msg['family'] not in (socket.AF_INET, socket.AF_INET6):
                continue
            if not msg['state'] & NUD_PERMANENT:
                continue
            attrs = _attrs(msg)
            if not attrs.get('NDA_LLADDR'):
                continue
            out.append({'ip': str(ipaddress.ip_address(attrs['NDA_DST'])), 'mac': attrs['NDA_LLADDR'].lower()})
        return out

    def neigh_set(self, ifname, ip, mac):
        index = self.index_of(ifname)
        fam = socket.AF_INET if ipaddress.ip_address(ip).version == 4 else socket.AF_INET6
        with translated('set neighbour %s lladdr %s on %s in %s' % (ip, mac, ifname, self.where)):
            self.ipr.neigh('replace', ifindex=index, dst=ip, lladdr=mac, family=fam, state=NUD_PERMANENT)

    def neigh_del(self, ifname, ip):
        index = self.index_of(ifname)
        fam = socket.AF_INET if ipaddress.ip_address(ip).version == 4 else socket.AF_INET6
        with translated('delete neighbour %s on %s in %s' % (ip, ifname, self.where)):
            self.ipr.neigh('del', ifindex=index, dst=ip, family=fam)

    # ---------------------------------------------------------------- public view
    def view(self, link):
        """The user-facing state of a decoded link (returned by modules and shown in diffs)."""
        if link is None:
            return None
        out = {
            'name': link['ifname'],
            'kind': link['kind'],
            'netns': self.netns,
            'mtu': link['mtu'],
            'mac': link['mac'],
            'alias': link.get('alias'),
            'up': link['up'],
            'master': self.name_of(link['master_index']),
            'addresses': self.addresses(link['index']),
        }
        info = dict(link['info'])
        if 'dev_index' in info:
            info['dev'] = self.name_of(info.pop('dev_index'))
        out.update(info)
        return out
