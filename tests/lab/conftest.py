# Tests against the local multi-host lab (scripts/lab.sh): real systemd "machines" with their
# own Docker engines on one underlay network.
#
# The `lab` fixture is session-scoped: a lab is brought up once per session (and per distro)
# and torn down at the end, whatever the tests did. Tests of later roles use the same fixture:
#
#   def test_something(lab):
#       lab.sh(lab.hosts[0], 'docker info')                # a command in a lab host
#       lab.playbook(tmp_path / 'play.yml')                  # ansible-playbook on the lab inventory
#
# Options (or the environment variables in brackets):
#   --lab-distro D    bookworm and/or trixie, repeatable  [HOSTNET_LAB_DISTROS="bookworm trixie"]
#                     (default: both)
#   --lab-hosts N     hosts per lab (default 3)
#   --lab-keep        leave the lab up after the session, for debugging; remove it with
#                     `scripts/lab.sh down --name NAME` (the name is printed)
# scripts/test.sh runs them with pytest-xdist, `-n 2 --dist loadgroup`: every test of one distro is put in
# the xdist group of that distro (pytest_collection_modifyitems below), so each worker brings up the labs of
# one distro and the Debian 12 and Debian 13 sessions run side by side. Without -n they run one after the other.
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
LAB_SH = REPO / 'scripts' / 'lab.sh'
BIN = Path(sys.executable).parent
ENGINE_OWNER = Path('/run/hostnet-lab/engine.owner')
DISTROS = ('bookworm', 'trixie')
# what each lab image's docker.io is
ENGINE_SERIES = {'bookworm': '20.10.', 'trixie': '26.1.'}


def pytest_addoption(parser):
    group = parser.getgroup('hostnet lab')
    group.addoption('--lab-distro', action='append', choices=DISTROS, default=None,
                    help='distro of the lab hosts, repeatable (default: $HOSTNET_LAB_DISTROS or all)')
    group.addoption('--lab-hosts', type=int, default=3, help='hosts per lab (default 3)')
    group.addoption('--lab-keep', action='store_true', help='leave the lab up after the session')


def _terminated(signum, _frame):
    raise KeyboardInterrupt('signal %d' % signum)


def pytest_configure(config):
    if os.geteuid() != 0:
        raise pytest.UsageError('the lab tests start Docker engines and containers and must run as root')
    # A CI timeout sends SIGTERM: turn it into an interrupt, so that the lab fixture's teardown
    # still runs and no lab is left behind.
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)


def _distros(config):
    chosen = config.getoption('--lab-distro')
    if not chosen:
        chosen = os.environ.get('HOSTNET_LAB_DISTROS', ' '.join(DISTROS)).split()
    for d in chosen:
        if d not in DISTROS:
            raise pytest.UsageError('unknown lab distro %r (one of %s)' % (d, ', '.join(DISTROS)))
    return list(dict.fromkeys(chosen))


