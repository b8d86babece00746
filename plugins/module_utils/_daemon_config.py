# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to hostnet.fabric: not a public API, may change without notice.
#
# Docker daemon configuration logic, pure Python (no Ansible, no Docker SDK): how daemon.json
# keys map to dockerd flags, how systemd composes docker.service's ExecStart from the unit and
# its drop-ins, what conflicts, which engine versions know which options, and which keys the
# engine reloads on SIGHUP. The docker_daemon_opts module does the I/O around it.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import re
import shlex

# daemon.json keys whose flag is not simply --KEY (plural keys have singular, repeatable flags)
KEY_FLAGS = {
    'hosts': ('--host', '-H'),
    'labels': ('--label',),
    'dns-opts': ('--dns-opt',),
    'exec-opts': ('--exec-opt',),
    'storage-opts': ('--storage-opt',),
    'log-opts': ('--log-opt',),
    'insecure-registries': ('--insecure-registry',),
    'registry-mirrors': ('--registry-mirror',),
    'authorization-plugins': ('--authorization-plugin',),
    'default-ulimits': ('--default-ulimit',),
    'runtimes': ('--add-runtime',),
    'node-generic-resources': ('--node-generic-resource',),
    'cluster-store-opts': ('--cluster-store-opt',),
    'default-address-pools': ('--default-address-pool',),
    'allow-nondistributable-artifacts': ('--allow-nondistributable-artifacts',),
    'debug': ('--debug', '-D'),
    'group': ('--group', '-G'),
    'log-level': ('--log-level', '-l'),
    'pidfile': ('--pidfile', '-p'),
    'storage-driver': ('--storage-driver', '-s'),
    'bridge': ('--bridge', '-b'),
}
_KEY_BY_FLAG = dict((flag, key) for key, flags in KEY_FLAGS.items() for flag in flags)

CLUSTER_KEYS = ('cluster-store', 'cluster-advertise', 'cluster-store-opts')

# Keys dockerd applies on SIGHUP without a restart (Docker docs, "Configuration reload behavior").
# The docs list cluster-store, cluster-advertise and cluster-store-opts too, but a reload does not
# move libnetwork's existing networks and its discovery to the new store (moby/moby#24827): a
# change of those keys needs a restart, so they are deliberately not here.
RELOADABLE = frozenset((
    'debug', 'labels', 'live-restore', 'max-concurrent-downloads', 'max-concurrent-uploads',
    'max-download-attempts', 'default-runtime', 'runtimes', 'authorization-plugins', 'insecure-registries',
    'registry-mirrors', 'allow-nondistributable-artifacts', 'shutdown-timeout', 'features', 'builder',
))

DROPIN_MARKER = '# hostnet.fabric options: '
CLUSTER_STORE_SCHEMES = ('consul', 'etcd', 'zk')


class ConfigError(ValueError):
    """A refusal: ``str()`` says what and where, nothing has been written."""


# --------------------------------------------------------------------------- keys and flags
def flags_for_key(key):
    return KEY_FLAGS.get(key, ('--' + key,))


def key_for_flag(flag):
    return _KEY_BY_FLAG.get(flag, flag[2:] if flag.startswith('--') else flag)


