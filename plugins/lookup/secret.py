# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: secret
short_description: A secret kept in a file on the controller, generated the first time it is asked for
version_added: 0.1.0
description:
  - Returns the secret stored in a file on the controller. When the file does not exist, a new secret is
    generated, written to it (mode 0600, created exclusively so that two runs never write two different
    secrets) and returned. Every later run returns the same secret.
  - A file that others may read (any group or other permission bit) or whose content is not a secret of
    the asked kind is refused, so that a damaged or exposed secret is never used quietly.
  - Use it with C(no_log=true) on every task that handles the value.
options:
  _terms:
    description: Paths of the secret files (on the controller). Missing parent directories are made with mode 0700.
    required: true
    type: list
    elements: path
  kind:
    description:
      - What to generate.
      - V(gossip) is a Consul gossip encryption key (the base64 of 32 random bytes, as C(consul keygen) prints).
      - V(uuid) is a random UUID (Consul ACL token secret and accessor IDs).
    type: str
    choices: [gossip, uuid]
    default: gossip
  create:
    description:
      - Generate and store the secret when the file does not exist.
      - With V(false), a missing file returns an empty string and nothing is written (for check mode).
    type: bool
    default: true
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: The datacenter's gossip key (made on the first run, the same on every later run)
  ansible.builtin.set_fact:
    consul_gossip_key: "{{ lookup('hostnet.fabric.secret', inventory_dir ~ '/.secrets/consul-gossip.key', kind='gossip') }}"
  no_log: true
'''

RETURN = r'''
_raw:
  description: One secret per path.
  type: list
  elements: str
'''

import base64
import errno
import os
import stat
import tempfile
import uuid

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase


def _gossip():
    return base64.b64encode(os.urandom(32)).decode('ascii')


def _gossip_ok(value):
    try:
        return len(base64.b64decode(value, validate=True)) in (16, 24, 32)
    except ValueError:
        return False


def _uuid_ok(value):
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


KINDS = {
    'gossip': (_gossip, _gossip_ok, 'the base64 of a 16, 24 or 32 byte key'),
    'uuid': (lambda: str(uuid.uuid4()), _uuid_ok, 'a UUID'),
}


def read_or_create(path, kind='gossip', create=True):
    """The secret in path; a new one is generated and stored (0600) if the file does not exist."""
    generate, valid, what = KINDS[kind]
    path = os.path.abspath(os.path.expanduser(path))
    try:
        # lstat: a dangling symlink is "there" (and refused below), never a missing file
        st = os.lstat(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise AnsibleLookupError('secret %s: cannot read it: %s' % (path, exc))
        st = None
    if st is None:
        if not create:
            return ''
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        value = generate()
        # written in full under a temporary name, then linked into place: the link fails if another
        # run was first, and nobody ever reads a half-written secret
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.secret-')
        try:
            with os.fdopen(fd, 'w') as handle:
                handle.write(value + '\n')
            os.link(tmp, path)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise AnsibleLookupError('secret %s: cannot create it: %s' % (path, exc))
            # another run made it first: use that one
            value = read_or_create(path, kind, create=False)
            if not value:
                raise AnsibleLookupError('secret %s: it appeared while this run made it, but cannot be read' % path)
            return value
        finally:
            os.unlink(tmp)
        return value
    if not stat.S_ISREG(st.st_mode):
        raise AnsibleLookupError('secret %s: not a regular file (a symlink or something else is refused)' % path)
    if st.st_mode & 0o077:
        raise AnsibleLookupError('secret %s: mode %04o lets others read it; it must be 0600 (chmod 600 %s)'
                                 % (path, stat.S_IMODE(st.st_mode), path))
    with open(path) as handle:
        value = handle.read().strip()
    if not valid(value):
        raise AnsibleLookupError('secret %s: its content is not %s (kind=%s); fix or remove the file'
                                 % (path, what, kind))
    return value


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        kind = self.get_option('kind')
        create = self.get_option('create')
        return [read_or_create(term, kind, create) for term in terms]
