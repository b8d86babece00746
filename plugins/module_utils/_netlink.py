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
import select
import socket
import stat
import struct
import time
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
class _Socket(object):
    """What Netlink and NetnsReader share: one pyroute2 IPRoute socket, opened with flags=0 (a missing namespace
    is never created), closed by close() or at the end of a ``with`` block."""

    @staticmethod
    def _require_pyroute2():
        if PYROUTE2_IMPORT_ERROR is not None:
            raise NetlinkOpError('pyroute2 is required on the managed host: %s' % PYROUTE2_IMPORT_ERROR)

    def _open(self, target, vanished, action):
        """Open the socket in the namespace TARGET (a name or a path; None: the current one). ``vanished``: the
        message if it disappeared since it was checked; ``action``: what failed, for any other error."""
        try:
            self.ipr = IPRoute(netns=target, flags=0) if target else IPRoute()
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise NamespaceNotFound(vanished)
            raise error_for(exc.errno, action)

    def close(self):
        self.ipr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Netlink(_Socket):
    """One rtnetlink socket in one namespace (None: the namespace this process runs in).

    Opening never creates the namespace: a missing one raises NamespaceNotFound.
    """

    def __init__(self, netns=None):
        self._require_pyroute2()
        self.netns = netns
        if netns is not None and not netns_exists(netns):
            raise NamespaceNotFound("network namespace '%s' does not exist (%s)" % (netns, netns_path(netns)))
        self._open(netns, "network namespace '%s' does not exist (it vanished)" % netns,
                   'open netlink socket in namespace %s' % netns)

    @property
    def where(self):
        return "namespace '%s'" % self.netns if self.netns else 'the current namespace'

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
        return fdb_table(self, index)

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
        return neigh_table(self, index)

    def apply_batch(self, ifname, requests):
        """Many FDB / neighbour requests [(op, mac, ip)] on one link: see apply_batch() (batches section)."""
        return apply_batch(self, ifname, requests)

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


# =========================================================================== inspection
# READ-ONLY INSPECTION (netns_info, the netns module's holder check).
# Everything in this section only reads. Namespaces are opened by path (a /run/netns name,
# /proc/PID/ns/net, a Docker sandbox under /var/run/docker/netns) with flags=0, so a missing
# one is an error and nothing is ever created. Kernel messages are decoded once into plain
# dicts shaped like what `ip -j -d link/addr/route/neigh` and `bridge -j fdb/link` print.

IFF_LOWER_UP = 0x10000
NUD_NONE = 0x00
NTF_PROXY = 0x08
RTA_TABLE_LOCAL = 255

_ARPHRD = {1: 'ether', 24: 'ieee1394', 32: 'infiniband', 768: 'ipip', 769: 'tunnel6', 776: 'sit', 778: 'gre',
           823: 'ip6gre', 772: 'loopback', 65534: 'none', 65535: 'void'}
_BRPORT_STATES = {0: 'disabled', 1: 'listening', 2: 'learning', 3: 'forwarding', 4: 'blocking'}
_NUD = ((0x01, 'incomplete'), (0x02, 'reachable'), (0x04, 'stale'), (0x08, 'delay'), (0x10, 'probe'),
        (0x20, 'failed'), (0x40, 'noarp'), (0x80, 'permanent'))
# ndm_flags as `bridge fdb show` names them, in its order
_FDB_FLAGS = ((0x02, 'self'), (0x80, 'router'), (0x10, 'extern_learn'), (0x20, 'offload'), (0x04, 'master'),
              (0x40, 'sticky'))
_RT_TABLES = {253: 'default', 254: 'main', 255: 'local'}
_RT_PROTOS = {0: 'unspec', 1: 'redirect', 2: 'kernel', 3: 'boot', 4: 'static', 8: 'gated', 9: 'ra', 10: 'mrt',
              11: 'zebra', 12: 'bird', 13: 'dnrouted', 14: 'xorp', 15: 'ntk', 16: 'dhcp', 17: 'mrouted',
              18: 'keepalived', 42: 'babel', 99: 'openr', 186: 'bgp', 187: 'isis', 188: 'ospf', 189: 'rip',
              192: 'eigrp'}
