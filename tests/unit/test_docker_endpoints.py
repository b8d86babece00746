"""Decisions of the Docker endpoint modules (module_utils/_docker_endpoints.py and the modules'
validate/run), against a fake engine. The fake only keeps what the decisions read (containers'
network settings, networks) and plays back the failures Engine 20.10 was seen to make; the real
engine is covered by the lab tests (tests/lab/test_overlay.py)."""
import pytest

from ansible_collections.hostnet.fabric.plugins.module_utils import _docker_endpoints as de
from ansible_collections.hostnet.fabric.plugins.module_utils._docker_api import EngineError
from ansible_collections.hostnet.fabric.plugins.modules import docker_endpoints as mod
from ansible_collections.hostnet.fabric.plugins.modules import docker_overlay_network as netmod
from ansible_collections.hostnet.fabric.plugins.modules import docker_overlay_anchor as anchormod
from ansible_collections.hostnet.fabric.plugins.modules import docker_probe as probemod

NET = 'ov1'
STORE = ('failed to update store for object type *libnetwork.endpoint: client: etcd cluster is unavailable or '
         'misconfigured; error #0: dial tcp 10.0.0.10:2379: connect: network is unreachable')
EXISTS = 'endpoint with name web already exists in network ov1'


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self):
        return self.now


class FakeEngine:
    """Containers keyed by name; ``script[call]`` is a list of what each call does in turn:
    None (works), 'store' / 'exists' / other text (fails with that error), 'store-but-done'
    (fails, yet takes effect), 'done-no-endpoint' (works, yet leaves no endpoint)."""

    def __init__(self, containers=(), networks=(NET,)):
        self.containers = {}
        for c in containers:
            self.add(**c)
        self.networks = {n: {'Id': 'id-' + n, 'Scope': 'global', 'Name': n} for n in networks}
        self.script = {}
        self.calls = []
        self.exec_script = {}

    def add(self, name, running=True, nets=None):
        self.containers[name] = {'Id': (name * 12)[:12] + 'f' * 52, 'Name': '/' + name,
                                 'State': {'Running': running},
                                 'NetworkSettings': {'Networks': nets if nets is not None else {}}}

    def _next(self, call):
        steps = self.script.get(call) or []
        return steps.pop(0) if steps else None

    def container(self, ref):
        for c in self.containers.values():
            if ref in (c['Name'][1:], c['Id']):
                return c
        return None

    def containers_on(self, network):
        return [c['Id'] for c in self.containers.values() if network in c['NetworkSettings']['Networks']]

    def network(self, ref):
        return self.networks.get(ref)

    def connect(self, network, container, ipv4_address=None, ipv6_address=None, aliases=None):
        self.calls.append(('connect', network, container))
        step = self._next('connect')
        ep = {'EndpointID': 'ep-' + container, 'Aliases': list(aliases or []) + [container],
              'IPAMConfig': {'IPv4Address': ipv4_address} if ipv4_address else None}
        if step in (None, 'store-but-done', 'done-no-endpoint'):
            if step == 'done-no-endpoint':
                ep['EndpointID'] = ''
            self.containers[container]['NetworkSettings']['Networks'][network] = ep
        if step is None or step == 'done-no-endpoint':
            return
        raise EngineError('connect %s to %s' % (container, network), 500,
                          {'store': STORE, 'exists': EXISTS, 'store-but-done': STORE}.get(step, step))

    def disconnect(self, network, container, force=True):
        self.calls.append(('disconnect', network, container))
        step = self._next('disconnect')
        c = self.container(container)
        if step is None or step == 'store-but-done':
            if c is None:
                if step is None and self._next('stale-missing'):
                    raise EngineError('disconnect', 404, 'endpoint %s not found' % container)
                return
            c['NetworkSettings']['Networks'].pop(network, None)
        if step is not None:
            raise EngineError('disconnect %s' % container, 500, STORE if step == 'store-but-done' else step)

    def remove_network(self, network):
        self.calls.append(('rm', network))
        step = self._next('rm')
        if step is None:
            self.networks.pop(network, None)
            return
        raise EngineError('remove network %s' % network, 403, step)

    def run(self, name, image, cmd, network, auto_remove=False, labels=None, restart=None, stop_signal=None):
        self.calls.append(('run', name, tuple(cmd)))
        step = self._next('run')
        if step is not None:
            raise EngineError('start container %s' % name, 500, step)
        self.add(name, nets={network: {'EndpointID': 'ep'}})
        self.containers[name].update(Image=image, Labels=dict(labels or {}), Restart=restart, StopSignal=stop_signal)
        return name

    def containers_labelled(self, label, value):
        # the list API's summary of each container
        return [{'Id': c['Id'], 'Names': [c['Name']], 'Image': c.get('Image'),
                 'State': 'running' if c['State']['Running'] else 'exited', 'Labels': c.get('Labels') or {},
                 'NetworkSettings': c['NetworkSettings']}
                for c in self.containers.values() if (c.get('Labels') or {}).get(label) == value]

    def wait(self, ref, timeout=60):
        return 0

    def remove(self, ref):
        self.calls.append(('remove', ref))
        return self.containers.pop(ref, None) is not None

    def exec_run(self, container, cmd, timeout=30):
        # a step is an exit code, or (exit code, output)
        self.calls.append(('exec', container, cmd[-1]))
        steps = self.exec_script.get(cmd[-1]) or [0]
        step = steps.pop(0) if len(steps) > 1 else steps[0]
        return step if isinstance(step, tuple) else (step, '')