def _flag_value(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def options_to_args(options):
    """daemon.json-style options as dockerd arguments, in key order (lists repeat the flag)."""
    args = []
    for key in sorted(options):
        value = options[key]
        flag = flags_for_key(key)[0]
        if isinstance(value, bool):
            args.append(flag if value else '%s=false' % flag)
        elif isinstance(value, list):
            args.extend('%s=%s' % (flag, _flag_value(v)) for v in value)
        elif isinstance(value, dict):
            args.extend('%s=%s=%s' % (flag, k, _flag_value(value[k])) for k in sorted(value))
        else:
            args.append('%s=%s' % (flag, _flag_value(value)))
    return args


def args_to_flags(args):
    """Flag names in a dockerd argument list ('--host=fd://', '-H', 'x', '-Dl' is not expanded)."""
    flags = []
    for arg in args:
        if arg.startswith('-') and arg not in ('-', '--'):
            flags.append(arg.split('=', 1)[0])
    return flags


# --------------------------------------------------------------------------- systemd units
def parse_env_file(text):
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith('#') or '=' not in line:
            continue
        if line.startswith('export '):
            line = line[len('export '):]
        name, value = line.split('=', 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
            value = value[1:-1]
        env[name.strip()] = value
    return env


def unit_directives(text, section='Service'):
    """(name, value) pairs of one section of a unit file, in order (continuation lines joined)."""
    out, current, pending = [], None, ''
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ''
        if line.endswith('\\'):
            pending = line[:-1].rstrip() + ' '
            continue
        if not line or line[0] in '#;':
            continue
        if line.startswith('[') and line.endswith(']'):
            current = line[1:-1]
            continue
        if current == section and '=' in line:
            name, value = line.split('=', 1)
            out.append((name.strip(), value.strip()))
    return out


def effective_exec_start(unit_files):
    """The ExecStart systemd would run, given [(path, text)] in systemd's order (unit, then drop-ins).

    Returns (path_that_set_it, command_line) or (None, None). An empty ``ExecStart=`` resets.
    """
    source, command = None, None
    for path, text in unit_files:
        for name, value in unit_directives(text):
            if name != 'ExecStart':
                continue
            if value == '':
                source, command = None, None
            else:
                source, command = path, value
    return source, command


def environment_of(unit_files, read_file):
    """Variables the unit sets (Environment= and EnvironmentFile=), for $VAR expansion."""
    env = {}
    for _path, text in unit_files:
        for name, value in unit_directives(text):
            if name == 'Environment':
                for item in shlex.split(value):
                    if '=' in item:
                        k, v = item.split('=', 1)
                        env[k] = v
            elif name == 'EnvironmentFile':
                content = read_file(value.lstrip('-'))
                if content is not None:
                    env.update(parse_env_file(content))
    return env


def command_words(command):
    """An ExecStart command line split into words (systemd's prefixes like '-' or '@' dropped)."""
    return shlex.split(command.lstrip('@-+!:'))


def variable_name(word):
    """'VAR' for a word that is exactly $VAR or ${VAR} (systemd splits those on whitespace)."""
    m = re.match(r'^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$', word)
    return m.group(1) if m else None


def expand_command(command, env):
    """Split an ExecStart command line; $VAR / ${VAR} words are expanded and split as systemd does."""
    words = []
    for word in command_words(command):
        name = variable_name(word)
        if name:
            words.extend(shlex.split(env.get(name, '')))
        else:
            words.append(word)
    return words


def dropin_text(base_command, options):
    """A drop-in that resets ExecStart and sets it to the vendor command plus our flags."""
    args = options_to_args(options)
    line = base_command + (' ' + ' '.join(shlex.quote(a) for a in args) if args else '')
    return ('# Managed by hostnet.fabric.docker_daemon_opts; changes here are overwritten.\n'
            '%s%s\n'
            '[Service]\n'
            'ExecStart=\n'
            'ExecStart=%s\n' % (DROPIN_MARKER, json.dumps(options, sort_keys=True), line))


def dropin_options(text):
    """The options a drop-in of ours carries, or None when the text is not one of ours."""
    for line in (text or '').splitlines():
        if line.startswith(DROPIN_MARKER):
            try:
                value = json.loads(line[len(DROPIN_MARKER):])
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


# --------------------------------------------------------------------------- checks
def parse_version(text):
    """'Docker version 20.10.24+dfsg1, build 5d6db84' or '26.1.5' -> (20, 10, 24)."""
    m = re.search(r'(\d+)\.(\d+)(?:\.(\d+))?', text or '')
    if not m:
        raise ConfigError('engine_version: cannot read a version from %r' % (text,))
    return tuple(int(x) if x else 0 for x in m.groups())


def version_text(version):
    return '.'.join(str(x) for x in version)


def check_cluster_options(options, version, interfaces):
    """Refuse cluster-store options the engine or host cannot take. Returns warnings."""
    used = [k for k in CLUSTER_KEYS if k in options]
    if not used:
        return []
    if version is not None and version >= (23, 0):
        raise ConfigError(
            '%s: removed in Docker Engine 23.0 and this engine is %s; dockerd would refuse to start. '
            'Multi-host overlay networks on Engine 23.0+ need swarm mode (docker swarm init / join, '
            'then docker network create -d overlay --attachable); see the hostnet.fabric.docker_overlay '
            'role with docker_overlay_mode: swarm' % (', '.join(used), version_text(version)))
    if 'cluster-store' in options:
        store = options['cluster-store']
        m = re.match(r'^(%s)://([^/]+)(/.*)?$' % '|'.join(CLUSTER_STORE_SCHEMES), str(store))
        if not m:
            raise ConfigError("cluster_store: must be a URL like consul://10.0.0.5:8500 or etcd://10.0.0.5:2379 "
                              "(schemes: %s) (got %r)" % (', '.join(CLUSTER_STORE_SCHEMES), store))
    if 'cluster-advertise' in options:
        adv = str(options['cluster-advertise'])
        host, sep, port = adv.rpartition(':')
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError("cluster_advertise: must be INTERFACE:PORT or IP:PORT, like eth0:2376 (got %r)" % adv)
        try:
            ipaddress.ip_address(host.strip('[]'))
        except ValueError:
            if interfaces is not None and host not in interfaces:
                raise ConfigError("cluster_advertise: interface '%s' does not exist on this host "
                                  "(dockerd would exit at start); interfaces here: %s"
                                  % (host, ', '.join(sorted(interfaces))))
    return ['cluster-store, cluster-advertise and cluster-store-opts are deprecated in Docker Engine 20.10 '
            'and removed in 23.0; plan the move to swarm-mode overlays']


def check_tcp_hosts(hosts, tlsverify, allow_insecure):
    """A tcp:// API socket without TLS verification gives root to anyone who can reach it."""
    insecure = [h for h in hosts or [] if str(h).startswith('tcp://')]
    if insecure and not tlsverify and not allow_insecure:
        raise ConfigError('hosts: %s would open the Docker API on TCP without TLS verification (root access for '
                          'anyone who reaches the port); set tlsverify with tlscacert/tlscert/tlskey, or '
                          'allow_insecure_tcp: true if you really mean it' % ', '.join(insecure))


def conflicts(keys, flag_sources):
    """Keys configured both in daemon.json and as flags: [(key, flag, where)]."""
    out = []
    for where, flags in flag_sources:
        for flag in flags:
            key = key_for_flag(flag)
            if key in keys:
                out.append((key, flag, where))
    return out


def changed_keys(before, after):
    keys = set(before) | set(after)
    return sorted(k for k in keys if before.get(k) != after.get(k))


# --------------------------------------------------------------------------- the decision
# decide() computes everything up to (not including) the write, for either target. The I/O it
# needs comes from a ``host`` object (the module's real one, or a fake in the unit tests):
#   host.read_text(path)        -> text or None
#   host.unit_files(dirs)       -> [(path, text)] of docker.service and its drop-ins, systemd's order
#   host.engine_version()       -> (major, minor, patch) or None
#   host.interfaces()           -> set of interface names or None
#   host.swarm_active()         -> True / False / None (unknown)
#   host.validate(config, version) -> True when dockerd --validate accepted it, False when it
#                                  cannot run; raises ConfigError when it rejects the config
# What differs between daemon.json and the systemd drop-in lives in one class per target.

DEDICATED = (('cluster_store', 'cluster-store'), ('cluster_advertise', 'cluster-advertise'),
             ('cluster_store_opts', 'cluster-store-opts'))


def wanted_options(p):
    """``options`` plus the dedicated cluster parameters, refusing contradictions."""
    options = dict(p['options'] or {})
    for param, key in DEDICATED:
        if p.get(param) is None:
            continue
        if key in options and options[key] != p[param] and p['state'] == 'present':
            raise ConfigError('%s: contradicts options[%r] (%r vs %r)' % (param, key, p[param], options[key]))
        options[key] = p[param]
    return options


def merged(before, want, state):
    """The options after the run: ``want`` merged in (present) or its keys removed (absent)."""
    after = dict(before)
    if state == 'present':
        after.update(want)
    else:
        for key in want:
            after.pop(key, None)
    return after


def parse_daemon_json(path, raw):
    """The JSON object in daemon.json (``raw`` None or blank: none); bad JSON is refused, never repaired."""
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ConfigError('%s is not valid JSON (%s); it was left as it is - fix or remove it first' % (path, exc))
    if not isinstance(value, dict):
        raise ConfigError('%s does not hold a JSON object; it was left as it is' % path)
    return value


def pretty(config):
    return json.dumps(config, indent=2) + '\n'


def flag_sources(units, env):
    """([(where, [flags])], command) of the effective ExecStart; $VAR expansions are named as such."""
    source, command = effective_exec_start(units)
    if command is None:
        return [], None
    direct, expanded = [], {}
    for word in command_words(command):
        name = variable_name(word)
        if name:
            expanded[name] = args_to_flags(expand_command(word, env))
        else:
            direct.append(word)
    out = [('ExecStart in %s' % source, args_to_flags(direct))]
    out += [('$%s used by ExecStart in %s' % (name, source), flags) for name, flags in expanded.items()]
    return out, command


def key_actions(before, after, keys, where):
    """One readable action per changed key."""
    out = []
    for key in keys:
        if key not in after:
            out.append('remove %s from %s' % (key, where))
        elif key not in before:
            out.append('set %s to %s in %s' % (key, json.dumps(after[key], sort_keys=True), where))
        else:
            out.append('change %s from %s to %s in %s'
                       % (key, json.dumps(before[key], sort_keys=True), json.dumps(after[key], sort_keys=True), where))
    return out


class _Target(object):
    """Where the options go. ``current_json`` is daemon.json as it is (it counts for both targets:
    a key must not be both there and a dockerd flag)."""

    name = None

    def __init__(self, p, host, units, env, current_json, raw_json):
        self.p = p
        self.host = host
        self.units = units
        self.env = env
        self.current_json = current_json
        self.raw_json = raw_json

    def current(self):
        """The options this target holds now."""
        raise NotImplementedError

    def flags_and_keys(self, after):
        """(flag sources, daemon.json keys) of the engine configuration after the run."""
        raise NotImplementedError

    def effective(self, after):
        """The engine's whole configuration after the run (daemon.json and our flags)."""
        raise NotImplementedError

    def validate(self, after, keys, version):
        return False

    def texts(self, before, after):
        """(file text before, after): what diff mode shows and what is written."""
        raise NotImplementedError

    def changed(self, keys, text_before, text_after):
        return bool(keys)

    def actions(self, before, after, keys, text_before, text_after):
        raise NotImplementedError

    def results(self, changed, keys):
        """daemon_reload_required and reload_sufficient."""
        raise NotImplementedError


class DaemonJson(_Target):
    """Options merged into daemon.json; the unit's flags must not name the same keys."""

    name = 'daemon_json'

    @property
    def file(self):
        return self.p['path']

    def current(self):
        return self.current_json

    def flags_and_keys(self, after):
        sources, _command = flag_sources(self.units, self.env)
        return sources, set(after)

    def effective(self, after):
        return after

    def validate(self, after, keys, version):
        if keys and self.p['validate']:
            return self.host.validate(after, version)
        return False

    def texts(self, before, after):
        return (pretty(before) if self.raw_json is not None else ''), pretty(after)

    def actions(self, before, after, keys, text_before, text_after):
        return key_actions(before, after, keys, self.file)

    def results(self, changed, keys):
        return {'daemon_reload_required': False,
                'reload_sufficient': changed and all(k in RELOADABLE for k in keys)}


class SystemdDropin(_Target):
    """Options as dockerd flags in a drop-in of ours that resets ExecStart to the vendor command
    plus the flags; daemon.json must not hold the same keys."""

    name = 'systemd_dropin'

    def __init__(self, *args):
        super(SystemdDropin, self).__init__(*args)
        self.text = self.host.read_text(self.file)
        # the unit as it would be without our drop-in: its ExecStart is the base of ours
        others = [(f, t) for f, t in self.units if f != self.file]
        self.sources, self.base = flag_sources(others, self.env)

    @property
    def file(self):
        return self.p['dropin_path']

    def current(self):
        return dropin_options(self.text) or {}

    def flags_and_keys(self, after):
        if self.base is None and after:
            raise ConfigError('target: no ExecStart found for docker.service in %s; is Docker installed?'
                              % ', '.join(self.p['systemd_unit_dirs']))
        return self.sources + [(self.file, args_to_flags(options_to_args(after)))], set(self.current_json)

    def effective(self, after):
        effective = dict(self.current_json)
        effective.update(after)
        return effective

    def texts(self, before, after):
        return self.text or '', dropin_text(self.base, after) if after else ''

    def changed(self, keys, text_before, text_after):
        # the vendor command may have changed under an unchanged set of options
        return bool(keys) or text_before != text_after

    def actions(self, before, after, keys, text_before, text_after):
        where = '%s (as dockerd flags)' % self.file
        out = key_actions(before, after, keys, where)
        if text_before != text_after:
            if not text_after:
                out.append('remove %s (no options left)' % self.file)
            elif not keys:
                out.append('rewrite ExecStart in %s on the vendor command %s' % (self.file, self.base))
        return out

    def results(self, changed, keys):
        return {'daemon_reload_required': changed, 'reload_sufficient': False}


TARGETS = dict((cls.name, cls) for cls in (DaemonJson, SystemdDropin))


def decide(p, host):
    """Everything up to (not including) the write; raises ConfigError on any refusal.

    Returns a dict: version, before, after, keys, warnings, validated, text_before, text_after,
    file, changed, actions, daemon_reload_required, reload_sufficient, restart_required.
    """
    want = wanted_options(p)
    version = host.engine_version()
    raw = host.read_text(p['path'])
    current_json = parse_daemon_json(p['path'], raw)
    units = host.unit_files(p['systemd_unit_dirs'])
    env = environment_of(units, host.read_text)
    target = TARGETS[p['target']](p, host, units, env, current_json, raw)

    before = target.current()
    after = merged(before, want, p['state'])

    warnings = []
    if p['state'] == 'present':
        warnings = check_cluster_options(want, version, host.interfaces())
        if any(k in want for k in CLUSTER_KEYS) and host.swarm_active():
            raise ConfigError('cluster_store: this engine is an active swarm member; a cluster store is '
                              'incompatible with swarm mode (docker swarm leave first, or use swarm-mode overlays)')

    # the resulting engine configuration: daemon.json keys and flags, which must not overlap
    sources, json_keys = target.flags_and_keys(after)
    clashes = conflicts(json_keys, sources)
    if clashes:
        raise ConfigError('; '.join("%s: set in %s and as %s in %s - dockerd refuses to start when an option is "
                                    "given both as a flag and in the configuration file" % (k, p['path'], f, w)
                                    for k, f, w in clashes))
    effective = target.effective(after)
    flags_all = [f for _w, flags in sources for f in flags]
    check_tcp_hosts(effective.get('hosts'), effective.get('tlsverify') or '--tlsverify' in flags_all,
                    p['allow_insecure_tcp'])

    keys = changed_keys(before, after)
    validated = target.validate(after, keys, version)
    text_before, text_after = target.texts(before, after)
    changed = target.changed(keys, text_before, text_after)
    decision = {
        'version': version, 'before': before, 'after': after, 'keys': keys, 'warnings': warnings,
        'validated': validated, 'text_before': text_before, 'text_after': text_after, 'file': target.file,
        'changed': changed, 'actions': target.actions(before, after, keys, text_before, text_after) if changed else [],
    }
    decision.update(target.results(changed, keys))
    decision['restart_required'] = changed and not decision['reload_sufficient']
    return decision
