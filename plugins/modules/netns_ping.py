#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: netns_ping
short_description: Probe connectivity with ICMP echo from network namespaces and Docker containers, all at once
version_added: 0.1.0
description:
  - Runs a list of ping probes, each from a network namespace (a C(/run/netns) name or any namespace file such as
    C(/proc/PID/ns/net) or C(/var/run/docker/netns/KEY)), from a Docker container's namespace, or from the namespace
    Ansible runs in. The probes run concurrently (at most O(parallel) at a time), so a full matrix costs about one
    probe's time.
  - Each probe is a C(ping) (iputils) started in the wanted namespace. The child process enters it with the C(setns) system call
    before it executes C(ping); no C(ip netns exec), no C(nsenter), and this module's own process never changes
    namespace.
  - The results are shaped for the filter P(hostnet.fabric.ping_matrix#filter) - rows are O(probes[].from),
    columns O(probes[].to), the cell is RV(results[].status).
  - "B(Path MTU.) With O(dont_fragment) the kernel refuses to fragment (C(ping -M do)); a packet of O(size) bytes of
    ICMP payload is O(size) + 28 bytes on the wire (IPv4; + 48 for IPv6). When such a probe fails, the module sends
    one small probe (56 bytes, fragmentation allowed) on the same path: if that passes, the status is V(MTU) (the
    path works, but not at that size), otherwise V(MISS)."
  - Read-only. The module never changes anything and always reports C(changed=false); check mode runs the probes
    exactly as a normal run does.
  - "All input is checked before the first probe starts - every address, every namespace (it must exist and be a
    network namespace) and every container (it must be running) - and a bad one fails the task naming the
    parameter and the probe's index, for example C(probes[3].netns: no network namespace at /run/netns/web9)."