LAB_FIXTURES = ('lab', 'scratch_lab', 'overlay_lab')


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Put each test in the xdist group of its distro (`--dist loadgroup`: one worker runs the whole group, so a
    distro's session labs are made once). Tests of no lab (lab.sh's argument checks, controller-side Consul
    checks) go with the first distro."""
    first = _distros(config)[0]
    for item in items:
        params = _lab_params(item)
        distro = next((params[n] for n in LAB_FIXTURES if n in params), first)
        item.add_marker(pytest.mark.xdist_group(distro))


def _lab_params(item):
    """{lab fixture: distro} of a collected test (empty for a test of no lab)."""
    callspec = getattr(item, 'callspec', None)
    return {n: d for n, d in (callspec.params if callspec else {}).items() if n in LAB_FIXTURES}


def pytest_generate_tests(metafunc):
    # one session lab per distro; pytest runs all tests of one distro, then the next
    for name in LAB_FIXTURES:
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, _distros(metafunc.config), indirect=True, scope='session')


def lab_sh(*args, env=None, timeout=1200):
    """Run scripts/lab.sh; returns the CompletedProcess (never raises on a non-zero exit).

    If the wait is interrupted (timeout, Ctrl-C, SIGTERM), lab.sh gets SIGTERM and time to undo
    what it started, instead of the SIGKILL subprocess.run would send.
    """
    full_env = dict(os.environ)
    full_env.update(env or {})
    cmd = [str(LAB_SH)] + [str(a) for a in args]
    with subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:
            proc.terminate()
            try:
                proc.communicate(timeout=180)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def read_env(path):
    out = {}
    for line in Path(path).read_text().splitlines():
        key, sep, value = line.partition('=')
        if sep:
            out[key] = value.strip('"')
    return out


class Lab:
    """A running lab: its name, distro, hosts, inventory and the outer engine it lives on."""

    def __init__(self, name):
        self.name = name
        self.dir = REPO / '.lab' / name
        env = read_env(self.dir / 'lab.env')
        self.distro = env['LAB_DISTRO']
        self.docker_host = env['LAB_DOCKER_HOST']
        self.network = env['LAB_NETWORK']
        self.subnet = env['LAB_SUBNET']
        self.inventory = Path(env['LAB_INVENTORY'])
        self.hosts = env['LAB_HOST_NAMES'].split()
        self.inventory_data = yaml.safe_load(self.inventory.read_text())
        self.repo = REPO
        self.engine_series = ENGINE_SERIES[self.distro]
        self.site_check_fresh = None  # set by the lab fixture: see site_check_fresh

    def docker(self, *args, check=True, stdin=None, timeout=300):
        """The docker CLI against the lab's outer engine."""
        proc = subprocess.run(['docker', '-H', self.docker_host] + [str(a) for a in args], input=stdin,
                              capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            what = ' '.join(str(a) for a in args)
            raise AssertionError('docker %s: exit %s\n%s%s' % (what, proc.returncode, proc.stdout, proc.stderr))
        return proc

    def sh(self, host, command, check=True, timeout=300):
        """Run a shell command inside a lab host; returns the CompletedProcess."""
        return self.docker('exec', host, 'sh', '-c', command, check=check, timeout=timeout)

    def out(self, host, command):
        return self.sh(host, command).stdout.strip()

    def hostvars(self, host):
        return self.inventory_data['all']['hosts'][host]

    def group(self, name):
        return list(self.inventory_data['all']['children'][name]['hosts'])

    def store_ip(self):
        """The underlay address of the key/value store the engines use (the first of kv_servers)."""
        return self.hostvars(self.group('kv_servers')[0])['hostnet_underlay_ip']

    def playbook(self, playbook, *args, extra_vars=None, timeout=1200):
        """ansible-playbook on the lab inventory with the JSON callback.

        Returns (rc, data): data is the callback's JSON (plays, stats) or None if there was none.
        """
        env = dict(os.environ)
        env.update({
            'ANSIBLE_CONFIG': str(REPO / 'ansible.cfg'),
            'ANSIBLE_STDOUT_CALLBACK': 'ansible.posix.json',
            'ANSIBLE_NOCOLOR': '1',
        })
        cmd = [str(BIN / 'ansible-playbook'), '-i', str(self.inventory), str(playbook)] + list(args)
        if extra_vars:
            cmd += ['-e', json.dumps(extra_vars)]
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
                              check=False)
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            data = None
        if data is None:
            print(proc.stdout[-3000:], proc.stderr[-3000:])
        return proc.returncode, data


def _engine_processes():
    """pids of a dockerd started by the lab (its pidfile is under /run/hostnet-lab)."""
    pids = []
    for proc in Path('/proc').iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / 'cmdline').read_bytes().replace(b'\0', b' ').decode()
        except OSError:
            continue
        if cmdline.startswith('dockerd ') and '/run/hostnet-lab/' in cmdline:
            pids.append(int(proc.name))
    return pids


@pytest.fixture(scope='session', name='lab_sh')
def lab_sh_fixture():
    """scripts/lab.sh as a function: lab_sh('status', '--name', NAME, env={...}) -> CompletedProcess."""
    return lab_sh


