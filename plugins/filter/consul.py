# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Documentation: consul_config.yml and consul_cluster_check.yml next to this file (one per filter).

import base64
import binascii
import copy
import ipaddress
import re
import uuid

from ansible.errors import AnsibleFilterError
from ansible_collections.hostnet.fabric.plugins.filter.network import private_address

_DATACENTER = re.compile(r'^[A-Za-z0-9_-]+$')
_NODE_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$')
_LOG_LEVELS = ('trace', 'debug', 'info', 'warn', 'error')
_ACL_POLICIES = ('allow', 'deny')
_TOKEN_TYPES = ('initial_management', 'agent', 'default')
# the oldest Consul series the role renders for, and where the configuration changed
# (Consul's changelog): `ui_config` replaced `ui` in 1.9.0; `acl.tokens.initial_management`
# replaced `acl.tokens.master` in 1.11.0; `ports.grpc_tls` exists from 1.14.0
OLDEST = (1, 8)
_UI_CONFIG = (1, 9)
_INITIAL_MANAGEMENT = (1, 11)
_GRPC_TLS = (1, 14)
_VERSION = re.compile(r'^(?:Consul )?v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?$')
# keys the role manages itself; `extra` may add to a configuration, never replace these
_MANAGED = ('datacenter', 'node_name', 'data_dir', 'server', 'bootstrap_expect', 'bind_addr', 'advertise_addr',
            'client_addr', 'retry_join', 'encrypt', 'ports', 'ui', 'ui_config', 'acl',
            # these would get around the address and cluster checks
            'addresses', 'bootstrap', 'primary_datacenter', 'advertise_addr_wan', 'serf_lan', 'serf_wan')
_SECRET_KEYS = ('encrypt', 'acl', 'tokens')


class ConsulConfigError(AnsibleFilterError):
    pass


def _fail(setting, rule, value=None):
    shown = '' if value is None else ' (got %r)' % (value,)
    raise ConsulConfigError('consul_%s: %s%s' % (setting, rule, shown))


def _address(setting, value, allow_public, unspecified_ok=False):
    try:
        addr = ipaddress.ip_address(str(value).strip())
    except ValueError:
        _fail(setting, 'must be an IP address', value)
    if addr.is_unspecified and not unspecified_ok:
        _fail(setting, 'must be one address of this host, not the unspecified address', value)
    if addr.is_unspecified and not allow_public:
        _fail(setting, 'listening on every address (%s) needs consul_allow_public=true' % addr, value)
    if not addr.is_unspecified and not private_address(str(addr)) and not allow_public:
        _fail(setting, 'is a public address; set consul_allow_public=true to use one', value)
    return str(addr)


def _port(setting, value, disable_ok):
    try:
        port = int(value)
    except (TypeError, ValueError):
        _fail(setting, 'must be a port number', value)
    if disable_ok and port == -1:
        return port
    if not 1 <= port <= 65535:
        _fail(setting, 'must be 1-65535%s' % (' or -1 (off)' if disable_ok else ''), value)
    return port


def gossip_key_ok(key):
    """Whether key is a Consul gossip encryption key: base64 of 16, 24 or 32 bytes."""
    try:
        raw = base64.b64decode(str(key).strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) in (16, 24, 32)


def _uuid(setting, value):
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        _fail(setting, 'must be a UUID (Consul token secret IDs are UUIDs)', '<hidden>')


def _merge(base, extra, path=''):
    for key, value in extra.items():
        where = path + key
        if not path and key in _MANAGED:
            _fail('config_extra', 'may not set %r: the role manages it through its own variable' % where)
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, where + '.')
        else:
            base[key] = copy.deepcopy(value)
    return base


def parse_version(text):
    """The release version in `consul version`'s output (its first line, "Consul v1.8.7"), or in a
    version string ("1.20.1"); an error when there is none."""
    first = str(text or '').strip().splitlines()
    match = _VERSION.match(first[0].strip()) if first else None
    if not match:
        _fail('version', 'must be a Consul release version such as 1.20.1 (or `consul version` output)',
              first[0] if first else '')
    return '%s.%s.%s' % match.groups()