options:
  probes:
    description: The probes. Each is one row/column cell of the matrix.
    type: list
    elements: dict
    required: true
    suboptions:
      from:
        description: The row label (where the probe runs, for the table). Any text.
        type: str
        required: true
      to:
        description: The column label (what the probe tries to reach). Any text.
        type: str
        required: true
      address:
        description: The IPv4 or IPv6 address to ping.
        type: str
        required: true
      netns:
        description:
          - The network namespace to run the probe in - a name under C(/run/netns) or an absolute path to a
            namespace file (C(/proc/PID/ns/net), C(/var/run/docker/netns/KEY)).
          - Mutually exclusive with O(probes[].container). With neither, the probe runs in the namespace Ansible
            runs in.
        type: str
      container:
        description:
          - A running Docker container (name or id) on the engine at O(docker_host); the probe runs in its network
            namespace (through the container's process, C(/proc/PID/ns/net)). The container needs no C(ping) of
            its own - this host's C(ping) is used.
          - Mutually exclusive with O(probes[].netns).
        type: str
      size:
        description: This probe's ICMP payload size, overriding O(size).
        type: int
      dont_fragment:
        description: This probe's don't-fragment setting, overriding O(dont_fragment).
        type: bool
  size:
    description: ICMP payload bytes (C(ping -s)). 28 more (IPv4 and ICMP headers) are on the wire; for IPv6, 48.
    type: int
    default: 56
  dont_fragment:
    description: Set DF and never fragment (C(ping -M do)); see the path MTU note above for the V(MTU) status.
    type: bool
    default: false
  count:
    description: Echo requests per probe (0.2 s apart). A probe passes only when every one is answered in time.
    type: int
    default: 1
  timeout:
    description: The most a probe may take, in seconds (C(ping -w)); an unanswered request counts as lost then.
    type: int
    default: 3
  parallel:
    description: At most this many probes run at the same time.
    type: int
    default: 32
  fail_on_miss:
    description: Fail the task when any probe is not V(ok); the message names every such pair. The results are
      returned all the same.
    type: bool
    default: false
  docker_host:
    description: The Docker engine's API socket, for O(probes[].container). Only C(unix://) sockets.
    type: str
    default: unix:///var/run/docker.sock
requirements:
  - Linux, run as root (CAP_SYS_ADMIN to enter another namespace)
  - C(ping) from iputils (Debian package C(iputils-ping)) on the managed host
  - For O(probes[].container), a local Docker engine on its unix socket
attributes:
  check_mode:
    support: full
    description: The module only reads; in check mode it runs the same probes.
  diff_mode:
    support: none
    description: Nothing is changed.
  platform:
    platforms: linux
    support: full
    description: Linux network namespaces.
notes:
  - A container that restarts between the check of the input and its probe is probed in its new namespace only if
    its process id is unchanged; otherwise that probe fails with a message saying so (run again).
  - The probe's C(ping) is the managed host's; it must be able to open an ICMP socket in the target namespace
    (root can).
seealso:
  - module: hostnet.fabric.netns_info
  - name: ping(8)
    description: The iputils manual page.
    link: https://man7.org/linux/man-pages/man8/ping.8.html
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: Every workload pings every other one
  hostnet.fabric.netns_ping:
    probes:
      - {from: web1, to: web2, netns: web1, address: 10.10.0.12}
      - {from: web2, to: web1, netns: web2, address: 10.10.0.11}
      - {from: host, to: web1, address: 10.10.0.11}
      - {from: app, to: web1, container: app, address: 10.10.0.11}
  register: pings

- name: Print the matrix and fail naming every miss
  vars:
    matrix: "{{ pings.results | hostnet.fabric.ping_matrix(title='segment blue') }}"
  ansible.builtin.assert:
    that: matrix.ok
    fail_msg: "{{ matrix.lines + ['unreachable: ' ~ (matrix.misses | join('; '))] }}"
    success_msg: "{{ matrix.lines }}"

- name: Full-size packets fit the path (segment MTU 1450 -> 1422 bytes of payload with DF)
  hostnet.fabric.netns_ping:
    probes:
      - {from: web1, to: web2, netns: web1, address: 10.10.0.12}
    size: 1422
    dont_fragment: true
    fail_on_miss: true
'''

RETURN = r'''
results:
  description: One per probe, in the order of O(probes). Ready for the P(hostnet.fabric.ping_matrix#filter) filter.
  returned: always
  type: list
  elements: dict
  contains:
    from:
      description: O(probes[].from).
      type: str
    to:
      description: O(probes[].to).
      type: str
    address:
      description: The address pinged (canonical form).
      type: str
    netns:
      description: The namespace file the probe ran in (V(null) - the namespace Ansible runs in).
      type: str
    container:
      description: O(probes[].container), if given.
      type: str
    size:
      description: The ICMP payload size used.
      type: int
    dont_fragment:
      description: Whether DF was set.
      type: bool
    ok:
      description: Whether every echo request was answered in time.
      type: bool
    status:
      description: V(ok); V(MISS) (no answer, or an error); V(MTU) (a DF probe failed but a small probe on the same
        path passed).
      type: str
      sample: ok
    rtt_ms:
      description: The average round-trip time in milliseconds; V(null) when nothing was answered.
      type: float
      sample: 0.061
    msg:
      description: What happened, in words (ping's own error line when it gave one).
      type: str
      sample: "1/1 replies, rtt 0.061 ms"
misses:
  description: "Every probe that is not V(ok), as C(FROM -> TO: STATUS), in probe order."
  returned: always
  type: list
  elements: str
  sample: ["web1 -> web9: MISS", "web1 -> web2: MTU"]
ok:
  description: True when every probe is V(ok).
  returned: always
  type: bool
'''

import ipaddress
import os
import re
import selectors
import shutil
import subprocess
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.fabric.plugins.module_utils import _nsexec
from ansible_collections.hostnet.fabric.plugins.module_utils import _validate as v
from ansible_collections.hostnet.fabric.plugins.module_utils._docker_api import (
    DockerAPIError,
    container_pid,
    socket_path,
    valid_container_ref,
)

OK = 'ok'
MISS = 'MISS'
MTU = 'MTU'
SMALL = 56  # the size of the follow-up probe that tells an MTU problem from a dead path
SIZE_MAX = 65507  # largest ICMP payload of an IPv4 datagram (65535 - 20 - 8)
COUNT_MAX = 100
TIMEOUT_MAX = 600
GRACE = 2  # seconds past ping's own deadline before a probe is killed
_SUMMARY_RE = re.compile(r'(\d+) packets transmitted, (\d+) (?:packets )?received')
_RTT_RE = re.compile(r'= [\d.]+/([\d.]+)/[\d.]+/[\d.]+ ms')


def argument_spec():
    return dict(
        probes=dict(type='list', elements='dict', required=True, options={
            'from': dict(type='str', required=True),
            'to': dict(type='str', required=True),
            'address': dict(type='str', required=True),
            'netns': dict(type='str'),
            'container': dict(type='str'),
            'size': dict(type='int'),
            'dont_fragment': dict(type='bool'),
        }),
        size=dict(type='int', default=56),
        dont_fragment=dict(type='bool', default=False),
        count=dict(type='int', default=1),
        timeout=dict(type='int', default=3),
        parallel=dict(type='int', default=32),
        fail_on_miss=dict(type='bool', default=False),
        docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
    )


# ---------------------------------------------------------------- input
def validate(p):
    """Normalise the options; every probe gets 'address', 'size', 'dont_fragment' and a 'where' placeholder.
    Checks the text only: namespaces and containers are looked up by resolve()."""
    v.int_range('size', p['size'], 0, SIZE_MAX, 'an ICMP payload size')
    v.int_range('count', p['count'], 1, COUNT_MAX, 'a number of echo requests')
    v.int_range('timeout', p['timeout'], 1, TIMEOUT_MAX, 'a number of seconds')
    v.int_range('parallel', p['parallel'], 1, 1024, 'a number of probes')
    if p['probes'] and any(pr.get('container') for pr in p['probes']):
        try:
            socket_path(p['docker_host'])
        except DockerAPIError as exc:
            raise v.ValidationError('docker_host', str(exc).split(': ', 1)[1])
    probes = []
    for i, pr in enumerate(p['probes']):
        name = 'probes[%d]' % i
        probe = dict(pr)
        probe['address'] = v.ip(name + '.address', pr['address'], allow_multicast=False)
        if pr.get('netns') is not None and pr.get('container') is not None:
            raise v.ValidationError(name, 'netns and container are mutually exclusive (give one, or neither for '
                                          'the namespace Ansible runs in)')
        if pr.get('netns') is not None:
            probe['netns'] = _nsexec.netns_path(name + '.netns', pr['netns'])
        if pr.get('container') is not None and not valid_container_ref(pr['container']):
            raise v.ValidationError(name + '.container', 'is not a valid container name or id', pr['container'])
        probe['size'] = p['size'] if pr.get('size') is None else pr['size']
        v.int_range(name + '.size', probe['size'], 0, SIZE_MAX, 'an ICMP payload size')
        probe['dont_fragment'] = p['dont_fragment'] if pr.get('dont_fragment') is None else pr['dont_fragment']
        probes.append(probe)
    p['probes'] = probes
    return p


def resolve(probes, docker_host, pid_of=container_pid, check_netns=_nsexec.check_netns):
    """Find every probe's namespace file (before any probe runs): sets probe['path'] (None: our own)."""
    pids = {}
    for i, probe in enumerate(probes):
        name = 'probes[%d]' % i
        if probe.get('container') is not None:
            ref = probe['container']
            if ref not in pids:
                try:
                    pids[ref] = pid_of(docker_host, ref)
                except DockerAPIError as exc:
                    raise v.ValidationError(name + '.container', str(exc).split(': ', 1)[-1])
            probe['path'] = '/proc/%d/ns/net' % pids[ref]
            check_netns(name + '.container', probe['path'])
        elif probe.get('netns') is not None:
            probe['path'] = check_netns(name + '.netns', probe['netns'])
        else:
            probe['path'] = None
    return probes


# ---------------------------------------------------------------- decisions (pure)
def ping_argv(address, size, dont_fragment, count, timeout, ping='ping'):
    family = '-6' if ipaddress.ip_address(address).version == 6 else '-4'
    argv = [ping, family, '-n', '-c', str(count), '-w', str(timeout), '-s', str(size)]
    if count > 1:
        argv += ['-i', '0.2']
    argv += ['-M', 'do' if dont_fragment else 'dont']
    argv.append(address)
    return argv


def parse_ping(rc, output, timeout):
    """(ok, rtt_ms, msg) from ping's exit code and its output (stdout and stderr)."""
    summary = _SUMMARY_RE.search(output or '')
    rtt = _RTT_RE.search(output or '')
    rtt_ms = float(rtt.group(1)) if rtt else None
    sent, got = (int(summary.group(1)), int(summary.group(2))) if summary else (None, None)
    if rc == 0:
        return True, rtt_ms, '%s/%s replies, rtt %s ms' % (got, sent, rtt_ms)
    lines = [line.strip() for line in (output or '').splitlines() if line.strip()]
    errors = [line for line in lines if not line.startswith(('PING ', '---')) and ' bytes from ' not in line
              and not _SUMMARY_RE.search(line) and not _RTT_RE.search(line)]
    if errors:
        return False, rtt_ms, errors[-1]
    if summary:
        return False, rtt_ms, '%d of %d echo requests answered within %ss' % (got, sent, timeout)
    return False, rtt_ms, 'ping exited with %s: %s' % (rc, ' / '.join(lines) or 'no output')


def needs_follow_up(probe, ok):
    """A failed DF probe larger than the small one: a small probe tells MTU from MISS."""
    return not ok and probe['dont_fragment'] and probe['size'] > SMALL


def status_of(ok, follow_up_ok=None):
    if ok:
        return OK
    return MTU if follow_up_ok else MISS


def misses(results):
    return ['%s -> %s: %s' % (r['from'], r['to'], r['status']) for r in results if r['status'] != OK]


# ---------------------------------------------------------------- running
def run_concurrently(jobs, parallel, spawn, deadline_of, now=time.monotonic):
    """Run ``jobs`` (any objects) at most ``parallel`` at a time. spawn(job) -> Popen with stdout a pipe
    (stderr merged into it). Returns [(rc, output)] in job order. A job still running at deadline_of(job)
    seconds after its start is killed (rc -9)."""
    out = [None] * len(jobs)
    pending = list(range(len(jobs)))
    running = {}
    sel = selectors.DefaultSelector()
    try:
        while pending or running:
            while pending and len(running) < parallel:
                index = pending.pop(0)
                try:
                    proc = spawn(jobs[index])
                except (OSError, subprocess.SubprocessError) as exc:
                    out[index] = (-1, 'could not start the probe: %s' % exc)
                    continue
                running[proc.stdout.fileno()] = (index, proc, [], now() + deadline_of(jobs[index]))
                sel.register(proc.stdout, selectors.EVENT_READ)
            if not running:
                continue
            wait = max(0.0, min(entry[3] for entry in running.values()) - now())
            for key, _events in sel.select(timeout=wait):
                fd = key.fd
                index, proc, chunks, _deadline = running[fd]
                data = os.read(fd, 65536)
                if data:
                    chunks.append(data)
                    continue
                sel.unregister(key.fileobj)
                del running[fd]
                proc.stdout.close()
                out[index] = (proc.wait(), b''.join(chunks).decode('utf-8', 'replace'))
            for fd, (index, proc, chunks, deadline) in list(running.items()):
                if now() >= deadline:
                    proc.kill()
                    sel.unregister(proc.stdout)
                    del running[fd]
                    proc.stdout.close()
                    proc.wait()
                    out[index] = (-9, b''.join(chunks).decode('utf-8', 'replace') + '\nkilled: no answer in time')
    finally:
        for index, proc, _chunks, _deadline in running.values():
            proc.kill()
            proc.wait()
        sel.close()
    return out


def probe_all(probes, count, timeout, parallel, ping='ping', spawn=None):
    """The results of every probe (the follow-up small probes for failed DF ones run in a second round)."""
    if spawn is None:
        def spawn(job):
            return _nsexec.popen(job[1], netns=job[0], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT)
    jobs = [(pr['path'], ping_argv(pr['address'], pr['size'], pr['dont_fragment'], count, timeout, ping))
            for pr in probes]
    first = run_concurrently(jobs, parallel, spawn, lambda job: timeout + GRACE)
    results = []
    again = []
    for probe, (rc, output) in zip(probes, first):
        ok, rtt_ms, msg = parse_ping(rc, output, timeout)
        results.append({
            'from': probe['from'], 'to': probe['to'], 'address': probe['address'], 'netns': probe['path'],
            'container': probe.get('container'), 'size': probe['size'], 'dont_fragment': probe['dont_fragment'],
            'ok': ok, 'status': status_of(ok), 'rtt_ms': rtt_ms, 'msg': msg,
        })
        if needs_follow_up(probe, ok):
            again.append(len(results) - 1)
    if again:
        small = [(probes[i]['path'], ping_argv(probes[i]['address'], SMALL, False, 1, timeout, ping)) for i in again]
        for i, (rc, output) in zip(again, run_concurrently(small, parallel, spawn, lambda job: timeout + GRACE)):
            small_ok = parse_ping(rc, output, timeout)[0]
            results[i]['status'] = status_of(False, small_ok)
            if small_ok:
                results[i]['msg'] = ('%s; a %d-byte probe with DF fails but a %d-byte one passes: the path MTU is '
                                     'below %d' % (results[i]['msg'], results[i]['size'], SMALL,
                                                   results[i]['size'] + overhead(results[i]['address'])))
    return results


def overhead(address):
    """IP + ICMP header bytes on top of the payload."""
    return 48 if ipaddress.ip_address(address).version == 6 else 28


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        params = validate(dict(module.params))
        ping = shutil.which('ping') or shutil.which('ping', path='/usr/bin:/bin:/usr/sbin:/sbin')
        if ping is None:
            module.fail_json(msg='ping is not installed on the managed host (Debian/Ubuntu package iputils-ping)')
        probes = resolve(params['probes'], params['docker_host'])
    except v.ValidationError as exc:
        module.fail_json(msg=str(exc), param=exc.param)
    results = probe_all(probes, params['count'], params['timeout'], params['parallel'], ping)
    missing = misses(results)
    out = dict(changed=False, results=results, misses=missing, ok=not missing)
    if missing and params['fail_on_miss']:
        module.fail_json(msg='%d of %d probes failed: %s' % (len(missing), len(results), '; '.join(missing)), **out)
    module.exit_json(**out)


if __name__ == '__main__':
    main()
