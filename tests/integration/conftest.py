# Real-kernel integration tests: every module is driven through ansible-playbook against
# throwaway network namespaces ("hosts") that each test creates and removes. Nothing here
# touches the namespace the tests run in, except where a test enters a throwaway namespace
# to play "the current namespace".
import datetime
import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def pytest_configure(config):
    if os.geteuid() != 0:
        raise pytest.UsageError('the integration tests manage kernel network objects and must run as root')
    for tool in ('ip', 'bridge'):
        if shutil.which(tool) is None:
            raise pytest.UsageError('%s (iproute2) is needed by the tests to read kernel state' % tool)


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


def ip_json(ns, *args):
    cmd = ['ip'] + (['-n', ns] if ns else []) + ['-j'] + list(args)
    out = sh(*cmd).stdout.strip()
    return json.loads(out) if out else []


def bridge_json(ns, *args):
    cmd = ['bridge'] + (['-n', ns] if ns else []) + ['-j'] + list(args)
    out = sh(*cmd).stdout.strip()
    return json.loads(out) if out else []


# Operational state the kernel derives (carrier, STP election, offload limits a bridge adopts
# from its ports) - not configuration, and not something a module sets or a rollback can reset.
VOLATILE = frozenset(('stats', 'stats64', 'operstate', 'linkmode', 'topology_change_detected',
                      'topology_change', 'root_port', 'root_path_cost', 'designated_root', 'bridge_id',
                      'root_id', 'tso_max_size', 'tso_max_segs', 'gso_max_size', 'gso_max_segs',
                      'gro_max_size', 'gso_ipv4_max_size', 'gro_ipv4_max_size'))


CARRIER_FLAGS = frozenset(('LOWER_UP', 'NO-CARRIER', 'M-DOWN', 'linkdown'))


def _strip_volatile(obj):
    if isinstance(obj, dict):
        return {k: ([f for f in v if f not in CARRIER_FLAGS] if k == 'flags' else _strip_volatile(v))
                for k, v in obj.items() if 'timer' not in k and k not in VOLATILE}
    if isinstance(obj, list):
        return [_strip_volatile(x) for x in obj]
    return obj


def snapshot(namespaces):
    """Everything a module could change, as iproute2 (not pyroute2) sees it."""
    # namespaces of this test only (tests run in parallel): same 'hft-<tag>-' prefix
    tags = set(ns.rsplit('-', 1)[0] + '-' for ns in namespaces)
    snap = {'netns': sorted(n['name'] for n in ip_json(None, 'netns', 'list')
                            if any(n['name'].startswith(t) for t in tags))}
    for ns in namespaces:
        if ns not in snap['netns']:
            snap[ns] = None
            continue
        snap[ns] = {
            'links': _strip_volatile(ip_json(ns, '-d', 'link', 'show')),
            # IPv6 link-local addresses and multicast FDB entries (33:33:.., 01:00:5e:..) are added by
            # the kernel a moment after a link comes up (addrconf, DAD): derived state, not config,
            # and racing with a snapshot taken right after a fixture made the link
            'addrs': [(a['ifname'], [(i['local'], i['prefixlen']) for i in a.get('addr_info', [])
                                     if i.get('scope') != 'link'])
                      for a in ip_json(ns, 'addr', 'show')],
            'routes': _strip_volatile(ip_json(ns, 'route', 'show')),
            # likewise the entries a bridge learns by itself (no state, aged out by the kernel) from the frames
            # a new link sends (IPv6 DAD, router solicitations) a moment after it comes up
            'fdb': [e for e in bridge_json(ns, 'fdb', 'show') if not int(e['mac'][:2], 16) & 1
                    and not (e.get('master') and not e.get('state'))],
            'neigh': [n for n in ip_json(ns, 'neigh', 'show') if 'PERMANENT' in n.get('state', [])],
        }
    return snap


def link(ns, name):
    found = [x for x in ip_json(ns, '-d', 'link', 'show') if x['ifname'] == name]
    return found[0] if found else None


def addrs(ns, name):
    out = []
    for a in ip_json(ns, 'addr', 'show', 'dev', name):
        for i in a.get('addr_info', []):
            if i.get('scope') != 'link':
                out.append('%s/%s' % (i['local'], i['prefixlen']))
    return sorted(out)


def _seconds(duration):
    """How long a task ran on the host (the json callback's start/end), or None."""
    try:
        start, end = (datetime.datetime.fromisoformat(duration[k].rstrip('Z')) for k in ('start', 'end'))
    except (KeyError, ValueError, AttributeError):
        return None
    return (end - start).total_seconds()