def mutations(engine):
    return [c for c in engine.calls if c[0] in ('connect', 'disconnect', 'rm', 'run', 'remove')]


def web(**kw):
    want = {'container': 'web', 'ipv4_address': '10.1.0.5', 'ipv6_address': None, 'aliases': ['db']}
    want.update(kw)
    return want


def attached(**extra):
    ep = {'EndpointID': 'ep1', 'Aliases': ['db', 'web', 'webwebwebweb'], 'IPAMConfig': {'IPv4Address': '10.1.0.5'}}
    ep.update(extra)
    return {NET: ep}


# ---------------------------------------------------------------- connect
def test_attached_container_is_left_alone_and_drift_is_reported():
    eng = FakeEngine([{'name': 'web', 'nets': attached(IPAMConfig={'IPv4Address': '10.1.0.9'}, Aliases=['x'])}])
    out = de.Endpoints(eng, NET, clock=FakeClock()).connect([web()])
    assert out.unchanged == ['web'] and not out.changed and eng.calls == []
    assert out.drift == {'web': {'ipv4_address': {'current': '10.1.0.9', 'wanted': '10.1.0.5'},
                                 'aliases': {'current': ['x'], 'wanted': ['db']}}}
    assert de.connect_failure(NET, out) is None


def test_not_on_network_is_connected_once():
    eng = FakeEngine([{'name': 'web'}])
    clock = FakeClock()
    out = de.Endpoints(eng, NET, clock=clock).connect([web()])
    assert out.connected == ['web'] and out.changed and clock.sleeps == [] and out.waits == []
    assert eng.calls == [('connect', NET, 'web')]


def test_check_mode_predicts_and_changes_nothing():
    eng = FakeEngine([{'name': 'web'}, {'name': 'app', 'nets': attached()}])
    out = de.Endpoints(eng, NET, check_mode=True).connect([web(), web(container='app'), web(container='gone')])
    assert (out.connected, out.unchanged, out.missing, out.changed) == (['web'], ['app'], ['gone'], True)
    assert mutations(eng) == []


def test_a_failed_connect_that_took_effect_is_connected_not_failed():
    """The YAML version decided from the CLI's stderr: a connect that reported a store error but had
    connected the container counted as failed, while the rescue's later read of the container found
    it attached - "Containers of this host not back on the network: []" with a failed task. Here the
    container's state is read back after every try and decides."""
    eng = FakeEngine([{'name': 'web'}])
    eng.script['connect'] = ['store-but-done']
    clock = FakeClock()
    out = de.Endpoints(eng, NET, clock=clock).connect([web()])
    assert out.connected == ['web'] and out.failed == {} and out.stale == []
    assert eng.calls == [('connect', NET, 'web')] and clock.sleeps == []
    assert de.connect_failure(NET, out) is None
    assert 'on ov1 after try 1 (the engine said: failed to update store' in out.waits[0]


@pytest.mark.parametrize('failed, conflicts, stale, allow, wanted', [
    ({}, [], [], False, None),
    ({'web': '4 tries, last: boom'}, [], [], False, 'could not connect web to ov1: web: 4 tries, last: boom.'),
    ({'web': EXISTS}, ['web'], [], False, 'could not connect web to ov1: web: an endpoint of that name is already on '
                                          'the network (a container of the same name on another host?).'),
    ({'web': EXISTS}, [], ['web'], True, None),
    ({'web': EXISTS, 'b': 'x'}, [], ['web'], True, 'could not connect b to ov1: b: x.'),
])
def test_the_failure_message_names_exactly_the_containers_not_connected(failed, conflicts, stale, allow, wanted):
    out = de.Outcome()
    out.failed, out.conflicts, out.stale = dict(failed), list(conflicts), list(stale)
    msg = de.connect_failure(NET, out, allow_stale=allow)
    assert msg == wanted
    assert msg is None or 'could not connect []' not in msg and 'connect  to' not in msg


def test_store_error_then_success_waits_and_says_why():
    eng = FakeEngine([{'name': 'web'}])
    eng.script['connect'] = ['store']
    clock = FakeClock()
    out = de.Endpoints(eng, NET, tries=4, delay=3, clock=clock).connect([web()])
    assert out.connected == ['web'] and clock.sleeps == [3]
    assert out.waits[0] == ('web: try 1 of 4 to connect to ov1 failed (%s); waited 3s for the engine and its cluster '
                            'store before the next try' % STORE)


