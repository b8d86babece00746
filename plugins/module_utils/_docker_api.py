# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to hostnet.fabric: not a public API, may change without notice.
#
# The few read-only Docker Engine API calls the netlink modules need (a container's pid), over
# the engine's unix socket with the standard library only: the netns module must not pull in
# the Docker SDK on every host. TCP endpoints are deliberately not supported here.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import socket

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


def get_json(docker_host, url, timeout=10):
    path = socket_path(docker_host)
    conn = _UnixHTTPConnection(path, timeout)
    try:
        conn.request('GET', url, headers={'Host': 'docker'})
        resp = conn.getresponse()
        body = resp.read()
    except (OSError, socket.error) as exc:
        raise DockerAPIError('cannot reach the Docker engine at %s: %s' % (docker_host, exc))
    finally:
        conn.close()
    try:
        data = json.loads(body.decode('utf-8')) if body else None
    except ValueError:
        data = None
    return resp.status, data


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