def version_tuple(text):
    """(major, minor, patch) of parse_version(text); refuses a release older than OLDEST."""
    version = parse_version(text)
    parts = tuple(int(p) for p in version.split('.'))
    if parts[:2] < OLDEST:
        _fail('version', 'Consul %s is older than %d.%d, the oldest series this role supports: install %d.%d or newer'
              % ((version,) + OLDEST + OLDEST))
    return parts


def consul_config(settings):
    s = dict(settings or {})
    allow_public = bool(s.get('allow_public', False))
    version = version_tuple(s.get('version'))

    datacenter = str(s.get('datacenter') or '')
    if not _DATACENTER.match(datacenter):
        _fail('datacenter', 'must be letters, digits, "_" and "-" only', datacenter)
    node_name = str(s.get('node_name') or '')
    if not _NODE_NAME.match(node_name):
        _fail('node_name', 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit',
              node_name)
    data_dir = str(s.get('data_dir') or '')
    if not data_dir.startswith('/'):
        _fail('data_dir', 'must be an absolute path', data_dir)
    log_level = str(s.get('log_level') or 'info').lower()
    if log_level not in _LOG_LEVELS:
        _fail('log_level', 'must be one of %s' % ', '.join(_LOG_LEVELS), log_level)

    bind = _address('bind_address', s.get('bind_address'), allow_public)
    advertise = _address('advertise_address', s.get('advertise_address') or bind, allow_public)
    clients = str(s.get('client_address') or '').split()
    if not clients:
        _fail('client_address', 'must name at least one address for the HTTP and DNS interfaces')
    clients = [_address('client_address', c, allow_public, unspecified_ok=True) for c in clients]

    server = bool(s.get('server'))
    retry_join = [str(a) for a in (s.get('retry_join') or [])]
    config = {
        'datacenter': datacenter,
        'node_name': node_name,
        'data_dir': data_dir,
        'log_level': log_level.upper(),
        'server': server,
        'bind_addr': bind,
        'advertise_addr': advertise,
        'client_addr': ' '.join(clients),
        'ports': {'http': _port('http_port', s.get('http_port', 8500), False),
                  'dns': _port('dns_port', s.get('dns_port', 8600), True),
                  # gRPC is for service mesh (Envoy), which this collection does not use
                  'grpc': -1},
        'retry_join': [a for a in retry_join if a != advertise],
        # no calls home from air-gapped sites
        'disable_update_check': True,
        # a client leaves the cluster when stopped; a server stays a member (quorum)
        'leave_on_terminate': not server,
        'skip_leave_on_interrupt': server,
    }
    if version >= _GRPC_TLS:
        config['ports']['grpc_tls'] = -1
    if version >= _UI_CONFIG:
        config['ui_config'] = {'enabled': bool(s.get('ui'))}
    else:
        config['ui'] = bool(s.get('ui'))
    if server:
        try:
            expect = int(s.get('bootstrap_expect'))
        except (TypeError, ValueError):
            expect = 0
        if expect < 1:
            _fail('bootstrap_expect', 'must be at least 1 on a server', s.get('bootstrap_expect'))
        config['bootstrap_expect'] = expect
        if expect > 1 and not config['retry_join']:
            _fail('bootstrap_expect', 'is %d, but no other server is given to join (retry_join lists none)' % expect)
    elif not config['retry_join']:
        _fail('retry_join', 'a client agent needs at least one server address to join (is the server group empty?)')

    secrets = {}
    key = s.get('encrypt_key')
    if key:
        if not gossip_key_ok(key):
            _fail('encrypt_key', 'must be the base64 of a 16, 24 or 32 byte key (as `consul keygen` prints)',
                  '<hidden>')
        # the verify switches go with the key: a configuration that asks for them without a key is invalid
        secrets.update({'encrypt': str(key).strip(), 'encrypt_verify_incoming': True,
                        'encrypt_verify_outgoing': True})

    acl = dict(s.get('acl') or {})
    if acl.get('enabled'):
        policy = str(acl.get('default_policy') or 'deny')
        if policy not in _ACL_POLICIES:
            _fail('acl_default_policy', 'must be allow or deny', policy)
        config['acl'] = {'enabled': True, 'default_policy': policy, 'down_policy': 'extend-cache',
                         'enable_token_persistence': True}
        tokens = {}
        for kind, value in (acl.get('tokens') or {}).items():
            if kind not in _TOKEN_TYPES:
                _fail('acl_tokens', 'unknown token type %r (one of %s)' % (kind, ', '.join(_TOKEN_TYPES)))
            if value:
                tokens[kind] = _uuid('acl_%s_token' % kind, value)
        if server and 'initial_management' not in tokens:
            _fail('acl', 'a server with ACLs on needs the initial management token')
        if 'agent' not in tokens:
            _fail('acl', 'an agent with ACLs on needs its agent token (or it cannot register itself)')
        if version < _INITIAL_MANAGEMENT and 'initial_management' in tokens:
            # the same token under its name before 1.11
            tokens['master'] = tokens.pop('initial_management')
        secrets['acl'] = {'tokens': tokens}

    extra = s.get('extra') or {}
    if not isinstance(extra, dict):
        _fail('config_extra', 'must be a dictionary', extra)
    for key in extra:
        if key in _SECRET_KEYS or 'token' in key or key.startswith('encrypt'):
            _fail('config_extra', 'may not carry secrets (%r): they belong in secrets.json' % key)
    _merge(config, extra)
    return {'config': config, 'secrets': secrets, 'version': '%d.%d.%d' % version}


