# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to hostnet.fabric: not a public API, may change without notice.
#
# The decisions of the Docker endpoint modules (docker_endpoints, docker_probe,
# docker_overlay_network), with the engine behind _docker_api.Engine (a fake one in the unit tests)
# and time behind ``clock`` (sleep, monotonic), so that every decision is tested without Docker.
#
# Engine 20.10 with a cluster store, as seen on the lab (docs/design.md, "Docker endpoints"):
#   - a connect (or a container start) sometimes fails with "failed to update store ... etcd cluster
#     is unavailable ... network is unreachable" while the store is fine, and then fails to roll
#     back: the endpoint stays in the store and every later connect of that name says "endpoint
#     with name NAME already exists". Only an engine where NAME is not a local container removes it
#     (a forced disconnect by name): the module on THIS host cannot, so it returns such names as
#     ``stale`` and the role removes them from another host (state=absent, stale=true) and connects
#     them again (stale=true: an "already exists" is then known to be the container's own leftover);
#   - a connect that reported an error has sometimes taken effect, and a connect that succeeded is
#     sometimes followed by the container listing the network without an endpoint. So the outcome
#     of every try is read back from the container, never taken from the API's answer alone: the
#     state read from the engine is the one source of truth for "connected" and for the failure
#     message (the YAML version decided from the CLI's stderr and reported from a later read, and
#     so could fail saying that the containers not back were [] - see test_docker_endpoints.py);
#   - the store watch misses endpoint changes made at one moment on several hosts: a short-lived
#     container on the network afterwards makes every engine re-read the list (docker_probe nudge).
# Every bounded wait says what it waited for and why, in ``waits`` and in the failure message.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible_collections.hostnet.fabric.plugins.module_utils._docker_api import EngineError

# an endpoint's state on a network, read from the container
ABSENT = 'absent'        # the network is not in the container's settings
ATTACHED = 'attached'    # listed, with an endpoint (or a stopped container that lists it)
LOST = 'lost'            # a running container lists the network without an endpoint

EXISTS = 'exists'
GONE = 'gone'
OTHER = 'other'


class Clock(object):
    """Real time; the unit tests pass a fake one that records the sleeps."""

    def sleep(self, seconds):
        time.sleep(seconds)

    def monotonic(self):
        return time.monotonic()


def classify(message):
    """What an engine error means for the next step."""
    text = (message or '').lower()
    if 'already exists' in text:
        return EXISTS
    if 'no such container' in text:
        return GONE
    return OTHER


def not_there(message):
    """An error that says there was nothing to disconnect or remove."""
    text = (message or '').lower()
    return any(s in text for s in ('not found', 'is not connected', 'no such container', 'no such network',
                                   'not connected to'))


def container_name(container):
    return (container.get('Name') or '').lstrip('/')


def endpoint_state(container, network):
    nets = (container.get('NetworkSettings') or {}).get('Networks') or {}
    ep = nets.get(network)
    if ep is None:
        return ABSENT
    if (container.get('State') or {}).get('Running') and not ep.get('EndpointID'):
        return LOST
    return ATTACHED


def endpoint_of(container, network):
    """How to connect ``container`` to ``network`` again as it is now: {container, ipv4_address,
    ipv6_address, aliases}; the aliases Docker adds by itself (the short id, the name) are left out."""
    nets = (container.get('NetworkSettings') or {}).get('Networks') or {}
    ep = nets.get(network) or {}
    ipam = ep.get('IPAMConfig') or {}
    name = container_name(container)
    own = set([name, (container.get('Id') or '')[:12]])
    aliases = []
    for alias in ep.get('Aliases') or []:
        if alias not in own and alias not in aliases:
            aliases.append(alias)
    return {'container': name, 'ipv4_address': ipam.get('IPv4Address') or None,
            'ipv6_address': ipam.get('IPv6Address') or None, 'aliases': aliases}


