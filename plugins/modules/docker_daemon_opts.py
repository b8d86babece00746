#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: docker_daemon_opts
short_description: Set Docker daemon options safely, in daemon.json or a systemd drop-in
version_added: 0.1.0
description:
  - Merges options into C(/etc/docker/daemon.json) (O(target=daemon_json)) or writes them as dockerd flags in a
    systemd drop-in that resets and sets C(ExecStart) (O(target=systemd_dropin)); the vendor unit is never edited.
  - Refuses, with nothing written, what would leave an engine that does not start - an existing daemon.json that is
    not valid JSON (it is never "repaired"); an option set both in daemon.json and as a flag in the unit's
    C(ExecStart), a drop-in or the C(EnvironmentFile) it expands (both places are named); cluster-store options on
    Engine 23.0+ (removed there) or on an active swarm member; O(cluster_advertise) naming an interface the host
    does not have; a C(tcp://) entry in C(hosts) without TLS verification; and on Engine 23.0+ anything
    C(dockerd --validate) rejects.
  - Writes atomically (temporary file and rename) and keeps the file's mode and ownership.
  - Never restarts or reloads Docker; RV(restart_required) and RV(reload_sufficient) say what the change needs.
    The P(hostnet.fabric.docker_daemon#role) role applies changes with rollback.
options:
  options:
    description:
      - daemon.json keys and values, for example C(live-restore) set to V(true) or C(labels) set to a list.
      - With O(state=present) they are merged into the existing configuration; with O(state=absent) the keys named
        are removed (their values are ignored).
    type: dict
    default: {}
  cluster_store:
    description:
      - The key/value store for multi-host overlay networks on Docker Engine up to 20.10
        (V(consul://10.0.0.5:8500), V(etcd://10.0.0.5:2379)). Sets C(cluster-store).
      - Refused on Engine 23.0 and later, where the option is gone (use swarm mode).
    type: str
  cluster_advertise:
    description:
      - The address this engine advertises to the cluster, V(INTERFACE:PORT) or V(IP:PORT) (V(eth0:2376)).
        Sets C(cluster-advertise). An interface that does not exist on the host is refused.
    type: str
  cluster_store_opts:
    description: Options of the cluster store (C(cluster-store-opts)), for example TLS files.
    type: dict
  state:
    description: V(present) merges the options, V(absent) removes the keys named.
    type: str
    choices: [present, absent]
    default: present
  target:
    description:
      - V(daemon_json) writes O(path).
      - V(systemd_dropin) writes the options as flags into O(dropin_path), a drop-in that resets C(ExecStart) and
        sets it to the vendor unit's command plus these flags. C(systemctl daemon-reload) and a restart are needed
        afterwards (RV(daemon_reload_required)).
    type: str
    choices: [daemon_json, systemd_dropin]
    default: daemon_json
  path:
    description: The daemon configuration file.
    type: path
    default: /etc/docker/daemon.json
  dropin_path:
    description: The drop-in written with O(target=systemd_dropin).
    type: path
    default: /etc/systemd/system/docker.service.d/hostnet-fabric.conf
  systemd_unit_dirs:
    description:
      - Where docker.service and its C(docker.service.d) drop-ins are looked for, highest priority first.
    type: list
    elements: path
    default: [/etc/systemd/system, /run/systemd/system, /lib/systemd/system, /usr/lib/systemd/system]
  backup:
    description: Keep a timestamped copy of the file before changing it.
    type: bool
    default: false
  validate:
    description:
      - Check the candidate configuration with C(dockerd --validate) before writing it (Engine 23.0 and later;
        older engines have no such flag and RV(validated) is then false).
    type: bool
    default: true
  engine_version:
    description:
      - The Docker Engine version the options are for, like V(20.10.24). Default is read from the installed
        C(dockerd --version). Set it for hosts where Docker is not installed yet.
    type: str
  allow_insecure_tcp:
    description:
      - Allow a C(tcp://) entry in C(hosts) without TLS verification. That exposes root-equivalent access to
        anyone who can reach the port; leave it off.
    type: bool
    default: false
  docker_host:
    description: The engine's API socket, asked whether the host is an active swarm member (unix sockets only).
    type: str
    default: unix:///var/run/docker.sock
attributes:
  check_mode:
    support: full
    description: Everything is computed and checked the same way; only the write is skipped.
  diff_mode:
    support: full
    description: Shows the file before and after (daemon.json pretty-printed, or the drop-in).
  platform:
    platforms: posix
    support: full
    description: Hosts with systemd and Docker Engine (or where they will be).
notes:
  - Keys are compared as parsed JSON, so re-formatting an existing file is not a change.
seealso:
  - name: dockerd configuration file
    description: Docker's reference for daemon.json and the options that reload on SIGHUP.
    link: https://docs.docker.com/reference/cli/dockerd/#daemon-configuration-file
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: Point Docker Engine 20.10 at the cluster store (classic multi-host overlay)
  hostnet.fabric.docker_daemon_opts:
    cluster_store: etcd://10.0.0.5:2379
    cluster_advertise: eth0:2376
  register: daemon

- name: Restart only when a reload is not enough
  ansible.builtin.debug:
    msg: "{{ 'reload' if daemon.reload_sufficient else 'restart' if daemon.restart_required else 'nothing' }}"

- name: The same as dockerd flags in a drop-in (for sites that manage daemon.json otherwise)
  hostnet.fabric.docker_daemon_opts:
    target: systemd_dropin
    cluster_store: consul://127.0.0.1:8500
    cluster_advertise: eth0:2376

- name: Any daemon.json keys, with a backup
  hostnet.fabric.docker_daemon_opts:
    options:
      live-restore: true
      labels: ["rack=r1"]
    backup: true

- name: Remove keys
  hostnet.fabric.docker_daemon_opts:
    state: absent
    options:
      cluster-store:
      cluster-advertise:
'''

RETURN = r'''
actions:
  description:
    - What was done (or, in check mode, would be done), one entry per changed key, plus the rewrite or removal
      of the drop-in where that happens without a key changing.
  returned: always
  type: list
  elements: str
  sample: ['set cluster-store to "etcd://10.0.0.5:2379" in /etc/docker/daemon.json']
config:
  description: The resulting daemon.json (O(target=daemon_json)) or the options in the drop-in (O(target=systemd_dropin)).
  returned: always
  type: dict
  sample: {"cluster-store": "etcd://10.0.0.5:2379", "cluster-advertise": "eth0:2376"}
changed_keys:
  description: Keys whose value changed (or would change in check mode).
  returned: always
  type: list
  elements: str
engine_version:
  description: The engine version the checks used, V(null) when unknown.
  returned: always
  type: str
  sample: 20.10.24
restart_required:
  description: True when the change takes effect only after dockerd is restarted.
  returned: always
  type: bool
reload_sufficient:
  description:
    - True when every changed key is one dockerd applies on SIGHUP (C(systemctl reload docker)).
    - A change of C(cluster-store), C(cluster-advertise) or C(cluster-store-opts) always needs a restart, as a reload
      does not move existing networks to the new store (moby/moby#24827).
  returned: always
  type: bool
daemon_reload_required:
  description: True when a drop-in changed and systemd must re-read its units first.
  returned: always
  type: bool
validated:
  description: True when C(dockerd --validate) accepted the candidate configuration.
  returned: always
  type: bool
backup_file:
  description: The backup made with O(backup=true).
  returned: when a backup was made
  type: str
file:
  description: The file that was (or would be) written.
  returned: always
  type: str
'''

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.fabric.plugins.module_utils import _daemon_config as dc
from ansible_collections.hostnet.fabric.plugins.module_utils._docker_api import DockerAPIError, get_json


def argument_spec():
    return dict(
        options=dict(type='dict', default={}),
        cluster_store=dict(type='str'),
        cluster_advertise=dict(type='str'),
        cluster_store_opts=dict(type='dict'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        target=dict(type='str', choices=['daemon_json', 'systemd_dropin'], default='daemon_json'),
        path=dict(type='path', default='/etc/docker/daemon.json'),
        dropin_path=dict(type='path', default='/etc/systemd/system/docker.service.d/hostnet-fabric.conf'),
        systemd_unit_dirs=dict(type='list', elements='path',
                               default=['/etc/systemd/system', '/run/systemd/system', '/lib/systemd/system',
                                        '/usr/lib/systemd/system']),
        backup=dict(type='bool', default=False),
        validate=dict(type='bool', default=True),
        engine_version=dict(type='str'),
        allow_insecure_tcp=dict(type='bool', default=False),
        docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
    )


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError):
        return None


class Host(object):
    """The real host for dc.decide(): files, the engine's version, interfaces, swarm state, dockerd --validate."""

    def __init__(self, module):
        self.module = module
        self.p = module.params

    read_text = staticmethod(read_text)

    def unit_files(self, dirs):
        """[(path, text)] of docker.service and its drop-ins in systemd's order."""
        main, dropins = None, {}
        for d in dirs:
            path = os.path.join(d, 'docker.service')
            if main is None and os.path.isfile(path):
                main = path
            ddir = path + '.d'
            if os.path.isdir(ddir):
                for name in os.listdir(ddir):
                    if name.endswith('.conf') and name not in dropins:
                        dropins[name] = os.path.join(ddir, name)
        files = [main] if main else []
        files += [dropins[n] for n in sorted(dropins)]
        return [(f, read_text(f) or '') for f in files]

    def engine_version(self):
        if self.p['engine_version']:
            return dc.parse_version(self.p['engine_version'])
        dockerd = self.module.get_bin_path('dockerd')
        if not dockerd:
            return None
        rc, out, _err = self.module.run_command([dockerd, '--version'])
        if rc != 0:
            return None
        return dc.parse_version(out)

    def swarm_active(self):
        try:
            status, info = get_json(self.p['docker_host'], '/info', timeout=5)
        except DockerAPIError:
            return None
        if status != 200 or not isinstance(info, dict):
            return None
        return (info.get('Swarm') or {}).get('LocalNodeState') == 'active'

    @staticmethod
    def interfaces():
        try:
            return set(os.listdir('/sys/class/net'))
        except OSError:
            return None

    def validate(self, config, version):
        if version is None or version < (23, 0):
            return False
        dockerd = self.module.get_bin_path('dockerd')
        if not dockerd:
            return False
        fd, tmp = tempfile.mkstemp(prefix='daemon-', suffix='.json')
        try:
            with os.fdopen(fd, 'w') as f:
                json.dump(config, f)
            rc, out, err = self.module.run_command([dockerd, '--validate', '--config-file', tmp])
        finally:
            os.unlink(tmp)
        if rc != 0:
            lines = [x for x in (err + out).splitlines() if x.strip()]
            raise dc.ConfigError('dockerd --validate rejected the configuration: %s'
                                 % ' | '.join(lines).replace(tmp, '<candidate>'))
        return True


def write_atomic(module, path, text, backup):
    """Write via a temp file in the same directory and rename (atomic_move keeps mode and owner)."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    backup_file = module.backup_local(path) if backup and os.path.exists(path) else None
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(path))
    with os.fdopen(fd, 'w') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    if not os.path.exists(path):
        os.chmod(tmp, 0o644)
    module.atomic_move(tmp, path)
    return backup_file


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    p = module.params
    try:
        d = dc.decide(p, Host(module))
    except dc.ConfigError as exc:
        module.fail_json(msg=str(exc), actions=[])
    for w in d['warnings']:
        module.warn(w)
    changed = d['changed']
    result = {
        'changed': changed,
        'actions': d['actions'],
        'config': d['after'],
        'changed_keys': d['keys'],
        'engine_version': dc.version_text(d['version']) if d['version'] else None,
        'validated': d['validated'],
        'file': d['file'],
        'daemon_reload_required': d['daemon_reload_required'],
        'reload_sufficient': d['reload_sufficient'],
        'restart_required': d['restart_required'],
    }
    if changed and not module.check_mode:
        if p['target'] == 'systemd_dropin' and not d['text_after']:  # no options left: no drop-in
            if p['backup'] and os.path.exists(d['file']):
                result['backup_file'] = module.backup_local(d['file'])
            os.unlink(d['file'])
        else:
            backup = write_atomic(module, d['file'], d['text_after'], p['backup'])
            if backup:
                result['backup_file'] = backup
    if module._diff:
        result['diff'] = {'before': d['text_before'], 'after': d['text_after'],
                          'before_header': d['file'], 'after_header': d['file']}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