def test_already_exists_after_a_failed_try_is_the_containers_own_leftover():
    eng = FakeEngine([{'name': 'web'}])
    eng.script['connect'] = ['store', 'exists']
    out = de.Endpoints(eng, NET, clock=FakeClock()).connect([web()])
    assert out.stale == ['web'] and out.conflicts == [] and len(eng.calls) == 2
    assert de.connect_failure(NET, out, allow_stale=True) is None   # the play removes it from another engine
    assert 'web' in de.connect_failure(NET, out, allow_stale=False)


def test_already_exists_on_a_first_try_is_a_conflict_and_not_retried():
    eng = FakeEngine([{'name': 'web'}])
    eng.script['connect'] = ['exists']
    clock = FakeClock()
    out = de.Endpoints(eng, NET, clock=clock).connect([web()])
    assert out.conflicts == ['web'] and out.stale == [] and len(eng.calls) == 1 and clock.sleeps == []
    assert 'already on the network' in de.connect_failure(NET, out, allow_stale=True)


def test_with_stale_an_existing_endpoint_is_known_to_be_its_own():
    eng = FakeEngine([{'name': 'web'}])
    eng.script['connect'] = ['exists']
    out = de.Endpoints(eng, NET, clock=FakeClock()).connect([web()], stale=True)
    assert out.stale == ['web'] and out.conflicts == []
    msg = de.connect_failure(NET, out, allow_stale=False)
    assert msg == ('could not connect web to ov1: %s (its endpoint stays in the store after its removal from another '
                   'engine).' % ('web: ' + EXISTS))


def test_running_container_listing_the_network_without_endpoint_is_reconnected():
    eng = FakeEngine([{'name': 'web', 'nets': attached(EndpointID='')}])
    eng.script['connect'] = ['exists']  # its own endpoint: not a conflict
    out = de.Endpoints(eng, NET, clock=FakeClock()).connect([web()])
    assert eng.calls[0] == ('disconnect', NET, 'web') and out.stale == ['web'] and out.conflicts == []


def test_stopped_container_listing_the_network_is_attached():
    eng = FakeEngine([{'name': 'web', 'running': False, 'nets': attached(EndpointID='')}])
    out = de.Endpoints(eng, NET, clock=FakeClock()).connect([web()])
    assert out.unchanged == ['web'] and eng.calls == []


def test_tries_are_bounded_and_the_last_error_is_kept():
    eng = FakeEngine([{'name': 'web'}])
    eng.script['connect'] = ['store', 'store', 'boom']
    clock = FakeClock()
    out = de.Endpoints(eng, NET, tries=3, delay=2, clock=clock).connect([web()])
    assert out.failed == {'web': '3 tries, last: boom'} and clock.sleeps == [2, 2] and len(eng.calls) == 3
    assert len(out.waits) == 2


def test_a_connect_that_left_no_endpoint_is_tried_again():
    eng = FakeEngine([{'name': 'web'}])
    eng.script['connect'] = ['done-no-endpoint']
    out = de.Endpoints(eng, NET, clock=FakeClock()).connect([web()])
    assert out.connected == ['web']
    assert [c[0] for c in eng.calls] == ['connect', 'disconnect', 'connect']
    assert 'accepted the connect, but the container then had no endpoint' in out.waits[0]


def test_settle_reads_again_and_reconnects_one_that_lost_its_endpoint():
    eng = FakeEngine([{'name': 'web'}, {'name': 'app'}])
    clock = FakeClock()
    eps = de.Endpoints(eng, NET, clock=clock)
    orig_sleep = clock.sleep

    def sleep_and_lose(seconds):
        orig_sleep(seconds)
        if seconds == 5:
            eng.containers['web']['NetworkSettings']['Networks'][NET]['EndpointID'] = ''

    clock.sleep = sleep_and_lose
    out = eps.connect([web(), web(container='app')], settle=5)
    assert sorted(out.connected) == ['app', 'web'] and out.failed == {}
    assert eng.calls[-2:] == [('disconnect', NET, 'web'), ('connect', NET, 'web')]
    assert out.waits[0].startswith('waited 5s after connecting web, app to ov1, then read them again')


def test_missing_container_is_reported_not_failed():
    eng = FakeEngine()
    out = de.Endpoints(eng, NET, clock=FakeClock()).connect([web()])
    assert out.missing == ['web'] and not out.changed and de.connect_failure(NET, out) is None


# ---------------------------------------------------------------- disconnect / stale endpoints
def test_disconnect_all_records_how_to_reconnect():
    eng = FakeEngine([{'name': 'web', 'nets': attached()}, {'name': 'other', 'nets': {'ov2': {'EndpointID': 'x'}}},
                      {'name': 'off', 'running': False, 'nets': {NET: {'EndpointID': '', 'Aliases': None,
                                                                       'IPAMConfig': None}}}])
    out = de.Endpoints(eng, NET, clock=FakeClock()).disconnect_all()
    assert out.endpoints == [{'container': 'web', 'ipv4_address': '10.1.0.5', 'ipv6_address': None,
                              'aliases': ['db']},
                             {'container': 'off', 'ipv4_address': None, 'ipv6_address': None, 'aliases': []}]
    assert out.disconnected == ['web', 'off'] and out.changed
    assert NET not in eng.containers['web']['NetworkSettings']['Networks']