def drift(container, network, want):
    """Settings of an attached endpoint that differ from ``want`` (only the ones the user set)."""
    have = endpoint_of(container, network)
    out = {}
    for key in ('ipv4_address', 'ipv6_address'):
        if want.get(key) and want[key] != have[key]:
            out[key] = {'current': have[key], 'wanted': want[key]}
    missing = [a for a in want.get('aliases') or [] if a not in have['aliases']]
    if missing:
        out['aliases'] = {'current': have['aliases'], 'wanted': list(want.get('aliases') or [])}
    return out


class Outcome(object):
    """What one module run did and found, in the shape the modules return."""

    def __init__(self):
        self.changed = False
        self.connected = []      # connected (or, in check mode, would be)
        self.disconnected = []
        self.removed = []        # stale endpoints removed by name
        self.unchanged = []
        self.missing = []        # no such container on this engine
        self.stale = []          # an endpoint of this name is left in the store: remove it from another engine
        self.conflicts = []      # "already exists" on a first try: another container holds the name
        self.failed = {}         # container -> last error
        self.drift = {}          # container -> {setting: {current, wanted}}
        self.endpoints = []      # endpoints as they were before (state=absent: how to reconnect them)
        self.waits = []          # every bounded wait: what for, and why

    def result(self):
        return {'changed': self.changed, 'connected': self.connected, 'disconnected': self.disconnected,
                'removed': self.removed, 'unchanged': self.unchanged, 'missing': self.missing, 'stale': self.stale,
                'conflicts': self.conflicts, 'errors': self.failed, 'drift': self.drift,
                'endpoints': self.endpoints, 'waits': self.waits}


