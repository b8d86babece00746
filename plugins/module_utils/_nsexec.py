# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to hostnet.fabric: not a public API, may change without notice.
#
# Running a program (ping, nft, iptables) inside another network namespace without `ip netns exec`
# or nsenter: the child enters the namespace with setns(2) between fork and exec (a preexec
# function), so this process never changes namespace. Python 3.11 (the managed hosts' Python)
# has no os.setns; libc's setns through ctypes is used then. Standard library only: modules that
# run no netlink code (vxlan_firewall, netns_ping) need no pyroute2.
#
# Only for running programs. Netlink configuration goes through _netlink.py, never through `ip`.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import ctypes.util
import fcntl
import os
import subprocess

from ansible_collections.hostnet.fabric.plugins.module_utils._netlink import NETNS_DIR, nsfs_state
from ansible_collections.hostnet.fabric.plugins.module_utils._validate import (
    ValidationError,
    _CONTROL_RE,
    netns_name,
)

CLONE_NEWNET = 0x40000000
NS_GET_NSTYPE = 0xb703  # ioctl on a namespace file (Linux 4.11+): the CLONE_NEW* type of the namespace

_LIBC = []


def _libc():
    if not _LIBC:
        _LIBC.append(ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True))
    return _LIBC[0]


def netns_path(param, value):
    """The namespace file for ``value``: a /run/netns name, or an absolute path (/proc/PID/ns/net,
    /var/run/docker/netns/KEY ...). Checks the text only; see check_netns() for the file."""
    if not isinstance(value, str) or value == '':
        raise ValidationError(param, 'must be a namespace name under %s or an absolute path' % NETNS_DIR, value)
    if value.startswith('/'):
        if _CONTROL_RE.search(value) or '/../' in value + '/':
            raise ValidationError(param, "a namespace path may not contain '..' or control characters", value)
        return os.path.normpath(value)
    return os.path.join(NETNS_DIR, netns_name(param, value))


def check_netns(param, path):
    """Refuse (ValidationError naming ``param``) a path that is not a live network namespace."""
    state = nsfs_state(path)
    if state == 'absent':
        raise ValidationError(param, 'no network namespace at %s' % path)
    if state == 'stale':
        raise ValidationError(param, '%s is a left-over file with no namespace mounted on it' % path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
    except OSError as exc:
        raise ValidationError(param, 'cannot open the namespace at %s: %s' % (path, exc.strerror))
    try:
        kind = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError as exc:
        raise ValidationError(param, '%s is not a namespace file (%s)' % (path, exc.strerror))
    finally:
        os.close(fd)
    if kind != CLONE_NEWNET:
        raise ValidationError(param, '%s is not a network namespace' % path)
    return path


def _setns(fd):
    if hasattr(os, 'setns'):  # Python 3.12+
        os.setns(fd, CLONE_NEWNET)
        return
    if _libc().setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def enter_preexec(path):
    """A preexec_fn that moves the child into the network namespace at ``path`` (None: stay)."""
    if path is None:
        return None
    _libc()  # load libc in the parent: the child only calls it

    def enter():
        fd = os.open(path, os.O_RDONLY)
        try:
            _setns(fd)
        finally:
            os.close(fd)
    return enter


def unshare_preexec():
    """A preexec_fn that gives the child a new, empty network namespace of its own (gone when it exits)."""
    libc = _libc()

    def unshare():
        if hasattr(os, 'unshare'):  # Python 3.12+
            os.unshare(CLONE_NEWNET)
        elif libc.unshare(CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
    return unshare


def popen(argv, netns=None, fresh_netns=False, **kwargs):
    """Start ``argv`` in the namespace at ``netns`` (a path; None: this one), or in a new empty one."""
    preexec = unshare_preexec() if fresh_netns else enter_preexec(netns)
    return subprocess.Popen(argv, preexec_fn=preexec, close_fds=True, **kwargs)


def run(argv, netns=None, fresh_netns=False, stdin=None, timeout=60):
    """Run ``argv`` to completion: (rc, stdout, stderr) as text."""
    proc = popen(argv, netns=netns, fresh_netns=fresh_netns, stdin=subprocess.PIPE if stdin is not None else None,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return 124, out, (err or '') + '\n%s: timed out after %ss' % (argv[0], timeout)
    return proc.returncode, out, err