def test_disconnect_in_check_mode_records_and_changes_nothing():
    eng = FakeEngine([{'name': 'web', 'nets': attached()}])
    out = de.Endpoints(eng, NET, check_mode=True).disconnect_all()
    assert out.disconnected == ['web'] and out.endpoints[0]['container'] == 'web' and mutations(eng) == []


def test_a_failed_disconnect_that_took_effect_is_stale_not_failed():
    eng = FakeEngine([{'name': 'web', 'nets': attached()}])
    eng.script['disconnect'] = ['store-but-done']
    out = de.Endpoints(eng, NET, clock=FakeClock()).disconnect(['web'])
    assert out.disconnected == ['web'] and out.stale == ['web'] and out.failed == {}


def test_a_failed_disconnect_that_did_not_is_failed():
    eng = FakeEngine([{'name': 'web', 'nets': attached()}])
    eng.script['disconnect'] = ['boom']
    out = de.Endpoints(eng, NET, clock=FakeClock()).disconnect(['web'])
    assert out.failed == {'web': 'boom'} and out.disconnected == []


def test_remove_stale_never_touches_a_local_container():
    eng = FakeEngine([{'name': 'web', 'nets': attached()}])
    out = de.Endpoints(eng, NET, clock=FakeClock()).remove_stale(['web', 'ghost'])
    assert out.unchanged == ['web'] and out.removed == ['ghost'] and eng.calls == [('disconnect', NET, 'ghost')]
    assert 'web is a container on this engine' in out.waits[0]


def test_remove_stale_tolerates_nothing_there_and_predicts_in_check_mode():
    eng = FakeEngine()
    eng.script['disconnect'] = ['endpoint ghost not found']
    out = de.Endpoints(eng, NET, clock=FakeClock()).remove_stale(['ghost'])
    assert out.failed == {} and out.removed == [] and not out.changed
    eng = FakeEngine()
    out = de.Endpoints(eng, NET, check_mode=True).remove_stale(['ghost'])
    assert out.removed == ['ghost'] and out.changed and eng.calls == []


# ---------------------------------------------------------------- networks
def test_remove_network_retries_while_endpoints_remain():
    eng = FakeEngine()
    eng.script['rm'] = ['network ov1 id x has active endpoints'] * 2
    clock = FakeClock()
    changed, waits = de.remove_network(eng, NET, timeout=60, delay=3, clock=clock)
    assert changed and clock.sleeps == [3, 3] and NET not in eng.networks
    assert waits[0] == 'removing ov1 failed (network ov1 id x has active endpoints): waited 3s for its endpoints to go'


def test_remove_network_gives_up_after_timeout_saying_what_to_do():
    eng = FakeEngine()
    eng.script['rm'] = ['has active endpoints'] * 100
    clock = FakeClock()
    with pytest.raises(EngineError) as exc:
        de.remove_network(eng, NET, timeout=10, delay=3, clock=clock)
    assert clock.now <= 10 and 'still so after 10s' in exc.value.message
    assert 'docker network disconnect --force ov1 NAME' in exc.value.message


def test_remove_network_absent_or_check_mode():
    eng = FakeEngine(networks=())
    assert de.remove_network(eng, NET, 10, 3) == (False, [])
    eng = FakeEngine()
    assert de.remove_network(eng, NET, 10, 3, check_mode=True) == (True, []) and eng.calls == []


def test_wait_network_until_the_wanted_id():
    eng = FakeEngine()
    clock = FakeClock()
    seen = []

    def network(ref):
        seen.append(clock.now)
        return {'Id': 'new' if clock.now >= 4 else 'old', 'Scope': 'global'}

    eng.network = network
    net, waited, last = de.wait_network(eng, NET, timeout=30, delay=2, net_id='new', clock=clock)
    assert net['Id'] == 'new' and waited == 4 and clock.sleeps == [2, 2]
    net, waited, last = de.wait_network(eng, NET, timeout=5, delay=2, scope='swarm', clock=clock)
    assert net is None and waited <= 5 and last == 'new (scope global)'


# ---------------------------------------------------------------- probes
def test_probe_start_uses_a_name_per_try():
    eng = FakeEngine()
    eng.script['run'] = [STORE, 'endpoint with name p-2 already exists']
    clock = FakeClock()
    name, failed, waits, last = de.start_probe(eng, 'p', NET, 'img', tries=5, delay=3, clock=clock)
    assert name == 'p-3' and failed == ['p-1', 'p-2'] and last is None and clock.sleeps == [3, 3]
    assert 'then a new name (the failed start may have left its endpoint behind)' in waits[0]


def test_probe_start_gives_up_after_its_tries():
    eng = FakeEngine()
    eng.script['run'] = ['boom'] * 3
    name, failed, _waits, last = de.start_probe(eng, 'p', NET, 'img', tries=3, delay=1, clock=FakeClock())
    assert name is None and failed == ['p-1', 'p-2', 'p-3'] and last == 'boom'