class Endpoints(object):
    """Connect and disconnect containers of one engine on one network, with bounded tries."""

    def __init__(self, engine, network, tries=4, delay=3, check_mode=False, clock=None):
        self.engine = engine
        self.network = network
        self.tries = max(1, tries)
        self.delay = delay
        self.check_mode = check_mode
        self.clock = clock or Clock()
        self.out = Outcome()

    def _wait(self, seconds, why):
        self.out.waits.append(why)
        self.clock.sleep(seconds)

    # ------------------------------------------------------------ connect
    def _state(self, name):
        container = self.engine.container(name)
        return container, (endpoint_state(container, self.network) if container else None)

    def connect(self, wants, stale=False, settle=0):
        """Connect every wanted endpoint that is not attached; ``stale``: an endpoint of its name that
        "already exists" is its own leftover (removed from another engine before this call)."""
        todo = []
        for want in wants:
            name = want['container']
            container, state = self._state(name)
            if container is None:
                self.out.missing.append(name)
            elif state == ATTACHED:
                self.out.unchanged.append(name)
                found = drift(container, self.network, want)
                if found:
                    self.out.drift[name] = found
            else:
                todo.append((want, state))
        if self.check_mode:
            for want, _state in todo:
                self.out.connected.append(want['container'])
            self.out.changed = bool(todo)
            return self.out
        for want, state in todo:
            self._connect_one(want, state, stale)
        if settle and self.out.connected:
            # seen on Engine 20.10: a connect that succeeded, and shortly after the container lists
            # the network without an endpoint
            self._wait(settle, 'waited %ss after connecting %s to %s, then read them again: Engine 20.10 sometimes '
                       'drops an endpoint shortly after a successful connect'
                       % (settle, ', '.join(self.out.connected), self.network))
            for want in [w for w in wants if w['container'] in self.out.connected]:
                _container, state = self._state(want['container'])
                if state != ATTACHED:
                    self.out.connected.remove(want['container'])
                    self._connect_one(want, state, stale, again=True)
        self.out.changed = bool(self.out.connected or self.out.disconnected)
        return self.out

    def _connect_one(self, want, state, stale, again=False):
        name = want['container']
        # a running container that lists the network without an endpoint: that endpoint is its own
        own = stale or state == LOST
        last = None
        for attempt in range(1, self.tries + 1):
            if state == LOST:
                # drop the setting that has no endpoint, so that the engine connects it afresh
                try:
                    self.engine.disconnect(self.network, name, force=True)
                except EngineError:
                    pass
            try:
                self.engine.connect(self.network, name, want.get('ipv4_address'), want.get('ipv6_address'),
                                    want.get('aliases'))
                last = None
            except EngineError as exc:
                last = exc.message
            # the container's own state decides, not the API's answer: a failed call may have taken
            # effect, and a successful one may have left no endpoint
            container, state = self._state(name)
            if container is None:
                self.out.missing.append(name)
                return
            if state == ATTACHED:
                self.out.connected.append(name)
                if attempt > 1 or again or last:
                    said = ' (the engine said: %s)' % last if last else ''
                    self.out.waits.append('%s: on %s after try %d%s' % (name, self.network, attempt, said))
                return
            if last is None:
                last = 'the engine accepted the connect, but the container then had no endpoint on %s' % self.network
                own = True
            elif classify(last) == EXISTS:
                if not own:
                    self.out.conflicts.append(name)
                    self.out.failed[name] = last
                    return
                # its own endpoint, left in the store by a failed try: only another engine removes it
                self.out.stale.append(name)
                self.out.failed[name] = last
                return
            elif classify(last) == GONE:
                self.out.missing.append(name)
                return
            else:
                # a failed store update may leave the endpoint behind
                own = True
            if attempt < self.tries:
                self._wait(self.delay, '%s: try %d of %d to connect to %s failed (%s); waited %ss for the engine and '
                           'its cluster store before the next try' % (name, attempt, self.tries, self.network, last,
                                                                      self.delay))
        self.out.failed[name] = '%d tries, last: %s' % (self.tries, last)

    # ------------------------------------------------------------ disconnect
    def disconnect_all(self):
        """Disconnect every container of this engine from the network; ``endpoints`` says how to
        connect them again (address, aliases)."""
        for cid in self.engine.containers_on(self.network):
            container = self.engine.container(cid)
            if container is None or endpoint_state(container, self.network) == ABSENT:
                continue
            self.out.endpoints.append(endpoint_of(container, self.network))
        return self.disconnect([ep['container'] for ep in self.out.endpoints], record=False)

    def disconnect(self, names, record=True):
        for name in names:
            container = self.engine.container(name)
            if container is None:
                self.out.missing.append(name)
                continue
            if endpoint_state(container, self.network) == ABSENT:
                self.out.unchanged.append(name)
                continue
            if record:
                self.out.endpoints.append(endpoint_of(container, self.network))
            if self.check_mode:
                self.out.disconnected.append(name)
                continue
            try:
                self.engine.disconnect(self.network, name, force=True)
            except EngineError as exc:
                container = self.engine.container(name)
                if container is not None and endpoint_state(container, self.network) != ABSENT:
                    self.out.failed[name] = exc.message
                    continue
                # it is off the network, but the failed call may have left its endpoint in the store
                self.out.stale.append(name)
            self.out.disconnected.append(name)
        self.out.changed = bool(self.out.disconnected)
        return self.out

    def remove_stale(self, names):
        """Remove, by name, endpoints that are not containers of this engine (what a failed call on
        another engine left in the store). A local container of that name is never touched."""
        for name in names:
            if self.engine.container(name) is not None:
                self.out.unchanged.append(name)
                self.out.waits.append('%s is a container on this engine: its endpoint is not removed from here' % name)
                continue
            if self.check_mode:
                self.out.removed.append(name)
                continue
            try:
                self.engine.disconnect(self.network, name, force=True)
            except EngineError as exc:
                if not not_there(exc.message):
                    self.out.failed[name] = exc.message
                continue
            self.out.removed.append(name)
        self.out.changed = bool(self.out.removed)
        return self.out