def _lab_session(request, prefix, hosts):
    distro = request.param
    name = '%s-%s-%s' % (prefix, distro[:4], uuid.uuid4().hex[:6])
    try:
        proc = lab_sh('up', '--name', name, '--hosts', hosts, '--distro', distro)
    except BaseException:
        lab_sh('down', '--name', name)
        raise
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        # a failed up removes what it made; make sure, then report why it failed
        lab_sh('down', '--name', name)
        pytest.fail('scripts/lab.sh up --name %s --distro %s failed (exit %s):\n%s%s'
                    % (name, distro, proc.returncode, proc.stdout, proc.stderr), pytrace=False)
    try:
        yield Lab(name)
    finally:
        if request.config.getoption('--lab-keep'):
            sys.stderr.write('\nlab %s kept (--lab-keep): scripts/lab.sh down --name %s\n' % (name, name))
        else:
            down = lab_sh('down', '--name', name)
            sys.stderr.write(down.stderr)
            assert down.returncode == 0, 'scripts/lab.sh down --name %s failed:\n%s' % (name, down.stderr)
            assert not (REPO / '.lab' / name).exists(), 'down left .lab/%s behind' % name
            if not ENGINE_OWNER.exists() and os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1') == '1':
                # the lab's engine was stopped: nothing of it may be left running (with other xdist workers, another
                # worker's next lab may start it again at any moment: scripts/test.sh checks it once the stage is over)
                assert not _engine_processes(), 'down stopped the engine, but a dockerd of the lab still runs'
                assert not Path('/run/hostnet-lab').exists(), 'down left /run/hostnet-lab behind'


@pytest.fixture(scope='session')
def lab(request):
    """The session's lab (one per distro) for tests that build on each other's state (site.yml).

    If a collected test of this distro asks for `site_check_fresh`, the dry run of site.yml is taken here,
    right after the lab came up and before any test touched it (see site_check_fresh)."""
    session = _lab_session(request, 'pt', request.config.getoption('--lab-hosts'))
    try:
        for lab in session:  # one lab; resuming the loop after the tests runs its teardown
            if any('site_check_fresh' in item.fixturenames and _lab_params(item).get('lab') == request.param
                   for item in request.session.items):
                lab.site_check_fresh = _site_dry_run(lab)
            yield lab
    finally:
        session.close()  # after a failure: the lab's teardown (down, or kept with --lab-keep)


@pytest.fixture(scope='session')
def scratch_lab(request):
    """A second, small lab for tests that break and repair engines on purpose (docker_daemon),
    so that they never disturb the state the other lab tests build on."""
    yield from _lab_session(request, 'px', 2)


# What a dry run must leave as it was, read in ONE `docker exec` per host: sections "== NAME" of
# daemon.json, docker.service drop-ins, unit files and the state of the services the roles manage,
# the engine's and etcd's PIDs, installed packages, /etc/default/etcd, Docker networks, containers
# and swarm state, links, addresses and network namespaces (named ones and Docker's own).
HOST_SNAPSHOT = r"""
s() { echo "== $1"; }
s daemon.json; cat /etc/docker/daemon.json 2>/dev/null || echo NONE
s drop-ins; for f in /etc/systemd/system/docker.service.d/*; do [ -e "$f" ] && echo "-- $f" && cat "$f"; done
s unit-files; find /etc/systemd/system -printf '%p %l\n' | sort; find /lib/systemd/system -type f | sort | md5sum
s services; for u in docker containerd etcd consul; do
  echo "$u $(systemctl is-active $u.service 2>/dev/null) $(systemctl is-enabled $u.service 2>/dev/null)"; done
s engine-pid; systemctl show -p MainPID --value docker
s etcd-pid; systemctl show -p MainPID --value etcd 2>/dev/null
s packages; dpkg-query -W -f '${Package} ${Version}\n' | md5sum
s etcd-config; md5sum /etc/default/etcd 2>/dev/null || echo NONE
s networks; docker network ls --no-trunc --format '{{.ID}} {{.Name}} {{.Driver}} {{.Scope}}' | sort
s containers; docker ps -a --no-trunc --format '{{.ID}} {{.Names}} {{.State}}' | sort
s swarm; docker info --format '{{.Swarm.LocalNodeState}}'
s links; ip -o link show
s addresses; ip -o addr show
s namespaces; ip netns list; ls /run/docker/netns 2>/dev/null; true
"""


def host_snapshot(lab, host):
    """{section: text} of HOST_SNAPSHOT on one lab host."""
    out, name = {}, None
    for line in lab.sh(host, HOST_SNAPSHOT, timeout=120).stdout.splitlines():
        if line.startswith('== '):
            name = line[3:]
            out[name] = []
        elif name:
            out[name].append(line)
    return {k: '\n'.join(v) for k, v in out.items()}