def test_nudge_runs_a_short_lived_container_and_removes_it():
    eng = FakeEngine()
    ok, failed, _w, _l = de.nudge(eng, 'n', NET, 'img', tries=3, delay=1, clock=FakeClock())
    assert ok and failed == [] and ('run', 'n-1', ('true',)) in eng.calls and 'n-1' not in eng.containers


def test_ping_all_waits_bounded_for_names_to_arrive():
    eng = FakeEngine()
    eng.exec_script = {'b': [1, 1, 0], 'c': [1]}
    clock = FakeClock()
    pings, waits = de.ping_all(eng, 'a', ['b', 'c'], timeout=12, delay=5, clock=clock)
    assert pings == [{'to': 'b', 'rc': 0, 'ok': True, 'tries': 3, 'waited': None, 'why': None},
                     {'to': 'c', 'rc': 1, 'ok': False, 'tries': 3, 'waited': 10,
                      'why': 'the name resolves to an address, no reply (VXLAN traffic, or where that address lives '
                             'has not reached this host)'}]
    assert clock.sleeps == [5, 5]
    assert waits[0].startswith('a cannot ping b (the name resolves to an address, no reply')
    assert waits[0].endswith('waited 5s for the names to reach this engine (store watch and gossip, repaired by the '
                             'next push/pull)')


BUSYBOX_UNRESOLVED = "ping: bad address 'hfprobe-ov-h4-1'\n"
BUSYBOX_NO_REPLY = ('PING hfprobe-ov-h4-1 (10.10.0.4): 56 data bytes\n\n--- hfprobe-ov-h4-1 ping statistics ---\n'
                    '2 packets transmitted, 0 packets received, 100% packet loss\n')
IPUTILS_UNRESOLVED = 'ping: hfprobe-ov-h4-1: Name or service not known\n'


@pytest.mark.parametrize('rc, output, why', [
    (0, 'PING x (10.0.0.2): 56 data bytes', None),
    (1, BUSYBOX_UNRESOLVED, de.UNRESOLVED),
    (2, IPUTILS_UNRESOLVED, de.UNRESOLVED),
    (1, BUSYBOX_NO_REPLY, de.NO_REPLY % '10.10.0.4'),
    (-1, '', de.NO_EXEC),
])
def test_a_miss_says_whether_the_name_resolved(rc, output, why):
    assert de.ping_miss(rc, output) == why


def test_a_miss_reports_what_the_last_try_saw():
    eng = FakeEngine()
    eng.exec_script = {'b': [(1, BUSYBOX_UNRESOLVED), (1, BUSYBOX_NO_REPLY)]}
    pings, waits = de.ping_all(eng, 'a', ['b'], timeout=6, delay=5, clock=FakeClock())
    assert pings[0]['why'] == de.NO_REPLY % '10.10.0.4' and pings[0]['tries'] == 2
    assert waits == ['a cannot ping b (%s) yet: waited 5s for the names to reach this engine (store watch and gossip, '
                     'repaired by the next push/pull)' % de.UNRESOLVED]


# ---------------------------------------------------------------- the modules' input checks and runs
def params(**kw):
    p = {'network': NET, 'state': 'present', 'endpoints': [], 'all': False, 'stale': False, 'tries': 4, 'delay': 3,
         'settle': 0, 'docker_host': 'unix:///var/run/docker.sock'}
    p.update(kw)
    return p


@pytest.mark.parametrize('kw, param, text', [
    ({'network': 'bad net'}, 'network', "network: must be a Docker network name (got 'bad net')"),
    ({'tries': 0}, 'tries', 'tries: must be 1 or more (got 0)'),
    ({'all': True}, 'all', 'all: only with state=absent'),
    ({'all': True, 'state': 'absent', 'stale': True}, 'all', 'all: takes every container of this engine: give '
                                                             'neither endpoints nor stale'),
    ({'endpoints': [{'container': 'a', 'ipv4_address': '10.0.0.300'}]}, 'endpoints[0].ipv4_address',
     "endpoints[0].ipv4_address: must be an IPv4 address (got '10.0.0.300')"),
    ({'endpoints': [{'container': 'a', 'ipv6_address': '10.0.0.3'}]}, 'endpoints[0].ipv6_address',
     "endpoints[0].ipv6_address: must be an IPv6 address (got '10.0.0.3')"),
    ({'endpoints': [{'container': 'a'}, {'container': 'a'}]}, 'endpoints[1].container',
     'endpoints[1].container: a is listed twice'),
    ({'docker_host': 'tcp://x:2375'}, 'docker_host', "docker_host: only unix:// sockets are supported"),
])
def test_docker_endpoints_rejects_bad_input(kw, param, text):
    with pytest.raises(mod.BadInput) as exc:
        mod.validate(params(**kw))
    assert exc.value.param == param and str(exc.value).startswith(text)