def connect_failure(network, out, allow_stale=False, mode_hint=''):
    """The failure message of a connect run, or None: built from ``out`` alone, so it names exactly
    the containers that are not attached (and is None when every one of them is). ``allow_stale``:
    names in ``out.stale`` are not a failure yet (the play removes them from another engine and
    connects them again)."""
    failed = dict((n, e) for n, e in out.failed.items() if not (allow_stale and n in out.stale))
    if not failed:
        return None
    parts = []
    if out.conflicts:
        parts.append('%s: an endpoint of that name is already on the network (a container of the same name on '
                     'another host?)' % ', '.join(out.conflicts))
    other = [n for n in sorted(failed) if n not in out.conflicts]
    stays = ' (its endpoint stays in the store after its removal from another engine)'
    if other:
        parts.append('; '.join('%s: %s%s' % (n, failed[n], stays if n in out.stale else '') for n in other))
    hint = (' ' + mode_hint) if mode_hint else ''
    return 'could not connect %s to %s: %s.%s' % (', '.join(sorted(failed)), network, ' '.join(parts), hint)


# ---------------------------------------------------------------- networks (docker_overlay_network)
def remove_network(engine, network, timeout, delay, check_mode=False, clock=None):
    """Remove ``network``, retrying (bounded) while the engine refuses because endpoints remain.
    Returns (changed, waits); raises EngineError (its message says what remained) after ``timeout``."""
    clock = clock or Clock()
    waits = []
    if engine.network(network) is None:
        return False, waits
    if check_mode:
        return True, waits
    deadline = clock.monotonic() + timeout
    while True:
        try:
            engine.remove_network(network)
            return True, waits
        except EngineError as exc:
            if 'no such network' in exc.message.lower() or exc.status == 404:
                return True, waits
            if clock.monotonic() + delay > deadline:
                raise EngineError(exc.what, exc.status, '%s (still so after %ss of tries: active endpoints are '
                                  'containers of engines outside this play, or endpoints a failed call left in the '
                                  'store; `docker network disconnect --force %s NAME` on a host where NAME is not a '
                                  'container removes one)' % (exc.message, timeout, network))
            waits.append('removing %s failed (%s): waited %ss for its endpoints to go' % (network, exc.message, delay))
            clock.sleep(delay)


def wait_network(engine, network, timeout, delay, scope=None, net_id=None, clock=None):
    """Wait (bounded) until this engine sees ``network`` (with ``scope`` and/or Id ``net_id`` when
    given). Returns (network JSON or None, seconds waited, last thing seen)."""
    clock = clock or Clock()
    start = clock.monotonic()
    while True:
        net = engine.network(network)
        seen = None if net is None else '%s (scope %s)' % (net.get('Id', '')[:12], net.get('Scope'))
        if net is not None and (not scope or net.get('Scope') == scope) and (not net_id or net.get('Id') == net_id):
            return net, clock.monotonic() - start, seen
        if clock.monotonic() - start + delay > timeout:
            return None, clock.monotonic() - start, seen
        clock.sleep(delay)


# ---------------------------------------------------------------- probes (docker_probe)
def probe_names(base, tries):
    return ['%s-%d' % (base, t) for t in range(1, tries + 1)]


def _remove_quietly(engine, name):
    try:
        engine.remove(name)
    except EngineError:
        pass  # the next try uses a name of its own; the caller removes every try's name at the end


def _a_name_per_try(engine, base, tries, delay, clock, attempt, why):
    """attempt(name) with the names BASE-1 .. BASE-TRIES, one per try, ``delay`` seconds apart, until one
    does not raise (a failed start may leave its endpoint in the store, so that name then "already exists").
    ``why % (name, last error)`` says in ``waits`` what each pause waited for.
    Returns (the name that worked or None, failed tries' names, waits, last error)."""
    clock = clock or Clock()
    failed, waits, last = [], [], None
    for name in probe_names(base, tries):
        try:
            engine.remove(name)
            attempt(name)
            return name, failed, waits, None
        except EngineError as exc:
            last = exc.message
            _remove_quietly(engine, name)
            failed.append(name)
            if len(failed) < tries:
                waits.append(why % (name, last))
                clock.sleep(delay)
    return None, failed, waits, last