def _site_dry_run(lab):
    before = {h: host_snapshot(lab, h) for h in lab.hosts}
    rc, data = lab.playbook(lab.repo / 'site.yml', '--check', '--diff')
    after = {h: host_snapshot(lab, h) for h in lab.hosts}
    return {'rc': rc, 'data': data, 'before': before, 'after': after}


@pytest.fixture(scope='session')
def site_check_fresh(lab):
    """site.yml --check --diff on the lab as `scripts/lab.sh up` left it, with a snapshot of every host before
    and after: {'rc', 'data', 'before', 'after'} (before/after: {host: snapshot}).

    It is taken by the `lab` fixture as soon as the lab is up, not when the first test asks for it: by then other
    tests of the session have run containers on the lab (test_inspect, test_fabric), and what an engine removes
    lingers after `docker rm` returns - libnetwork deletes a removed sandbox's /run/docker/netns file in a
    garbage-collection pass every 60 s, and a bridge's carrier follows its last port with a delay - so a snapshot
    taken then differs from the one after the dry run by what the engine was still tearing down (CI, stop 15)."""
    if lab.site_check_fresh is None:
        lab.site_check_fresh = _site_dry_run(lab)
    return lab.site_check_fresh


@pytest.fixture(scope='session')
def site(lab, site_check_fresh):
    """site.yml applied once on the session's lab: (rc, data) of that first run. The dry run of
    site_check_fresh always comes first, so that it sees the lab as site.yml never touched it."""
    return lab.playbook(lab.repo / 'site.yml')


# What the overlay lab gets once: etcd on kv_servers, every engine pointed at it (Engine 20.10's
# cluster store), and the docker_overlay role with one network, verified by its probe matrix.
OVERLAY_LAB_PLAY = [
    {'name': 'Key/value store', 'hosts': 'kv_servers', 'gather_facts': False,
     'roles': [{'role': 'hostnet.fabric.etcd'}]},
    {'name': 'Docker engines with the cluster store', 'hosts': 'docker_hosts', 'gather_facts': False,
     'roles': [{'role': 'hostnet.fabric.docker_daemon', 'vars': {
         'docker_daemon_cluster_store': "etcd://{{ hostvars[groups['kv_servers'][0]].hostnet_underlay_ip }}:2379",
         'docker_daemon_cluster_advertise': '{{ hostnet_underlay_iface }}:2376'}}]},
    {'name': 'Overlay network', 'hosts': 'docker_hosts', 'gather_facts': False,
     'roles': [{'role': 'hostnet.fabric.docker_overlay', 'vars': {
         'docker_overlay_networks': [{'name': 'ov_base', 'subnet': '10.98.1.0/24'}]}}]},
]


@pytest.fixture(scope='session')
def overlay_lab(request, tmp_path_factory):
    """A lab of its own (3 Debian 12 hosts, prefix po-) for docker_overlay's failure paths in kv-store
    mode, which stop etcd and recreate networks: they must never disturb the session's `lab`.
    etcd, docker_daemon (cluster store) and docker_overlay (network ov_base) are applied once.
    Only Debian 12 has an engine with a cluster store: on other distros the tests are skipped, saying why."""
    if request.param != 'bookworm':
        pytest.skip('docker_overlay kv-store mode needs Docker Engine 20.10 (cluster-store), i.e. a bookworm '
                    'lab; the %s lab has Engine %sx (swarm-mode overlays only)'
                    % (request.param, ENGINE_SERIES[request.param]))
    session = _lab_session(request, 'po', 3)
    try:
        for lab in session:  # one lab; resuming the loop after the tests runs its teardown
            play = tmp_path_factory.mktemp('overlay-lab') / 'overlay-lab.yml'
            play.write_text(yaml.safe_dump(OVERLAY_LAB_PLAY, sort_keys=False))
            rc, data = lab.playbook(play)
            if rc != 0:
                failed = ['%s: %s: %s' % (h, t['task']['name'], r.get('msg'))
                          for p in (data or {}).get('plays', []) for t in p['tasks']
                          for h, r in t['hosts'].items() if r.get('failed') and not r.get('ignore_errors')]
                pytest.fail('the overlay lab %s could not be set up (ansible-playbook exit %s):\n%s'
                            % (lab.name, rc, '\n'.join(failed)), pytrace=False)
            yield lab
    finally:
        session.close()  # after a failure: the lab's teardown (down, or kept with --lab-keep)