_RT_SCOPES = {0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere'}
_RT_TYPES = {0: 'unspec', 1: 'unicast', 2: 'local', 3: 'broadcast', 4: 'anycast', 5: 'multicast', 6: 'blackhole',
             7: 'unreachable', 8: 'prohibit', 9: 'throw', 10: 'nat', 11: 'xresolve'}
_FAMILIES = {socket.AF_INET: 'inet', socket.AF_INET6: 'inet6'}


def nsfs_state(path):
    """'absent', 'mounted' (a live namespace file) or 'stale' (a file with nothing mounted on it).

    Like netns_state(), for any path: /run/netns/NAME, /proc/PID/ns/net, /var/run/docker/netns/KEY.
    """
    try:
        st = os.lstat(path)
    except OSError:
        return 'absent'
    if stat.S_ISLNK(st.st_mode):
        try:
            os.stat(path)
        except OSError:
            return 'stale'
        return 'mounted'
    # /proc/PID/ns/net is not a mount point but always a live namespace while the process runs
    if path.startswith('/proc/'):
        return 'mounted'
    return 'mounted' if os.path.ismount(path) else 'stale'


def ns_inode(path):
    """(st_dev, st_ino) of the namespace a path refers to."""
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def netns_names_of(inode):
    """Names under /run/netns that refer to the namespace ``inode`` ((st_dev, st_ino))."""
    out = []
    for name in list_netns():
        try:
            if netns_state(name) == 'mounted' and ns_inode(netns_path(name)) == inode:
                out.append(name)
        except OSError:
            continue
    return out


def parse_nsfs_mounts(text):
    """Network-namespace mounts in a /proc/PID/mountinfo text: [{path, ino, peer_group}].

    A bind-mounted namespace shows as fstype nsfs with root 'net:[INODE]'; peer_group is the
    'shared:N' tag or None.
    """
    out = []
    for line in text.splitlines():
        head, sep, tail = line.partition(' - ')
        if not sep or tail.split(' ', 1)[0] != 'nsfs':
            continue
        fields = head.split(' ')
        if len(fields) < 6 or not (fields[3].startswith('net:[') and fields[3].endswith(']')):
            continue
        peer = None
        for tag in fields[6:]:
            if tag.startswith('shared:'):
                peer = tag
        path = fields[4].replace('\\040', ' ').replace('\\011', '\t').replace('\\012', '\n').replace('\\134', '\\')
        out.append({'path': path, 'ino': int(fields[3][5:-1]), 'peer_group': peer})
    return out


def _ppid(proc, pid):
    try:
        with open('%s/%d/stat' % (proc, pid)) as f:
            # 'PID (COMM) STATE PPID ...': COMM may hold spaces and parentheses, so split after the last ')'
            return int(f.read().rsplit(')', 1)[1].split()[1])
    except (IOError, OSError, IndexError, ValueError):
        return None


def _lineage(proc):
    """This process and its ancestors (pids)."""
    out = set()
    pid = os.getpid()
    while pid and pid not in out:
        out.add(pid)
        pid = _ppid(proc, pid)
    return out


def netns_holders(path, proc='/proc'):
    """What keeps the namespace at ``path`` alive besides ``path`` itself.

    Returns a list of plain dicts: {'kind': 'process', 'pid', 'comm'} for every process whose network
    namespace it is, and {'kind': 'mount', 'path'} for every other mount of it (another /run/netns name,
    Docker's sandbox file ...) that is not a copy mount propagation made of ``path``'s own mount. Empty when only
    ``path`` holds it: removing that name then destroys the namespace and every interface in it.
    Holders this process cannot see (an open file descriptor or socket of another process, a mount in
    another mount namespace) are not found; callers treat "none found" as "would be destroyed".
    This process, its ancestors (e.g. an `ip netns exec NAME ansible-playbook ...` that runs this very task)
    and its children (pyroute2's short-lived helpers) are never counted: they do not outlive the task.
    """
    dev, ino = ns_inode(path)
    holders = []
    try:
        pids = sorted(int(p) for p in os.listdir(proc) if p.isdigit())
    except OSError:
        pids = []
    mine = _lineage(proc)
    for pid in pids:
        if pid in mine:
            continue
        try:
            st = os.stat('%s/%d/ns/net' % (proc, pid))
        except OSError:
            continue  # gone, or a kernel thread we may not look into
        if (st.st_dev, st.st_ino) != (dev, ino) or _ppid(proc, pid) == os.getpid():
            continue
        try:
            with open('%s/%d/comm' % (proc, pid)) as f:
                comm = f.read().strip()
        except (IOError, OSError):
            comm = '?'
        holders.append({'kind': 'process', 'pid': pid, 'comm': comm})
    try:
        with open('%s/self/mountinfo' % proc) as f:
            mounts = parse_nsfs_mounts(f.read())
    except (IOError, OSError):
        mounts = []
    real = os.path.realpath(path)
    own_groups = set(m['peer_group'] for m in mounts if m['path'] == real and m['ino'] == ino and m['peer_group'])
    seen = set()
    for m in mounts:
        if m['ino'] != ino or m['path'] == real or m['path'] in seen:
            continue
        if m['peer_group'] in own_groups and os.path.basename(m['path']) == os.path.basename(real):
            # a copy that mount propagation made of our own mount (the same name under a peer of its
            # directory's mount): unmounting ours unmounts it too. A bind mount of ours under another name
            # shares the peer group as well, but outlives ours.
            continue
        seen.add(m['path'])
        holders.append({'kind': 'mount', 'path': m['path']})
    return holders


def describe_holders(holders, limit=5):
    """'process 1234 (sleep), mount /run/netns/other' (at most ``limit``, then '... and N more')."""
    texts = []
    for h in holders:
        if h['kind'] == 'process':
            texts.append('process %d (%s)' % (h['pid'], h['comm']))
        else:
            texts.append('mount %s' % h['path'])
    if len(texts) > limit:
        texts = texts[:limit] + ['... and %d more' % (len(texts) - limit)]
    return ', '.join(texts)


def _nud_state(state):
    if state == NUD_NONE:
        return 'none'
    names = [name for bit, name in _NUD if state & bit]
    return ','.join(names) if names else hex(state)


def _fdb_state(state):
    # the names `bridge fdb show` prints; "" there (a learned entry) is 'dynamic' here
    if state & NUD_PERMANENT:
        return 'permanent'
    if state & NUD_NOARP:
        return 'static'
    if state & 0x04:
        return 'stale'
    return 'dynamic'


def decode_link_details(msg):
    """Everything netns_info reports about a link, as a plain dict (names of other links unresolved).

    Builds on decode_link() (the modules' decoder) and adds what an operator reads: alias, link type,
    carrier, all VXLAN attributes, bridge attributes and bridge port attributes.
    """
    base = decode_link(msg)
    attrs = _attrs(msg)
    linkinfo = _attrs(attrs.get('IFLA_LINKINFO'))
    data = _attrs(linkinfo.get('IFLA_INFO_DATA'))
    out = {
        'index': base['index'],
        'name': base['ifname'],
        'kind': base['kind'],
        'link_type': _ARPHRD.get(msg.get('ifi_type'), msg.get('ifi_type')),
        'state': base['operstate'],
        'up': base['up'],
        'carrier': bool(msg['flags'] & IFF_LOWER_UP),
        'mtu': base['mtu'],
        'mac': base['mac'],
        'alias': base.get('alias'),
        'master_index': base['master_index'],
        'link_index': base['link_index'] or None,
        'link_netnsid': base['link_netnsid'],
    }
    if base['kind'] == 'vxlan':
        group = _norm_ip(data.get('IFLA_VXLAN_GROUP') or data.get('IFLA_VXLAN_GROUP6'))
        ports = data.get('IFLA_VXLAN_PORT_RANGE') or {}
        out['vxlan'] = {
            'vni': data.get('IFLA_VXLAN_ID'),
            'port': data.get('IFLA_VXLAN_PORT'),
            'local': base['info']['local'],
            'group': group if group and ipaddress.ip_address(group).is_multicast else None,
            'remote': group if group and not ipaddress.ip_address(group).is_multicast else None,
            'dev_index': base['info']['dev_index'],
            'learning': base['info']['learning'],
            'proxy': base['info']['proxy'],
            'rsc': bool(data.get('IFLA_VXLAN_RSC')),
            'l2miss': bool(data.get('IFLA_VXLAN_L2MISS')),
            'l3miss': bool(data.get('IFLA_VXLAN_L3MISS')),
            'external': bool(data.get('IFLA_VXLAN_COLLECT_METADATA')),
            'ttl': data.get('IFLA_VXLAN_TTL'),
            'tos': data.get('IFLA_VXLAN_TOS'),
            'ageing': data.get('IFLA_VXLAN_AGEING'),
            'udp_csum': bool(data.get('IFLA_VXLAN_UDP_CSUM')),
            'srcport_min': ports.get('low'),
            'srcport_max': ports.get('high'),
        }
    elif base['kind'] == 'bridge':
        out['bridge'] = {
            'stp': bool(data.get('IFLA_BR_STP_STATE')),
            'vlan_filtering': bool(data.get('IFLA_BR_VLAN_FILTERING')),
            'ageing_time': data.get('IFLA_BR_AGEING_TIME'),
            'forward_delay': data.get('IFLA_BR_FORWARD_DELAY'),
            'priority': data.get('IFLA_BR_PRIORITY'),
        }
    if linkinfo.get('IFLA_INFO_SLAVE_KIND') == 'bridge':
        port = _attrs(linkinfo.get('IFLA_INFO_SLAVE_DATA'))
        out['bridge_port'] = {
            'state': _BRPORT_STATES.get(port.get('IFLA_BRPORT_STATE'), port.get('IFLA_BRPORT_STATE')),
            'priority': port.get('IFLA_BRPORT_PRIORITY'),
            'cost': port.get('IFLA_BRPORT_COST'),
            'hairpin': bool(port.get('IFLA_BRPORT_MODE')),
            'learning': bool(port.get('IFLA_BRPORT_LEARNING')),
            'flood': bool(port.get('IFLA_BRPORT_UNICAST_FLOOD')),
            'mcast_flood': bool(port.get('IFLA_BRPORT_MCAST_FLOOD')),
            'bcast_flood': bool(port.get('IFLA_BRPORT_BCAST_FLOOD')),
            'neigh_suppress': bool(port.get('IFLA_BRPORT_NEIGH_SUPPRESS')),
            'isolated': bool(port.get('IFLA_BRPORT_ISOLATED')),
        }
    return out


def decode_addr(msg):
    """(link index, 'ADDRESS/PREFIX') of an RTM_NEWADDR message; the local address for point-to-point."""
    attrs = _attrs(msg)
    addr = attrs.get('IFA_LOCAL') or attrs.get('IFA_ADDRESS')
    if addr is None:
        return msg.get('index'), None
    return msg.get('index'), str(ipaddress.ip_interface('%s/%d' % (addr, msg['prefixlen'])))


def decode_fdb(msg):
    """An AF_BRIDGE neighbour (FDB) message as a plain dict (device names unresolved)."""
    attrs = _attrs(msg)
    dst = attrs.get('NDA_DST')
    return {
        'mac': (attrs.get('NDA_LLADDR') or '').lower() or None,
        'dev_index': msg.get('ifindex'),
        'master_index': attrs.get('NDA_MASTER') or None,
        'dst': str(ipaddress.ip_address(dst)) if dst else None,
        'vlan': attrs.get('NDA_VLAN'),
        'vni': attrs.get('NDA_VNI'),
        'port': attrs.get('NDA_PORT'),
        'state': _fdb_state(msg['state']),
        'flags': [name for bit, name in _FDB_FLAGS if msg['flags'] & bit],
    }


def decode_neigh(msg):
    """An IPv4/IPv6 neighbour message as a plain dict, or None for what `ip neigh show` leaves out
    (other families, proxy entries, entries in state NOARP or NONE)."""
    if msg.get('family') not in _FAMILIES or msg['flags'] & NTF_PROXY:
        return None
    if msg['state'] == NUD_NONE or msg['state'] & NUD_NOARP:
        return None
    attrs = _attrs(msg)
    mac = attrs.get('NDA_LLADDR')
    return {
        'ip': str(ipaddress.ip_address(attrs['NDA_DST'])),
        'dev_index': msg.get('ifindex'),
        'mac': mac.lower() if mac else None,
        'state': _nud_state(msg['state']),
        'router': bool(msg['flags'] & 0x80),
        'family': _FAMILIES[msg['family']],
    }


def _route_dst(family, attrs, dst_len):
    if dst_len == 0:
        return 'default'
    dst = attrs.get('RTA_DST')
    if dst is None:
        dst = '0.0.0.0' if family == socket.AF_INET else '::'
    return str(ipaddress.ip_network('%s/%d' % (dst, dst_len), strict=False))


def decode_route(msg):
    """An IPv4/IPv6 route as a plain dict (device names unresolved), or None for the local table
    (the kernel's own local/broadcast routes, one per address) and other families."""
    family = msg.get('family')
    if family not in _FAMILIES:
        return None
    attrs = _attrs(msg)
    table = attrs.get('RTA_TABLE', msg.get('table'))
    if table == RTA_TABLE_LOCAL:
        return None
    gateway = attrs.get('RTA_GATEWAY')
    via = attrs.get('RTA_VIA')
    if gateway is None and isinstance(via, dict):
        gateway = via.get('addr')
    route = {
        'family': _FAMILIES[family],
        'dst': _route_dst(family, attrs, msg['dst_len']),
        'gateway': str(ipaddress.ip_address(gateway)) if gateway else None,
        'dev_index': attrs.get('RTA_OIF'),
        'prefsrc': str(ipaddress.ip_address(attrs['RTA_PREFSRC'])) if attrs.get('RTA_PREFSRC') else None,
        'table': _RT_TABLES.get(table, str(table)),
        'protocol': _RT_PROTOS.get(msg['proto'], str(msg['proto'])),
        'scope': _RT_SCOPES.get(msg['scope'], str(msg['scope'])),
        'type': _RT_TYPES.get(msg['type'], str(msg['type'])),
        'metric': attrs.get('RTA_PRIORITY'),
        'nexthops': [],
    }
    for hop in attrs.get('RTA_MULTIPATH') or []:
        hop_attrs = _attrs(hop)
        gw = hop_attrs.get('RTA_GATEWAY')
        route['nexthops'].append({'gateway': str(ipaddress.ip_address(gw)) if gw else None,
                                  'dev_index': hop.get('oif'), 'weight': hop.get('hops', 0) + 1})
    return route


def assemble_netns_view(links, addrs, fdb, neighbours, routes):
    """One namespace's decoded dumps -> the shape netns_info returns (links and bridges by name).

    Pure: takes the decoded lists (decode_link_details, decode_addr, decode_fdb, decode_neigh,
    decode_route) and resolves interface indexes to names within the namespace.
    """
    names = dict((l['index'], l['name']) for l in links)

    def name(index):
        return names.get(index) if index else None

    by_index = {}
    out_links = {}
    for l in links:
        view = dict(l)
        view['master'] = name(view.pop('master_index'))
        # the peer/parent is in this namespace only when no netnsid says otherwise
        view['link'] = name(view['link_index']) if view['link_netnsid'] is None else None
        view['addresses'] = []
        view.pop('bridge', None)
        view.pop('bridge_port', None)
        if 'vxlan' in view:
            vx = dict(view['vxlan'])
            # the underlay device lives in the namespace the VXLAN device was created in
            dev_index = vx.pop('dev_index')
            vx['dev'] = name(dev_index) if view['link_netnsid'] is None else None
            view['vxlan'] = vx
        out_links[l['name']] = view
        by_index[l['index']] = view
    for index, cidr in addrs:
        if cidr is not None and index in by_index:
            by_index[index]['addresses'].append(cidr)
    bridges = {}
    for l in links:
        if l['kind'] == 'bridge':
            bridges[l['name']] = dict(l.get('bridge') or {}, ports={})
    for l in links:
        master = name(l['master_index'])
        if master in bridges:
            bridges[master]['ports'][l['name']] = dict(l.get('bridge_port') or {})

    def named(entry, *keys):
        # 'dev_index' -> 'dev', 'master_index' -> 'master'
        entry = dict(entry)
        for key in keys:
            entry[key[:-len('_index')]] = name(entry.pop(key))
        return entry

    out_routes = []
    for r in routes:
        r = named(r, 'dev_index')
        r['nexthops'] = [named(h, 'dev_index') for h in r['nexthops']]
        out_routes.append(r)
    return {
        'links': out_links,
        'bridges': bridges,
        'fdb': [named(e, 'dev_index', 'master_index') for e in fdb],
        'neighbours': [named(n, 'dev_index') for n in neighbours],
        'routes': out_routes,
    }


class NetnsReader(_Socket):
    """A read-only rtnetlink socket in the namespace at ``path`` (None: the one this process runs in).

    Opened with flags=0: a missing namespace raises NamespaceNotFound, nothing is created.
    """

    def __init__(self, path=None):
        self._require_pyroute2()
        self.path = path
        if path is not None:
            state = nsfs_state(path)
            if state == 'absent':
                raise NamespaceNotFound('no network namespace at %s' % path)
            if state == 'stale':
                raise NamespaceNotFound('%s is a left-over file with no namespace mounted on it' % path)
        self._open(path, 'no network namespace at %s (it vanished)' % path,
                   'open a netlink socket in the namespace at %s' % path)

    @property
    def where(self):
        return 'the namespace at %s' % self.path if self.path else 'the current namespace'

    def read(self):
        """Links, bridges, FDB, neighbours and routes of the namespace, decoded and assembled."""
        with translated('list links in %s' % self.where):
            links = [decode_link_details(m) for m in self.ipr.get_links()]
        with translated('list addresses in %s' % self.where):
            addrs = [decode_addr(m) for m in self.ipr.get_addr()]
        with translated('list FDB entries in %s' % self.where):
            fdb = [decode_fdb(m) for m in self.ipr.fdb('dump')]
        with translated('list neighbours in %s' % self.where):
            neigh = [n for n in (decode_neigh(m) for m in self.ipr.get_neighbours()) if n is not None]
        with translated('list routes in %s' % self.where):
            routes = [r for r in (decode_route(m) for m in self.ipr.get_routes()) if r is not None]
        view = assemble_netns_view(links, addrs, fdb, neigh, routes)
        nsids = set(l['link_netnsid'] for l in view['links'].values() if l['link_netnsid'] is not None)
        names = self.nsid_names(nsids) if nsids else {}
        for l in view['links'].values():
            l['link_netns'] = names.get(l['link_netnsid'])
        return view

    def nsid_names(self, nsids):
        """{nsid: /run/netns name} for the ids this namespace has given other namespaces (RTM_GETNSID,
        which only reads: it never assigns an id)."""
        out = {}
        for name in list_netns():
            if len(out) == len(nsids):
                break
            try:
                fd = os.open(netns_path(name), os.O_RDONLY)
            except OSError:
                continue
            try:
                with translated('read the id of namespace %s in %s' % (name, self.where)):
                    answer = self.ipr.get_netnsid(fd=fd) or {}
            except NetlinkOpError:
                answer = {}
            finally:
                os.close(fd)
            if answer.get('nsid') in nsids and answer['nsid'] not in out:
                out[answer['nsid']] = name
        return out


# =========================================================================== end of inspection


# =========================================================================== batches
# BATCHED NEIGHBOUR / FDB REQUESTS (the vxlan module's flood list, static FDB and neighbours).
# Thousands of entries on one link: the link is resolved ONCE, the requests are packed many per
# sendmsg() with NLM_F_ACK and their acks read in bulk, on the socket pyroute2 opened in the
# namespace. One pyroute2 call per entry costs two round trips (a link lookup that decodes every
# attribute, then the request) and pyroute2's generic encoder, decoder and event loop per entry:
# measured about 30 times slower than `bridge -batch`. Neighbour messages have one fixed layout
# (struct ndmsg + NDA_DST + NDA_LLADDR), so they are packed with struct here; the unit tests
# check every op byte for byte against what pyroute2 itself sends (IPBatch) and the dump parser
# against pyroute2's decoder. Errors are decoded by pyroute2's marshal. The kernel runs every
# request of a send even after one fails, and acks each: the caller gets one result per request.

NLMSG_ERROR = 2
NLMSG_DONE = 3
RTM_NEWNEIGH = 28
RTM_DELNEIGH = 29
RTM_GETNEIGH = 30
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLM_F_REPLACE = 0x100
NLM_F_CREATE = 0x400
NLM_F_APPEND = 0x800
NDA_DST = 1
NDA_LLADDR = 2
NDA_MASTER = 9
BATCH_TIMEOUT = 30.0

_NLMSGHDR = struct.Struct('=IHHII')
_NDMSG = struct.Struct('=BxxxiHBB')
_NLMSGERR = struct.Struct('=IHHIIi')
_NLA = struct.Struct('=HH')
_SEQ_BASE = 0x40000000  # far above pyroute2's own sequence numbers on the same socket

# op -> (message type, netlink flags, family (None: of the address), ndm_state, ndm_flags, attributes in order):
# exactly what Netlink.fdb_append/fdb_del/neigh_set/neigh_del have pyroute2 send (tests/unit/test_batch.py)
BATCH_OPS = {
    'fdb_append': (RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND, AF_BRIDGE,
                   NUD_PERMANENT | NUD_NOARP, NTF_SELF, (NDA_LLADDR, NDA_DST)),
    'fdb_del': (RTM_DELNEIGH, NLM_F_REQUEST | NLM_F_ACK, AF_BRIDGE, NUD_PERMANENT | NUD_NOARP, NTF_SELF,
                (NDA_LLADDR, NDA_DST)),
    'neigh_set': (RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE | NLM_F_CREATE, None, NUD_PERMANENT, 0,
                  (NDA_DST, NDA_LLADDR)),
    'neigh_del': (RTM_DELNEIGH, NLM_F_REQUEST | NLM_F_ACK, None, NUD_PERMANENT, 0, (NDA_DST,)),
}
_BATCH_WHAT = {
    'fdb_append': 'add FDB entry %s dst %s',
    'fdb_del': 'delete FDB entry %s dst %s',
    'neigh_set': 'set neighbour %s lladdr %s',
    'neigh_del': 'delete neighbour %s',
}


def _nla(kind, payload):
    length = 4 + len(payload)
    return _NLA.pack(length, kind) + payload + b'\0' * ((4 - length % 4) % 4)


def _mac_bytes(mac):
    return bytes(int(octet, 16) for octet in mac.split(':'))


def _ip_bytes(ip):
    if ':' in ip:
        return socket.AF_INET6, socket.inet_pton(socket.AF_INET6, ip)
    return socket.AF_INET, socket.inet_pton(socket.AF_INET, ip)


def encode_neigh_request(op, index, mac, ip, seq, pid=0):
    """One RTM_NEWNEIGH / RTM_DELNEIGH request (``op`` in BATCH_OPS) as bytes, laid out as pyroute2's ndmsg."""
    msg_type, flags, family, state, ndm_flags, attrs = BATCH_OPS[op]
    ip_family, ip_raw = _ip_bytes(ip)
    body = _NDMSG.pack(family or ip_family, index, state, ndm_flags, 0)
    for kind in attrs:
        body += _nla(kind, ip_raw if kind == NDA_DST else _mac_bytes(mac))
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), msg_type, flags, seq, pid) + body