def start_probe(engine, base, network, image, tries, delay, clock=None):
    """Start a probe container on ``network``, a name of its own per try. Returns (name or None, failed
    tries' names, waits, last error)."""
    return _a_name_per_try(
        engine, base, tries, delay, clock, lambda name: engine.run(name, image, ['sleep', '3600'], network),
        'starting probe %%s on %s failed (%%s): waited %ss for the engine and its store, then a new name (the '
        'failed start may have left its endpoint behind)' % (network, delay))


def nudge(engine, base, network, image, tries, delay, clock=None):
    """A short-lived container on ``network``: any endpoint change makes every Engine 20.10 re-read the
    network's endpoints (its store watch misses changes made at the same moment on several hosts).
    Returns (ok, failed tries' names, waits, last error)."""
    def short_lived(name):
        engine.run(name, image, ['true'], network)
        engine.wait(name)
        engine.remove(name)

    name, failed, waits, last = _a_name_per_try(
        engine, base, tries, delay, clock, short_lived,
        'the short-lived %%s on %s failed (%%s): waited %ss before another try' % (network, delay))
    return name is not None, failed, waits, last


# ---------------------------------------------------------------- anchors
# Engine 20.10's overlay driver watches a network's neighbour misses from a goroutine that enters the network's
# sandbox namespace on a locked OS thread and never leaves it (libnetwork drivers/overlay watchMiss; moby/moby#44356
# fixed it in 23.0). When the last container of this host leaves the network, the sandbox is destroyed, that
# goroutine ends and its thread goes back to dockerd's pool still in the dead namespace: every later store call
# (libkv), gossip dial (serf) or registry pull that runs on it fails with "network is unreachable" or
# "connection refused" (127.0.0.1). A failed store watch is not restarted while the network has local endpoints,
# so names stop arriving; failed store writes leave endpoints behind. One long-lived container per network and
# host (the anchor) keeps the sandbox, and so that goroutine, alive: no thread is left behind.
ANCHOR_LABEL = 'io.hostnet.fabric.anchor'
ANCHOR_COMMAND = ['sleep', '2147483647']


def summary_name(summary):
    """A container's name from the list API's summary."""
    return ((summary.get('Names') or [''])[0] or '').lstrip('/')


def anchor_fault(summary, network, image):
    """Why a labelled container is not a working anchor of ``network`` (None when it is one)."""
    if summary.get('State') != 'running':
        return 'it is %s, not running' % (summary.get('State') or 'in an unknown state')
    if summary.get('Image') != image:
        return 'it runs the image %s, not %s' % (summary.get('Image'), image)
    endpoint = ((summary.get('NetworkSettings') or {}).get('Networks') or {}).get(network) or {}
    if not endpoint.get('EndpointID'):
        return 'it has no endpoint on %s' % network
    return None


def anchor_plan(found, network, image):
    """(the anchor to keep or None, [(container name, why it goes)]) for this engine's containers labelled as
    anchors of ``network``: the first working one is kept, every other one is removed."""
    keep, drop = None, []
    for summary in found:
        fault = anchor_fault(summary, network, image)
        if keep is None and fault is None:
            keep = summary
            continue
        drop.append((summary_name(summary), fault or 'another anchor of %s runs already' % network))
    return keep, drop