def test_docker_endpoints_run_fails_only_on_what_is_not_connected():
    eng = FakeEngine([{'name': 'web'}, {'name': 'app'}])
    eng.script['connect'] = ['store', 'exists', None]
    p = mod.validate(params(endpoints=[{'container': 'web', 'aliases': None}, {'container': 'app'}]))
    msg, res = mod.run(p, eng, False, FakeClock())
    assert msg is None and res['stale'] == ['web'] and res['connected'] == ['app'] and res['errors'] == {'web': EXISTS}
    # connected again after the play removed the leftover from another engine
    msg, res = mod.run(dict(p, stale=True, endpoints=[p['endpoints'][0]]), eng, False, FakeClock())
    assert msg is None and res['connected'] == ['web']


def test_docker_probe_checks_labels_and_check_mode_does_nothing():
    base = {'name': 'p', 'network': NET, 'state': 'pinged', 'image': 'i', 'targets': ['a', 'b'], 'label': 'h1',
            'target_labels': ['h2'], 'count': 2, 'tries': 5, 'delay': 3, 'timeout': 60,
            'docker_host': 'unix:///x'}
    with pytest.raises(probemod.BadInput) as exc:
        probemod.validate(dict(base))
    assert str(exc.value) == 'target_labels: must have one label per target (2 targets, 1 labels)'
    eng = FakeEngine()
    msg, res = probemod.run(dict(base, target_labels=['h2', 'h3'], state='started'), eng, True)
    assert msg is None and res['name'] is None and 'check mode' in res['msg'] and eng.calls == []
    msg, res = probemod.run(dict(base, target_labels=['h2', 'h3']), eng, False, FakeClock())
    assert [(r['from'], r['to'], r['target'], r['ok']) for r in res['pings']] == [('h1', 'h2', 'a', True),
                                                                                  ('h1', 'h3', 'b', True)]


def test_docker_overlay_network_seen_in_check_mode_does_not_wait_or_fail():
    eng = FakeEngine(networks=())
    p = {'name': NET, 'state': 'seen', 'scope': 'global', 'id': None, 'timeout': 60, 'delay': 2,
         'docker_host': 'unix:///x'}
    clock = FakeClock()
    msg, res = netmod.run(p, eng, True, clock)
    assert msg is None and clock.sleeps == [] and 'did not wait' in res['msg']
    msg, res = netmod.run(p, eng, False, clock)
    assert msg == ('this engine does not see network ov1 with scope global after waiting 60s for it '
                   '(seen: no such network)')
    assert clock.now <= 60


def test_a_probe_start_without_answer_in_time_is_a_failed_try():
    eng = FakeEngine()
    eng.script['run'] = ['cannot reach the Docker engine at unix:///var/run/docker.sock: timed out']
    name, failed, waits, _last = de.start_probe(eng, 'p', NET, 'img', tries=5, delay=3, clock=FakeClock())
    assert name == 'p-2' and failed == ['p-1'] and 'timed out' in waits[0]


def test_a_ping_without_answer_from_the_engine_is_a_miss_of_that_round():
    eng = FakeEngine()
    calls = []

    def exec_run(container, cmd, timeout=30):
        calls.append(cmd[-1])
        if len(calls) == 1:
            raise EngineError('exec in a', 0, 'timed out')
        return 0, ''

    eng.exec_run = exec_run
    pings, _waits = de.ping_all(eng, 'a', ['b'], timeout=30, delay=5, clock=FakeClock())
    assert pings[0]['ok'] and pings[0]['tries'] == 2


def test_exec_run_reads_again_an_exit_code_not_recorded_yet(monkeypatch):
    # the exec's output stream can end before the engine records its exit code: a null ExitCode
    # (still Running) is read again, never taken for a failed ping
    from ansible_collections.hostnet.fabric.plugins.module_utils import _docker_api as api
    looks = iter([{'Running': True, 'ExitCode': None}, {'Running': False, 'ExitCode': 0}])
    calls = []

    def fake_request(_host, method, url, body=None, timeout=10, raw=False):
        calls.append((method, url))
        if url.endswith('/exec'):
            return 201, {'Id': 'e1'}
        if url.endswith('/start'):
            assert raw
            return 200, b'\x01\x00\x00\x00\x00\x00\x00\x03ok\n\x02\x00\x00\x00\x00\x00\x00\x04err\n'
        return 200, next(looks)
    monkeypatch.setattr(api, 'request', fake_request)
    monkeypatch.setattr(api.time, 'sleep', lambda _s: None)
    assert api.Engine().exec_run('p1', ['ping', '-c', '1', 'x']) == (0, 'ok\nerr\n')
    assert [u for _m, u in calls].count('/exec/e1/json') == 2


@pytest.mark.parametrize('stream, text', [
    (b'', ''),
    (b'\x01\x00\x00\x00\x00\x00\x00\x02hi', 'hi'),
    (b'plain text, no frames', 'plain text, no frames'),
    (b'\x01\x00\x00\x00\x00\x00\x00\x09' + 'caf\u00e9 ok\n'.encode('utf-8') + b'\x02\x00\x00\x00\x00\x00\x00\x01!',
     'caf\u00e9 ok\n!'),
])
def test_demux_reads_the_exec_stream(stream, text):
    from ansible_collections.hostnet.fabric.plugins.module_utils import _docker_api as api
    assert api.demux(stream) == text