def consul_cluster_check(rendered, expect=None):
    """Checks across every agent of one datacenter.

    rendered: the agents' results of consul_config ({config, secrets});
    expect: the bootstrap_expect asked for (None or 0: the server count).
    Returns {'errors': [...], 'warnings': [...]}.
    """
    errors, warnings = [], []
    rendered = [r or {} for r in rendered or []]
    configs = [dict(r.get('config') or {}, _encrypt=bool((r.get('secrets') or {}).get('encrypt'))) for r in rendered]
    names = [c.get('node_name') for c in configs]
    twice = sorted(set(n for n in names if names.count(n) > 1))
    if twice:
        errors.append('node names used by more than one agent: %s (Consul refuses the second)' % ', '.join(twice))
    servers = [c.get('node_name') for c in configs if c.get('server')]
    if not servers:
        errors.append('no Consul server among the agents (put at least one host in the server group)')
    else:
        count = len(servers)
        if expect and int(expect) != count:
            errors.append('consul_bootstrap_expect is %s but there are %d servers (%s): the cluster would %s'
                          % (expect, count, ', '.join(servers),
                             'never elect a leader' if int(expect) > count else 'elect a leader before all join'))
        if count % 2 == 0:
            warnings.append('%d Consul servers: an even count tolerates no more failures than %d servers '
                            'would (quorum is %d); use an odd number' % (count, count - 1, count // 2 + 1))
    checks = (('datacenter', lambda c: c.get('datacenter')),
              ('gossip encryption', lambda c: c['_encrypt']),
              ('ACLs', lambda c: bool((c.get('acl') or {}).get('enabled'))))
    for what, get in checks:
        values = sorted(set(str(get(c)) for c in configs))
        if len(values) > 1:
            errors.append('agents disagree on %s (%s): every agent of a datacenter needs the same setting'
                          % (what, ', '.join(values)))
    return {'errors': errors, 'warnings': warnings}


class FilterModule(object):
    def filters(self):
        return {'consul_config': consul_config, 'consul_cluster_check': consul_cluster_check,
                'consul_version': parse_version}