class Ansible:
    """Runs tasks through ansible-playbook (JSON callback) and returns one result per task."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.calls = 0

    def play(self, tasks, in_netns=None, extra_vars=None, playbook=None):
        self.calls += 1
        env = dict(os.environ)
        env.update({
            'ANSIBLE_CONFIG': str(REPO / 'ansible.cfg'),
            'ANSIBLE_STDOUT_CALLBACK': 'ansible.posix.json',
            'ANSIBLE_LOCALHOST_WARNING': 'false',
            'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
            'ANSIBLE_NOCOLOR': '1',
        })
        if playbook is None:
            for t in tasks:
                t.setdefault('ignore_errors', True)
            pb = [{'name': 'test', 'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]
            playbook = self.tmp / ('play%d.yml' % self.calls)
            playbook.write_text(yaml.safe_dump(pb, sort_keys=False))
        cmd = [str(BIN / 'ansible-playbook'), '-i', str(REPO / 'inventory' / 'localhost.yml'), '--diff',
               str(playbook)]
        if extra_vars:
            cmd += ['-e', json.dumps(extra_vars)]
        if in_netns:
            cmd = ['ip', 'netns', 'exec', in_netns] + cmd
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError('ansible-playbook gave no JSON (rc %s):\n%s\n%s'
                                 % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
        results = []
        for play in data['plays']:
            for task in play['tasks']:
                res = task['hosts'].get('localhost', {})
                res['_task'] = task['task']['name']
                res['_seconds'] = _seconds(task['task'].get('duration') or {})
                results.append(res)
        self.last_rc = proc.returncode
        return results

    def run(self, module, args, check=False, in_netns=None):
        task = {'name': '%s%s' % (module, ' (check)' if check else ''), 'hostnet.fabric.%s' % module: args,
                'check_mode': check}
        return self.play([task], in_netns=in_netns)[0]

    def cycle(self, module, args, namespaces, in_netns=None):
        """check -> real -> check -> real. The first check leaves the host as it was.

        Returns the four results.
        """
        before = snapshot(namespaces)
        first = self.run(module, args, check=True, in_netns=in_netns)
        assert not first.get('failed'), first.get('msg')
        assert snapshot(namespaces) == before, 'check mode changed the host'
        rest = self.play([
            {'name': 'real', 'hostnet.fabric.%s' % module: args},
            {'name': 'check again', 'hostnet.fabric.%s' % module: args, 'check_mode': True},
            {'name': 'real again', 'hostnet.fabric.%s' % module: args},
        ], in_netns=in_netns)
        results = [first] + rest
        for r in results:
            assert not r.get('failed'), r.get('msg')
        return results

    def refused(self, module, args, namespaces, check=False, in_netns=None):
        """Run a task that must fail; assert the host is exactly as before. Returns the result."""
        before = snapshot(namespaces)
        res = self.run(module, args, check=check, in_netns=in_netns)
        assert res.get('failed'), 'expected a failure, got %r' % res
        assert snapshot(namespaces) == before, 'a refused task changed the host: %s' % res.get('msg')
        return res


def changed(results):
    return [bool(r.get('changed')) for r in results]


@pytest.fixture
def ansible(tmp_path):
    return Ansible(tmp_path)


@pytest.fixture
def make_ns():
    """Factory of throwaway namespaces with unique names; all removed after the test."""
    made = []
    tag = uuid.uuid4().hex[:6]

    def factory(suffix):
        name = 'hft-%s-%s' % (tag, suffix)
        sh('ip', 'netns', 'add', name)
        made.append(name)
        return name

    factory.name = lambda suffix: 'hft-%s-%s' % (tag, suffix)
    factory.made = made
    yield factory
    for name in os.listdir('/run/netns') if os.path.isdir('/run/netns') else []:
        if name.startswith('hft-%s-' % tag):
            sh('ip', 'netns', 'del', name, check=False)
            if os.path.exists('/run/netns/' + name):
                os.unlink('/run/netns/' + name)


@pytest.fixture
def tmpdir_short():
    d = tempfile.mkdtemp(prefix='hft')
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


class _FakeEngine(BaseHTTPRequestHandler):
    routes = {}

    def do_GET(self):  # noqa: N802 - http.server API
        info = self.routes.get(self.path.split('?')[0])
        body = json.dumps(info if info is not None else {'message': 'No such object: %s' % self.path}).encode()
        self.send_response(200 if info is not None else 404)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _UnixHTTPServer(HTTPServer):
    address_family = socket.AF_UNIX

    def server_bind(self):
        self.socket.bind(self.server_address)

    def get_request(self):
        sock, _addr = self.socket.accept()
        return sock, ('local', 0)


@pytest.fixture
def engine_api(tmpdir_short):
    """A stand-in for a few GET routes of the Docker Engine API on a unix socket.

    It checks the modules' API client and error handling (a container's pid, swarm state);
    what the modules then do with the answer happens for real. Real engines run in the lab tests.
    Returns (docker_host, routes): fill routes['/path'] = json.
    """
    path = str(tmpdir_short / 'docker.sock')
    server = _UnixHTTPServer(path, _FakeEngine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield 'unix://' + path, _FakeEngine.routes
    server.shutdown()
    server.server_close()
    _FakeEngine.routes.clear()