# ---------------------------------------------------------------- anchors (docker_overlay_anchor)
def anchored(eng, name, network=NET, image='img', running=True, endpoint=True):
    eng.add(name, running=running, nets={network: {'EndpointID': 'ep' if endpoint else ''}})
    eng.containers[name].update(Image=image, Labels={de.ANCHOR_LABEL: network})


def anchor_params(**kw):
    p = {'network': NET, 'name': 'hfanchor-' + NET, 'image': 'img', 'state': 'present', 'tries': 3, 'delay': 2,
         'docker_host': 'unix:///var/run/docker.sock'}
    p.update(kw)
    return p


def test_an_anchor_is_started_with_its_label_restart_policy_and_stop_signal():
    eng = FakeEngine()
    fail, res = anchormod.run(anchor_params(), eng, check_mode=False, clock=FakeClock())
    assert fail is None and res['changed'] and res['anchor'] == 'hfanchor-%s-1' % NET
    c = eng.containers['hfanchor-%s-1' % NET]
    assert c['Labels'] == {de.ANCHOR_LABEL: NET} and c['Restart'] == 'unless-stopped' and c['StopSignal'] == 'SIGKILL'
    assert ('run', 'hfanchor-%s-1' % NET, tuple(de.ANCHOR_COMMAND)) in eng.calls
    assert res['diff'] == {'before': {'anchors': []}, 'after': {'anchors': ['hfanchor-%s-1' % NET]}}
    # a second run finds it by its label: nothing to do
    fail, res = anchormod.run(anchor_params(), eng, check_mode=False, clock=FakeClock())
    assert fail is None and not res['changed'] and res['msg'] == 'anchor hfanchor-%s-1 holds %s' % (NET, NET)


def test_check_mode_predicts_the_start_and_touches_nothing():
    eng = FakeEngine(networks=())  # the network does not exist yet: the same check run predicts its creation
    fail, res = anchormod.run(anchor_params(), eng, check_mode=True, clock=FakeClock())
    assert fail is None and res['changed'] and res['anchor'] is None
    assert res['actions'] == ['start an anchor on %s' % NET] and res['msg'].startswith('check mode, would: ')
    assert mutations(eng) == [] and eng.containers == {}


@pytest.mark.parametrize('kw, why', [
    ({'running': False}, 'it is exited, not running'),
    ({'image': 'old'}, 'it runs the image old, not img'),
    ({'endpoint': False}, 'it has no endpoint on %s' % NET),
])
def test_a_broken_anchor_is_replaced_saying_why(kw, why):
    eng = FakeEngine()
    anchored(eng, 'hfanchor-%s-1' % NET, **kw)
    fail, res = anchormod.run(anchor_params(), eng, check_mode=False, clock=FakeClock())
    assert fail is None and res['changed']
    assert res['actions'] == ['remove hfanchor-%s-1 (%s)' % (NET, why), 'start an anchor on %s' % NET]
    assert ('remove', 'hfanchor-%s-1' % NET) in eng.calls and res['anchor'] == 'hfanchor-%s-1' % NET
    assert eng.containers['hfanchor-%s-1' % NET]['Image'] == 'img'


def test_extra_anchors_are_removed_and_the_working_one_kept():
    eng = FakeEngine()
    anchored(eng, 'hfanchor-%s-2' % NET)
    anchored(eng, 'hfanchor-%s-3' % NET)
    fail, res = anchormod.run(anchor_params(), eng, check_mode=False, clock=FakeClock())
    assert fail is None and res['changed'] and res['anchor'] == 'hfanchor-%s-2' % NET
    assert res['actions'] == ['remove hfanchor-%s-3 (another anchor of %s runs already)' % (NET, NET)]
    assert [c for c in mutations(eng) if c[0] == 'run'] == []


def test_a_failed_start_tries_a_name_of_its_own_and_says_what_it_waited_for():
    eng = FakeEngine()
    eng.script['run'] = [STORE]
    clock = FakeClock()
    fail, res = anchormod.run(anchor_params(), eng, check_mode=False, clock=clock)
    assert fail is None and res['anchor'] == 'hfanchor-%s-2' % NET and clock.sleeps == [2]
    assert res['waits'][0].startswith('starting anchor hfanchor-%s-1 on %s failed (' % (NET, NET))


def test_no_anchor_after_every_try_fails_naming_the_network_and_the_last_error():
    eng = FakeEngine()
    eng.script['run'] = ['boom', 'boom', 'boom']
    fail, res = anchormod.run(anchor_params(), eng, check_mode=False, clock=FakeClock())
    assert fail == 'could not start an anchor on %s in 3 tries (names hfanchor-%s-1..3), last: boom' % (NET, NET)
    assert res['anchor'] is None and eng.containers == {}


def test_absent_removes_every_anchor_of_the_network_only():
    eng = FakeEngine()
    anchored(eng, 'hfanchor-%s-1' % NET)
    anchored(eng, 'hfanchor-other-1', network='other')
    fail, res = anchormod.run(anchor_params(state='absent'), eng, check_mode=False, clock=FakeClock())
    assert fail is None and res['changed'] and set(eng.containers) == {'hfanchor-other-1'}
    fail, res = anchormod.run(anchor_params(state='absent'), eng, check_mode=False, clock=FakeClock())
    assert fail is None and not res['changed'] and res['msg'] == 'no anchor on %s' % NET