def describe_request(request, ifname, where):
    """'add FDB entry MAC dst IP on DEV in WHERE' for a request (op, mac, ip)."""
    op, mac, ip = request
    what = _BATCH_WHAT[op] % ((ip,) if op == 'neigh_del' else (mac, ip) if op.startswith('fdb') else (ip, mac))
    return '%s on %s in %s' % (what, ifname, where)


def _recv_ready(sock, deadline):
    """Wait until ``sock`` (non-blocking: pyroute2's asyncio transport owns it) has data."""
    remaining = deadline - time.time()
    if remaining <= 0 or not select.select([sock], [], [], remaining)[0]:
        raise NetlinkOpError('no answer from the kernel within %d s' % BATCH_TIMEOUT)


def _recv(sock, deadline):
    while True:
        try:
            return sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            _recv_ready(sock, deadline)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EINTR):
                _recv_ready(sock, deadline)
                continue
            if exc.errno == errno.ENOBUFS:
                raise NetlinkOpError('the kernel dropped answers (receive buffer full): the state of the batch is '
                                     'unknown', exc.errno)
            raise


def _error_of(marshal, data, code, what):
    """The named exception for an error ack, with the kernel's extended message when it sent one
    (decoded by pyroute2's marshal)."""
    text = None
    try:
        for msg in marshal.parse(data):
            err = msg['header'].get('error')
            args = getattr(err, 'args', ())
            if len(args) > 1 and args[1]:
                text = args[1]
    except Exception:  # the code alone is enough
        text = None
    exc = error_for(code, what)
    if text:
        exc.args = ('%s (%s)' % (exc.args[0], text),)
    return exc