def anchor(engine, base, network, image, present, tries, delay, check_mode=False, clock=None):
    """Make this engine hold (``present``) or not hold a long-lived container on ``network`` (see ANCHOR_LABEL).
    Returns {changed, anchor (its name or None), before (the anchors found), actions (done or, in check mode,
    to do), waits, failure (None or why it failed)}."""
    found = engine.containers_labelled(ANCHOR_LABEL, network)
    if present:
        keep, drop = anchor_plan(found, network, image)
    else:
        keep, drop = None, [(summary_name(c), 'state=absent') for c in found]
    actions = ['remove %s (%s)' % (name, why) for name, why in drop]
    if present and keep is None:
        actions.append('start an anchor on %s' % network)
    out = {'changed': bool(actions), 'anchor': summary_name(keep) if keep else None,
           'before': sorted(summary_name(c) for c in found), 'actions': actions, 'waits': [], 'failure': None}
    if check_mode or not out['changed']:
        return out
    for name, _why in drop:
        engine.remove(name)
    if not present or keep is not None:
        return out
    labels = {ANCHOR_LABEL: network}
    name, _failed, waits, last = _a_name_per_try(
        engine, base, tries, delay, clock,
        lambda n: engine.run(n, image, ANCHOR_COMMAND, network, labels=labels, restart='unless-stopped',
                             stop_signal='SIGKILL'),
        'starting anchor %%s on %s failed (%%s): waited %ss for the engine and its store, then a new name (the '
        'failed start may have left its endpoint behind)' % (network, delay))
    out.update(anchor=name, waits=waits)
    if name is None:
        out['failure'] = ('could not start an anchor on %s in %d tries (names %s-1..%d), last: %s'
                          % (network, tries, base, tries, last))
    return out


UNRESOLVED = 'the name does not resolve on this engine (the endpoint has not reached it through the store)'
NO_REPLY = 'the name resolves to %s, no reply (VXLAN traffic, or where that address lives has not reached this host)'
NO_EXEC = 'the engine did not run the ping in time'
_UNRESOLVED_WORDS = ('bad address', 'unknown host', 'name or service not known', 'name resolution')
_RESOLVED_RE = re.compile(r'^PING \S+ \(([0-9a-fA-F.:]+)\)', re.M)


def ping_miss(rc, output):
    """Why a ping by name failed, from its output (busybox and iputils wording): one of UNRESOLVED,
    NO_REPLY (naming the address the name resolved to) or NO_EXEC; None when it answered."""
    if rc == 0:
        return None
    if rc < 0:
        return NO_EXEC
    text = output or ''
    if any(word in text.lower() for word in _UNRESOLVED_WORDS):
        return UNRESOLVED
    found = _RESOLVED_RE.search(text)
    return NO_REPLY % (found.group(1) if found else 'an address')


def ping_all(engine, probe, targets, timeout, delay, count=2, clock=None):
    """Ping every target by name from ``probe`` until it answers or ``timeout`` passed (names of probes
    on other hosts reach this engine through the store and gossip; a lost gossip event is repaired by
    the next push/pull, every 30 s on Engine 20.10). Returns ([{to, rc, ok, tries, waited, why}], waits);
    ``why`` says, for a miss, what the last try saw (ping_miss)."""
    clock = clock or Clock()
    start = clock.monotonic()
    results = {}
    pending = list(dict.fromkeys(targets))
    tries = dict((t, 0) for t in pending)
    waits = []
    while pending:
        for target in list(pending):
            tries[target] += 1
            try:
                results[target] = engine.exec_run(probe, ['ping', '-c', str(count), '-W', '3', target])
            except EngineError:
                results[target] = (-1, '')  # no answer from the engine in time: a miss of this round, tried again
            if results[target][0] == 0:
                pending.remove(target)
        if not pending:
            break
        waited = clock.monotonic() - start
        if waited + delay > timeout:
            break
        waits.append('%s cannot ping %s yet: waited %ss for the names to reach this engine (store watch and gossip, '
                     'repaired by the next push/pull)' % (probe, ', '.join(
                         '%s (%s)' % (t, ping_miss(*results[t])) for t in pending), delay))
        clock.sleep(delay)
    waited = round(clock.monotonic() - start, 1)
    out = [{'to': t, 'rc': results[t][0], 'ok': results[t][0] == 0, 'tries': tries[t],
            'waited': waited if results[t][0] != 0 else None, 'why': ping_miss(*results[t])}
           for t in dict.fromkeys(targets)]
    return out, waits
