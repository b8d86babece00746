# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to hostnet.fabric: not a public API, may change without notice.
#
# The Docker Engine API calls hostnet.fabric needs, over the engine's unix socket with the
# standard library only: the netns module must not pull in the Docker SDK on every host.
# TCP endpoints are deliberately not supported here.
#   get_json / container_pid / inspect_object   read-only look-ups (netns, netns_info, docker_daemon_opts)
#   Engine                                       the calls of the endpoint and probe modules
#                                                (docker_endpoints, docker_probe, docker_overlay_network):
#                                                each a thin method, no decisions (those live in
#                                                _docker_endpoints.py and are unit-tested with a fake Engine)
#   BadInput / run_docker_module                 the one main() of those three modules

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import socket
import struct
import time

from ansible.module_utils.basic import AnsibleModule

try:
    from http.client import HTTPConnection
    from urllib.parse import quote
except ImportError:  # pragma: no cover - Python 2 is not supported by this collection
    raise

DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock'
_CONTAINER_RE = re.compile(r'^[a-zA-Z0-9][a-zA-Z0-9_.-]*$')


class DockerAPIError(Exception):
    pass


class _UnixHTTPConnection(HTTPConnection):
    def __init__(self, path, timeout):
        HTTPConnection.__init__(self, 'localhost', timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def socket_path(docker_host):
    if not docker_host.startswith('unix://'):
        raise DockerAPIError("docker_host: only unix:// sockets are supported (got %r)" % docker_host)
    return docker_host[len('unix://'):]


def _is_dockerd(pid, proc='/proc'):
    try:
        with open(os.path.join(proc, str(pid), 'comm')) as f:
            return f.read().strip() == 'dockerd'
    except (OSError, TypeError):
        return False


def engine_pid(docker_host, timeout=5, pidfile='/var/run/docker.pid'):
    """PID of the dockerd that serves ``docker_host``: the socket's peer (SO_PEERCRED) when that is dockerd, else
    (the socket is systemd's, socket activation) the engine's pidfile; None when neither names a dockerd."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = None
    try:
        sock.settimeout(timeout)
        sock.connect(socket_path(docker_host))
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize('3i'))
        pid = struct.unpack('3i', creds)[0]
    except (OSError, socket.error, DockerAPIError):
        pass
    finally:
        sock.close()
    if _is_dockerd(pid):
        return pid
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_dockerd(pid) else None


def exec_root(pid, proc='/proc', daemon_json='/etc/docker/daemon.json'):
    """The engine's exec-root (its sandboxes are under EXEC_ROOT/netns): --exec-root on its command line, else
    daemon.json's "exec-root", else /run/docker."""
    try:
        with open(os.path.join(proc, str(pid), 'cmdline'), 'rb') as f:
            args = f.read().decode('utf-8', 'replace').split('\0')
    except OSError:
        args = []
    for i, arg in enumerate(args):
        if arg.startswith('--exec-root='):
            return arg.split('=', 1)[1]
        if arg == '--exec-root' and i + 1 < len(args):
            return args[i + 1]
    try:
        with open(daemon_json) as f:
            return json.load(f).get('exec-root') or '/run/docker'
    except (OSError, ValueError, AttributeError):
        return '/run/docker'


def _netns_inode(path):
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def threads_in_dead_netns(pid, sandboxes='/run/docker/netns', proc='/proc'):
    """How many threads of ``pid`` are in a network namespace that is neither the host's (this process's, which
    Ansible runs in the host's namespace) nor one of the engine's sandboxes: Engine 20.10 leaves such threads
    behind (docs/design.md, "Engine 20.10 anchors"), and its calls from them fail. None when /proc cannot be read."""
    host = _netns_inode(os.path.join(proc, 'self', 'ns', 'net'))
    tasks = os.path.join(proc, str(pid), 'task')
    try:
        tids = os.listdir(tasks)
    except OSError:
        return None
    try:
        live = set(_netns_inode(os.path.join(sandboxes, name)) for name in os.listdir(sandboxes))
    except OSError:
        live = set()
    live.add(host)
    dead = 0
    for tid in tids:
        inode = _netns_inode(os.path.join(tasks, tid, 'ns', 'net'))
        if inode is not None and inode not in live:
            dead += 1
    return dead


def request(docker_host, method, url, body=None, timeout=10, raw=False):
    """One API call: (HTTP status, decoded JSON body or None; the body's bytes when ``raw``). Raises
    DockerAPIError only when the engine cannot be reached; an error status is the caller's to judge."""
    path = socket_path(docker_host)
    conn = _UnixHTTPConnection(path, timeout)
    headers = {'Host': 'docker'}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode('utf-8')
        headers['Content-Type'] = 'application/json'
    try:
        conn.request(method, url, body=payload, headers=headers)
        resp = conn.getresponse()
        raw_body = resp.read()
    except (OSError, socket.error) as exc:
        raise DockerAPIError('cannot reach the Docker engine at %s: %s' % (docker_host, exc))
    finally:
        conn.close()
    if raw:
        return resp.status, raw_body
    try:
        data = json.loads(raw_body.decode('utf-8')) if raw_body else None
    except ValueError:
        data = raw_body.decode('utf-8', 'replace') if raw_body else None
    return resp.status, data


def demux(stream):
    """The text of an attached, non-TTY exec's output: the engine frames stdout and stderr as
    [stream, 0, 0, 0, size (4 bytes, big-endian)] + payload; a stream without frames is taken as is."""
    out = []
    pos = 0
    while len(stream) - pos >= 8 and stream[pos:pos + 1] in (b'\x00', b'\x01', b'\x02') \
            and stream[pos + 1:pos + 4] == b'\x00\x00\x00':
        _kind, size = struct.unpack('>BxxxL', stream[pos:pos + 8])
        out.append(stream[pos + 8:pos + 8 + size])
        pos += 8 + size
    out.append(stream[pos:])
    return b''.join(out).decode('utf-8', 'replace')


def get_json(docker_host, url, timeout=10):
    status, data = request(docker_host, 'GET', url, timeout=timeout)
    if not isinstance(data, (dict, list)):
        data = None
    return status, data


def valid_container_ref(container):
    return bool(_CONTAINER_RE.match(container or ''))


def container_pid(docker_host, container, timeout=10):
    """PID of a running container's init process (by name or id)."""
    if not valid_container_ref(container):
        raise DockerAPIError('container: %r is not a valid container name or id' % (container,))
    status, data = get_json(docker_host, '/containers/%s/json' % quote(container, safe=''), timeout)
    if status == 404:
        raise DockerAPIError("container: no container '%s' on the Docker engine at %s" % (container, docker_host))
    if status != 200 or not isinstance(data, dict):
        msg = data.get('message') if isinstance(data, dict) else None
        raise DockerAPIError("container: the Docker engine answered %s for '%s': %s" % (status, container, msg))
    state = data.get('State') or {}
    if not state.get('Running') or not state.get('Pid'):
        raise DockerAPIError("container: '%s' is not running (status: %s)" % (container, state.get('Status')))
    return int(state['Pid'])


# ---------------------------------------------------------------- read-only look-ups (netns_info)
_INSPECT_URLS = {'container': '/containers/%s/json', 'network': '/networks/%s'}


def inspect_object(docker_host, kind, ref, timeout=10):
    """The engine's JSON for a container or a network (``kind``), by name or id.

    A missing object raises DockerAPIError naming it: "network: no network 'x' on the Docker engine at ...".
    """
    if not valid_container_ref(ref):
        raise DockerAPIError('%s: %r is not a valid %s name or id' % (kind, ref, kind))
    status, data = get_json(docker_host, _INSPECT_URLS[kind] % quote(ref, safe=''), timeout)
    if status == 404:
        raise DockerAPIError("%s: no %s '%s' on the Docker engine at %s" % (kind, kind, ref, docker_host))
    if status != 200 or not isinstance(data, dict):
        msg = data.get('message') if isinstance(data, dict) else None
        raise DockerAPIError("%s: the Docker engine answered %s for '%s': %s" % (kind, status, ref, msg))
    return data


# ---------------------------------------------------------------- the calls of the endpoint and probe modules
class EngineError(DockerAPIError):
    """The engine refused a call: ``status`` is its HTTP status, ``message`` its own words."""

    def __init__(self, what, status, message):
        DockerAPIError.__init__(self, '%s: %s' % (what, message))
        self.what = what
        self.status = status
        self.message = message or ''


def _message(data):
    if isinstance(data, dict):
        return data.get('message') or ''
    if isinstance(data, bytes):
        return data.decode('utf-8', 'replace')
    return data or ''


class Engine(object):
    """The Docker engine at ``docker_host``: one method per API call, no decisions."""

    # Engine 20.10 with a cluster store can take well over 30 s to start a container on a busy host
    # (the docker CLI waits without a limit): a call without an answer in ``timeout`` seconds is a
    # failed call (EngineError, status 0), which the callers' bounded tries handle like any other.
    def __init__(self, docker_host=DEFAULT_DOCKER_HOST, timeout=120):
        self.docker_host = docker_host
        self.timeout = timeout

    def _call(self, what, method, url, body=None, ok=(200, 201, 204), timeout=None, raw=False):
        try:
            status, data = request(self.docker_host, method, url, body, timeout or self.timeout, raw=raw)
        except DockerAPIError as exc:
            raise EngineError(what, 0, str(exc))
        if status not in ok:
            raise EngineError(what, status, _message(data))
        return status, data

    # -- reads
    def container(self, ref):
        """A container's JSON, or None when there is none of that name or id."""
        status, data = self._call('inspect container %s' % ref, 'GET', '/containers/%s/json' % quote(ref, safe=''),
                                  ok=(200, 404))
        return data if status == 200 else None

    def containers_on(self, network):
        """Ids of this engine's containers (running or stopped) with an endpoint setting on ``network``."""
        filters = quote(json.dumps({'network': [network]}), safe='')
        _status, data = self._call('list containers on %s' % network, 'GET',
                                   '/containers/json?all=1&filters=%s' % filters)
        return [c['Id'] for c in data or []]

    def network(self, ref):
        """A network's JSON as this engine sees it, or None."""
        status, data = self._call('inspect network %s' % ref, 'GET', '/networks/%s' % quote(ref, safe=''),
                                  ok=(200, 404))
        return data if status == 200 else None

    # -- endpoints
    def connect(self, network, container, ipv4_address=None, ipv6_address=None, aliases=None):
        ipam = {}
        if ipv4_address:
            ipam['IPv4Address'] = ipv4_address
        if ipv6_address:
            ipam['IPv6Address'] = ipv6_address
        config = {}
        if ipam:
            config['IPAMConfig'] = ipam
        if aliases:
            config['Aliases'] = list(aliases)
        self._call('connect %s to %s' % (container, network), 'POST',
                   '/networks/%s/connect' % quote(network, safe=''), {'Container': container, 'EndpointConfig': config})

    def disconnect(self, network, container, force=True):
        self._call('disconnect %s from %s' % (container, network), 'POST',
                   '/networks/%s/disconnect' % quote(network, safe=''), {'Container': container, 'Force': force})

    def remove_network(self, network):
        self._call('remove network %s' % network, 'DELETE', '/networks/%s' % quote(network, safe=''))

    def dead_netns_threads(self):
        """threads_in_dead_netns() of the process serving this engine's socket (None when unknown)."""
        pid = engine_pid(self.docker_host)
        if not pid:
            return None
        return threads_in_dead_netns(pid, os.path.join(exec_root(pid), 'netns'))

    # -- containers (probes)
    def containers_labelled(self, label, value):
        """This engine's containers (running or stopped) whose label ``label`` is ``value``: the list API's
        summaries (Id, Names, Image, State, Labels, NetworkSettings.Networks)."""
        filters = quote(json.dumps({'label': ['%s=%s' % (label, value)]}), safe='')
        _status, data = self._call('list containers labelled %s=%s' % (label, value), 'GET',
                                   '/containers/json?all=1&filters=%s' % filters)
        return list(data or [])

    def run(self, name, image, cmd, network, auto_remove=False, labels=None, restart=None, stop_signal=None):
        """Create and start a container on ``network``; returns its id. A container left by a failed
        start is removed before the error is raised."""
        host = {'NetworkMode': network, 'AutoRemove': auto_remove}
        if restart:
            host['RestartPolicy'] = {'Name': restart}
        body = {'Image': image, 'Cmd': list(cmd), 'HostConfig': host,
                'NetworkingConfig': {'EndpointsConfig': {network: {}}}}
        if labels:
            body['Labels'] = dict(labels)
        if stop_signal:
            body['StopSignal'] = stop_signal
        _status, data = self._call('create container %s' % name, 'POST',
                                   '/containers/create?name=%s' % quote(name, safe=''), body)
        cid = data['Id']
        try:
            self._call('start container %s' % name, 'POST', '/containers/%s/start' % cid)
        except EngineError:
            self.remove(cid)
            raise
        return cid

    def wait(self, ref, timeout=120):
        """Exit status of a container, waiting (bounded by ``timeout``) for it to stop."""
        _status, data = self._call('wait for container %s' % ref, 'POST', '/containers/%s/wait' % quote(ref, safe=''),
                                   timeout=timeout)
        return int((data or {}).get('StatusCode', -1))

    def remove(self, ref):
        """Remove a container (forced); True if there was one."""
        status, _data = self._call('remove container %s' % ref, 'DELETE',
                                   '/containers/%s?force=1&v=1' % quote(ref, safe=''), ok=(200, 204, 404))
        return status != 404

    def exec_run(self, container, cmd, timeout=120):
        """Run ``cmd`` in a running container; returns (exit code, its stdout and stderr as text)."""
        _status, data = self._call('exec in %s' % container, 'POST', '/containers/%s/exec' % quote(container, safe=''),
                                   {'Cmd': list(cmd), 'AttachStdout': True, 'AttachStderr': True})
        eid = data['Id']
        # not detached: the engine streams the output and closes the connection when the command ends
        _status, stream = self._call('start exec in %s' % container, 'POST', '/exec/%s/start' % eid,
                                     {'Detach': False, 'Tty': False}, timeout=timeout, raw=True)
        output = demux(stream or b'')
        # the output stream can end before the engine has recorded the exit code (ExitCode still null,
        # Running still true): read it again, a few times, briefly - never a null taken for a failure
        for _look in range(20):
            _status, info = self._call('inspect exec in %s' % container, 'GET', '/exec/%s/json' % eid)
            code = (info or {}).get('ExitCode')
            if code is not None and not (info or {}).get('Running'):
                return int(code), output
            time.sleep(0.1)
        return (-1 if code is None else int(code)), output


# ---------------------------------------------------------------- the one main() of the endpoint and probe modules
class BadInput(Exception):
    """Bad module input, found before the engine is asked anything: names the parameter."""

    def __init__(self, param, msg):
        Exception.__init__(self, '%s: %s' % (param, msg))
        self.param = param


def check_minimums(params, minimums):
    """BadInput for the first integer parameter of ``minimums`` ((name, lowest allowed), ...) below its bound."""
    for key, low in minimums:
        if params[key] < low:
            raise BadInput(key, 'must be %d or more (got %d)' % (low, params[key]))


def check_docker_host(params):
    """BadInput unless ``docker_host`` is a unix:// socket (the only kind these modules speak to)."""
    if not params['docker_host'].startswith('unix://'):
        raise BadInput('docker_host', 'only unix:// sockets are supported (got %r)' % params['docker_host'])


def run_docker_module(argument_spec, validate, run, context=None):
    """main() of docker_endpoints, docker_probe and docker_overlay_network: validate the input (a
    BadInput fails naming the parameter, before the engine is asked anything), run(params, Engine,
    check_mode) -> (failure message or None, result), and exit or fail with the result.
    ``context(params)``: what to add to an unreachable engine's message (e.g. " (network x)")."""
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        params = validate(dict(module.params))
    except BadInput as exc:
        module.fail_json(msg=str(exc), param=exc.param)
    try:
        msg, result = run(params, Engine(params['docker_host']), module.check_mode)
    except DockerAPIError as exc:
        module.fail_json(msg='%s%s' % (exc, context(params) if context else ''))
    if msg:
        result['msg'] = msg
        module.fail_json(**result)
    module.exit_json(**result)