class _BatchSocket(object):
    """Sends packed requests on the netlink socket of a pyroute2 IPRoute and collects the acks."""

    def __init__(self, ipr):
        core = ipr.asyncore
        self.sock = core.socket
        self.marshal = core.marshal
        self.seq = _SEQ_BASE
        # every ack of one send waits in the receive buffer until read: size the sends to fit
        # (an ack costs about 1 KiB of buffer, whatever its length)
        rcvbuf = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self.chunk = max(16, min(1024, rcvbuf // 2048))

    def next_seq(self):
        self.seq = self.seq + 1 if self.seq < 0xFFFFFFF0 else _SEQ_BASE
        return self.seq

    def send(self, messages):
        """Send [(seq, bytes)]; {seq: error code or 0} once every ack is in."""
        pending = dict((seq, None) for seq, _data in messages)
        self.sock.send(b''.join(data for _seq, data in messages))
        deadline = time.time() + BATCH_TIMEOUT
        codes, errors = {}, {}
        while pending:
            data = _recv(self.sock, deadline)
            offset = 0
            while offset + _NLMSGERR.size <= len(data):
                length, msg_type, _flags, seq, _pid, code = _NLMSGERR.unpack_from(data, offset)
                if length < _NLMSGHDR.size:
                    break
                if msg_type == NLMSG_ERROR and seq in pending:
                    del pending[seq]
                    codes[seq] = -code
                    if code:
                        errors[seq] = bytes(data[offset:offset + length])
                # anything else (a notification, another seq) is not ours: skip it
                offset += (length + 3) & ~3
        return codes, errors

    def dump_neighbours(self, family, ifindex=None):
        """The neighbour entries of ``family`` (AF_BRIDGE: the FDB), of link ``ifindex`` only when given, as
        parse_neigh() tuples."""
        seq = self.next_seq()
        body = _NDMSG.pack(family, 0, 0, 0, 0)
        self.sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
                       + body)
        deadline = time.time() + BATCH_TIMEOUT
        out = []
        while True:
            data = _recv(self.sock, deadline)
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                length, msg_type, _flags, mseq, _pid = _NLMSGHDR.unpack_from(data, offset)
                if length < _NLMSGHDR.size:
                    break
                if mseq == seq:
                    if msg_type == NLMSG_DONE:
                        return out
                    if msg_type == NLMSG_ERROR:
                        code = -_NLMSGERR.unpack_from(data, offset)[5]
                        if code:
                            raise error_for(code, 'dump neighbours')
                        return out
                    if msg_type == RTM_NEWNEIGH and (ifindex is None or _NDMSG.unpack_from(
                            data, offset + _NLMSGHDR.size)[1] == ifindex):
                        out.append(parse_neigh(data, offset, length))
                offset += (length + 3) & ~3


def _mac_text(raw):
    return ':'.join('%02x' % b for b in bytearray(raw))


def parse_neigh(data, offset, length):
    """(ifindex, state, flags, dst, lladdr, master, family) of the RTM_NEWNEIGH message at ``offset``."""
    family, ifindex, state, flags, _type = _NDMSG.unpack_from(data, offset + _NLMSGHDR.size)
    end = offset + length
    pos = offset + _NLMSGHDR.size + _NDMSG.size
    dst = lladdr = None
    master = 0
    unpack = _NLA.unpack_from
    while pos + 4 <= end:
        nla_len, nla_type = unpack(data, pos)
        if nla_len < 4:
            break
        nla_type &= 0x3FFF  # NLA_F_NESTED / NLA_F_NET_BYTEORDER
        if nla_type == NDA_DST:
            if nla_len == 8:
                dst = socket.inet_ntop(socket.AF_INET, data[pos + 4:pos + 8])
            else:  # the text ipaddress gives (the modules' canonical form)
                dst = str(ipaddress.IPv6Address(bytes(data[pos + 4:pos + nla_len])))
        elif nla_type == NDA_LLADDR:
            lladdr = _mac_text(data[pos + 4:pos + nla_len])
        elif nla_type == NDA_MASTER:
            master = struct.unpack_from('=I', data, pos + 4)[0]
        pos += (nla_len + 3) & ~3
    return ifindex, state, flags, dst, lladdr, master, family


def _batch_socket(nl):
    bs = getattr(nl, '_batch', None)
    if bs is None:
        bs = nl._batch = _BatchSocket(nl.ipr)
    return bs


def apply_batch(nl, ifname, requests):
    """Apply ``requests`` [(op, mac, ip)] (op in BATCH_OPS) to link ``ifname`` in ``nl``'s namespace.

    The link is resolved once; every request is sent (the kernel runs the rest after one fails).
    Returns one result per request, in order: None (done) or the NetlinkOpError it failed with.
    """
    if not requests:
        return []
    index = nl.index_of(ifname)
    bs = _batch_socket(nl)
    results = [None] * len(requests)
    with translated('send neighbour/FDB requests for %s in %s' % (ifname, nl.where)):
        for start in range(0, len(requests), bs.chunk):
            part = requests[start:start + bs.chunk]
            messages = []
            for op, mac, ip in part:
                seq = bs.next_seq()
                messages.append((seq, encode_neigh_request(op, index, mac, ip, seq)))
            codes, errors = bs.send(messages)
            for i, (seq, _data) in enumerate(messages):
                if codes.get(seq):
                    results[start + i] = _error_of(bs.marshal, errors[seq], codes[seq],
                                                   describe_request(part[i], ifname, nl.where))
    return results


def fdb_table(nl, index):
    """Static entries in a device's own FDB (like Netlink.fdb), read with one dump parsed by struct."""
    out = []
    with translated('list FDB entries in %s' % nl.where):
        entries = _batch_socket(nl).dump_neighbours(AF_BRIDGE, index)
    for ifindex, state, _flags, dst, lladdr, master, _family in entries:
        if ifindex != index or not state & NUD_PERMANENT or master or not dst or not lladdr:
            continue
        out.append({'mac': lladdr, 'dst': dst})
    return out


def neigh_table(nl, index):
    """Permanent IPv4/IPv6 neighbours on a link (like Netlink.neighbours), one dump parsed by struct."""
    out = []
    with translated('list neighbours in %s' % nl.where):
        # one dump per family: AF_UNSPEC would walk the bridge FDB as well
        entries = (_batch_socket(nl).dump_neighbours(socket.AF_INET, index)
                   + _batch_socket(nl).dump_neighbours(socket.AF_INET6, index))
    for ifindex, state, _flags, dst, lladdr, _master, _family in entries:
        if ifindex != index:
            continue
        if not state & NUD_PERMANENT or not lladdr or not dst:
            continue
        out.append({'ip': dst, 'mac': lladdr})
    return out


# =========================================================================== end of batches