@pytest.mark.parametrize('kw, param', [
    ({'network': 'bad net'}, 'network'),
    ({'name': ''}, 'name'),
    ({'image': 'a b'}, 'image'),
    ({'tries': 0}, 'tries'),
    ({'delay': -1}, 'delay'),
    ({'docker_host': 'tcp://x:2375'}, 'docker_host'),
])
def test_anchor_input_is_checked_before_the_engine_is_asked(kw, param):
    with pytest.raises(anchormod.BadInput) as err:
        anchormod.validate(anchor_params(**kw))
    assert err.value.param == param


# ---------------------------------------------------------------- threads in destroyed namespaces (docker_probe)
def fake_proc(tmp_path, threads, sandboxes):
    """A /proc with this process ('self') in namespace 'host', dockerd (PID 7) with ``threads`` {tid: namespace}, and
    ``sandboxes`` namespace files: namespaces are files whose inode stands for the namespace."""
    ns = tmp_path / 'ns'
    ns.mkdir()
    for name in set(threads.values()) | set(sandboxes) | {'host'}:
        (ns / name).write_text(name)
    proc = tmp_path / 'proc'
    (proc / 'self' / 'ns').mkdir(parents=True)
    (proc / 'self' / 'ns' / 'net').symlink_to(ns / 'host')
    for tid, name in threads.items():
        (proc / '7' / 'task' / str(tid) / 'ns').mkdir(parents=True)
        (proc / '7' / 'task' / str(tid) / 'ns' / 'net').symlink_to(ns / name)
    (proc / '7' / 'cmdline').write_bytes(b'/usr/bin/dockerd\0--exec-root\0/x/exec\0')
    box = tmp_path / 'netns'
    box.mkdir()
    for name in sandboxes:
        (box / name).symlink_to(ns / name)
    return str(proc), str(box)


def test_threads_in_destroyed_namespaces_are_counted(tmp_path):
    from ansible_collections.hostnet.fabric.plugins.module_utils import _docker_api as api
    proc, box = fake_proc(tmp_path, {7: 'host', 8: 'host', 9: 'sandbox1', 10: 'gone1', 11: 'gone2'}, ['sandbox1'])
    assert api.threads_in_dead_netns(7, box, proc) == 2
    assert api.threads_in_dead_netns(99, box, proc) is None
    assert api.exec_root(7, proc) == '/x/exec'
    assert api.exec_root(99, proc, daemon_json=str(tmp_path / 'none.json')) == '/run/docker'


def test_a_miss_says_when_the_engine_has_threads_in_destroyed_namespaces():
    eng = FakeEngine()
    eng.exec_script = {'b': [(1, BUSYBOX_UNRESOLVED)]}
    eng.dead_netns_threads = lambda: 2
    fail, res = probemod.run({'name': 'a', 'state': 'pinged', 'network': None, 'targets': ['b'], 'label': 'h1',
                              'target_labels': ['h2'], 'count': 1, 'timeout': 0, 'delay': 1, 'tries': 1,
                              'image': 'img', 'docker_host': 'unix:///var/run/docker.sock'},
                             eng, check_mode=False, clock=FakeClock())
    assert fail is None and res['dead_netns_threads'] == 2
    assert res['msg'].endswith('; the engine has 2 thread(s) in destroyed network namespaces, whose store and gossip '
                               'calls fail (Engine 20.10; restarting the engine clears them, docker_overlay_anchor '
                               'keeps new ones from appearing)')
    eng.exec_script = {'b': [0]}
    fail, res = probemod.run({'name': 'a', 'state': 'pinged', 'network': None, 'targets': ['b'], 'label': 'h1',
                              'target_labels': ['h2'], 'count': 1, 'timeout': 0, 'delay': 1, 'tries': 1,
                              'image': 'img', 'docker_host': 'unix:///var/run/docker.sock'},
                             eng, check_mode=False, clock=FakeClock())
    assert 'dead_netns_threads' not in res  # only looked at after a miss


def test_the_engine_pid_comes_from_the_pidfile_when_systemd_holds_the_socket(tmp_path, monkeypatch):
    from ansible_collections.hostnet.fabric.plugins.module_utils import _docker_api as api
    comms = {1: 'systemd', 42: 'dockerd'}
    monkeypatch.setattr(api, '_is_dockerd', lambda pid, proc='/proc': comms.get(pid) == 'dockerd')
    pidfile = tmp_path / 'docker.pid'
    pidfile.write_text('42\n')
    # no engine socket at that path: the peer is unknown, the pidfile names dockerd
    assert api.engine_pid('unix://%s' % (tmp_path / 'none.sock'), pidfile=str(pidfile)) == 42
    pidfile.write_text('1\n')  # a pidfile that names another program is not taken
    assert api.engine_pid('unix://%s' % (tmp_path / 'none.sock'), pidfile=str(pidfile)) is None
