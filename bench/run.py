"""hostnet.fabric benchmarks: each figure beside its baseline, measured in the same run.

    sudo .venv/bin/python bench/run.py                    # B1 and B2 at full size, 3 rounds
    sudo .venv/bin/python bench/run.py --only B2 --rounds 5
    sudo .venv/bin/python bench/run.py --only B3,B4 --hosts 2,4,8 --rounds 2
    sudo .venv/bin/python bench/run.py --only B1,B2,B3,B4 --sizes 20,40 --hosts 2 --rounds 1 --iperf-seconds 1 \
        --json /tmp/b.json                                # smoke size (tests/integration/test_bench_smoke.py)

Groups (pluggable: GROUPS below; a group that cannot run here says why and is listed as not measured):
  B1  bulk FDB / neighbour entries: the vxlan module creating 1,000 and 5,000 peers (flood entries),
      5,000 static fdb and 5,000 neigh entries, against `bridge -batch` / `ip -batch` with the same
      entries and against pyroute2 with one call per entry; us per entry; the no-op re-run at the
      largest size against an empty no-op run; peak RSS against an empty run.
  B2  module overhead: a no-op run of each netlink module against ansible.builtin.ping.
  B3  fabric scaling: the vxlan_fabric role on 2, 4 and 8 namespace hosts (one segment, one workload per host, the
      role's defaults, its ping verification included): first converge and idempotent re-run, each an
      ansible-playbook process, against a play of as many ansible.builtin.ping tasks on the same hosts as the
      re-run ran tasks. Hosts are namespaces joined by an underlay bridge in a namespace of its own, built with
      iproute2 before the timed runs (as playbooks/local_fabric.yml builds them), fresh for every round and size.
  B4  data path: one TCP stream (iperf3) workload to workload through the fabric the role built on 2 namespace
      hosts, against host to host on the plain underlay between the same hosts, interleaved. Every namespace
      shares this machine's CPUs: the figure compares the kernel's CPU cost per byte of the two paths.

How things are measured. A module runs as the process Ansible starts on a managed host: the
module file run by the Python interpreter with its arguments in a JSON file (what AnsiballZ
does after unpacking, without the unpacking), the collection on PYTHONPATH. Wall time of the
process; peak RSS from wait4(). Baselines run in the same round, interleaved with the module
(round 1: module, baseline, baseline; round 2: the same ...), each on a fresh namespace, so
a loaded machine slows both alike: read the ratios. min and median over the rounds.
Per-entry cost of the module = (its time - the time of the same run with no entries) / N:
the fixed cost of a module process (Python, Ansible, pyroute2 imports) is B2's subject.
Every run is checked (entries read back with `bridge -j fdb` / `ip -j neigh`, the no-op runs
report changed=false): a figure of a run that did not do its job is never printed.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / 'collections'
MODULES = REPO / 'plugins' / 'modules'
PYTHON = sys.executable
# the measure the targets are judged on: CPU time (user + system) of the processes. On a loaded,
# shared machine wall time varies several-fold between two runs of the same thing; both are recorded.
MEASURE = 'cpu'


# --------------------------------------------------------------------------- helpers
def sh(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True, **kw)


TIME = '/usr/bin/time'  # GNU time (Debian package time): the peak RSS of the measured process alone


def run_process(argv, env=None):
    """(Sample of wall and CPU seconds, peak RSS KiB, stdout text) of one process.

    CPU from wait4(). The peak RSS comes from GNU time running the process: a child forked from
    this (large) Python process starts with this process' resident pages, and Linux keeps that
    high-water mark across exec(), so wait4()'s ru_maxrss of a direct child would report this
    runner's size, not the module's. Without /usr/bin/time the RSS is None."""
    rss_file = None
    if os.path.exists(TIME):
        fd, rss_file = tempfile.mkstemp(prefix='hf-bench-rss-')
        os.close(fd)
        argv = [TIME, '-f', '%M', '-o', rss_file] + list(argv)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        t1 = time.perf_counter()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    rss = None
    if rss_file:
        with open(rss_file) as f:
            lines = [line for line in f.read().splitlines() if line.strip().isdigit()]
        os.unlink(rss_file)
        rss = int(lines[-1]) if lines else None
    if proc.returncode != 0:
        command = ' '.join(str(a) for a in argv[:3])
        raise RuntimeError('%s failed (rc %s):\n%s\n%s' % (command, proc.returncode, stdout[-2000:], stderr[-2000:]))
    return Sample(t1 - t0, usage.ru_utime + usage.ru_stime), rss, stdout


class Sample(object):
    """Wall and CPU (user + system, the process and the children it waited for) seconds of one run.

    Arithmetic works on both at once, so every derived figure exists in both measures."""

    __slots__ = ('wall', 'cpu')

    def __init__(self, wall, cpu):
        self.wall, self.cpu = wall, cpu

    def __sub__(self, other):
        return Sample(self.wall - other.wall, self.cpu - other.cpu)

    def scaled(self, factor):
        return Sample(self.wall * factor, self.cpu * factor)

    def ratio(self, other):
        return Sample(self.wall / other.wall, self.cpu / other.cpu)


def module_env():
    env = dict(os.environ)
    env['PYTHONPATH'] = str(COLLECTIONS) + (':' + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    env.pop('ANSIBLE_MODULE_ARGS', None)
    return env


class Workdir:
    def __init__(self):
        self.path = Path(tempfile.mkdtemp(prefix='hf-bench-'))
        self.count = 0

    def args_file(self, args, check=False):
        self.count += 1
        path = self.path / ('args%d.json' % self.count)
        # a plain ansible-playbook run: no --diff (with it, the result carries the state twice more)
        body = dict(args, _ansible_check_mode=check, _ansible_diff=False)
        path.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': body}))
        return path

    def text_file(self, text, suffix='.txt'):
        self.count += 1
        path = self.path / ('batch%d%s' % (self.count, suffix))
        path.write_text(text)
        return path


def run_module(work, module, args, check=False):
    """One module process; (seconds, peak RSS KiB, result dict). Fails loudly on a failed module."""
    if module == 'ping':
        argv = [PYTHON, '-m', 'ansible.modules.ping', str(work.args_file(args, check))]
    else:
        argv = [PYTHON, str(MODULES / ('%s.py' % module)), str(work.args_file(args, check))]
    seconds, rss, out = run_process(argv, env=module_env())
    result = json.loads(out[out.index('{'):])
    if result.get('failed'):
        raise RuntimeError('%s failed: %s' % (module, result.get('msg')))
    return seconds, rss, result


class Namespaces:
    """Throwaway namespaces, all removed at the end (also on Ctrl-C)."""

    def __init__(self):
        self.tag = 'hfb-%s' % uuid.uuid4().hex[:6]
        self.made = []

    def new(self):
        name = '%s-%d' % (self.tag, len(self.made))
        sh('ip', 'netns', 'add', name)
        self.made.append(name)
        sh('ip', '-n', name, 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u0p')
        sh('ip', '-n', name, 'addr', 'add', '192.168.60.1/24', 'dev', 'u0')
        sh('ip', '-n', name, 'link', 'set', 'u0', 'up')
        return name

    def drop(self, name):
        sh('ip', 'netns', 'del', name, check=False)
        if name in self.made:
            self.made.remove(name)

    def close(self):
        for name in list(self.made):
            self.drop(name)


def stats(values):
    """min / median / all runs; of Samples: the same for wall and CPU time."""
    values = list(values)
    if values and isinstance(values[0], Sample):
        return {'wall': stats(v.wall for v in values), 'cpu': stats(v.cpu for v in values)}
    return {'min': min(values), 'median': statistics.median(values), 'runs': values}


# --------------------------------------------------------------------------- entries
def peer(i):
    return '10.%d.%d.%d' % (100 + i // 65536, (i // 256) % 256, i % 256)


def mac(i):
    return '02:00:%02x:%02x:%02x:%02x' % ((i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255)


def overlay_ip(i):
    return '172.%d.%d.%d' % (16 + i // 65536, (i // 256) % 256, i % 256)


def entries(kind, n):
    """(module arguments, iproute2 batch text, iproute2 tool, pyroute2 calls [(method, kwargs)]) for n entries."""
    rng = range(1, n + 1)
    if kind == 'peers':
        return ({'peers': [peer(i) for i in rng]},
                ''.join('fdb append 00:00:00:00:00:00 dev vxb dst %s\n' % peer(i) for i in rng), 'bridge',
                [('fdb', dict(lladdr='00:00:00:00:00:00', dst=peer(i))) for i in rng])
    if kind == 'fdb':
        return ({'fdb': [{'mac': mac(i), 'dst': peer(i)} for i in rng]},
                ''.join('fdb append %s dev vxb dst %s\n' % (mac(i), peer(i)) for i in rng), 'bridge',
                [('fdb', dict(lladdr=mac(i), dst=peer(i))) for i in rng])
    if kind == 'neigh':
        return ({'neigh': [{'ip': overlay_ip(i), 'mac': mac(i)} for i in rng]},
                ''.join('neigh replace %s lladdr %s dev vxb nud permanent\n' % (overlay_ip(i), mac(i)) for i in rng),
                'ip', [('neigh', dict(dst=overlay_ip(i), lladdr=mac(i), family=2, state=0x80)) for i in rng])
    raise ValueError(kind)


def kernel_count(ns, kind):
    if kind == 'neigh':
        out = json.loads(sh('ip', '-n', ns, '-j', 'neigh', 'show', 'dev', 'vxb').stdout or '[]')
        return sum(1 for e in out if 'PERMANENT' in e.get('state', []))
    out = json.loads(sh('bridge', '-n', ns, '-j', 'fdb', 'show', 'dev', 'vxb').stdout or '[]')
    zero = kind == 'peers'
    return sum(1 for e in out if e.get('dst') and (e['mac'] == '00:00:00:00:00:00') == zero)


def vxlan_args(ns, extra):
    return dict({'name': 'vxb', 'netns': ns, 'vni': 77, 'local': '192.168.60.1', 'dev': 'u0'}, **extra)


def make_device(ns):
    sh('ip', '-n', ns, 'link', 'add', 'vxb', 'type', 'vxlan', 'id', '77', 'dstport', '4789', 'local',
       '192.168.60.1', 'dev', 'u0', 'nolearning')
    sh('ip', '-n', ns, 'link', 'set', 'vxb', 'up')


PYROUTE2_LOOP = r'''
import json, sys, time
from pyroute2 import IPRoute
ns, path = sys.argv[1], sys.argv[2]
calls = json.load(open(path))
ipr = IPRoute(netns=ns, flags=0)
t0, c0 = time.perf_counter(), time.process_time()
for method, kw in calls:
    # one call per entry, the link looked up each time as a caller naming the device does
    index = ipr.link_lookup(ifname='vxb')[0]
    if method == 'fdb':
        ipr.fdb('append', ifindex=index, **kw)
    else:
        ipr.neigh('replace', ifindex=index, **kw)
print(time.perf_counter() - t0, time.process_time() - c0)
'''


# --------------------------------------------------------------------------- B1
def bench_b1(opts, nss, work):
    sizes = opts.sizes
    big = max(sizes)
    cases = [('peers', n) for n in sizes] + [('fdb', big), ('neigh', big)]
    runs = dict((c, {'module': [], 'module_rss': [], 'batch_tool': [], 'pyroute2': []}) for c in cases)
    empty = {'create': [], 'create_rss': [], 'noop': []}
    noop = dict((k, []) for k in ('peers', 'fdb', 'neigh'))
    loop = work.text_file(PYROUTE2_LOOP)
    for rnd in range(opts.rounds):
        # the empty runs: the same module process creating a device with no entries, and a no-op
        ns = nss.new()
        seconds, rss, res = run_module(work, 'vxlan', vxlan_args(ns, {'peers': [], 'fdb': [], 'neigh': []}))
        assert res['changed']
        empty['create'].append(seconds)
        empty['create_rss'].append(rss)
        seconds, _rss, res = run_module(work, 'vxlan', vxlan_args(ns, {'peers': [], 'fdb': [], 'neigh': []}))
        assert not res['changed'], 'the empty no-op run changed something'
        empty['noop'].append(seconds)
        nss.drop(ns)
        for kind, n in cases:
            args, text, tool, calls = entries(kind, n)
            # the module: creates the device and its n entries
            ns = nss.new()
            seconds, rss, res = run_module(work, 'vxlan', vxlan_args(ns, args))
            got = kernel_count(ns, kind)
            if not res['changed'] or got != n:
                raise RuntimeError('vxlan module run for %d %s left %d entries' % (n, kind, got))
            runs[(kind, n)]['module'].append(seconds)
            runs[(kind, n)]['module_rss'].append(rss)
            if n == big:
                seconds, _rss, res = run_module(work, 'vxlan', vxlan_args(ns, args))
                if res['changed']:
                    raise RuntimeError('the re-run with %d %s changed something: %s' % (n, kind, res['actions'][:5]))
                noop[kind].append(seconds)
            nss.drop(ns)
            # iproute2's batch mode, same entries, on a device made beforehand
            ns = nss.new()
            make_device(ns)
            path = work.text_file(text)
            sample, _rss, _out = run_process([tool, '-n', ns, '-batch', str(path)])
            runs[(kind, n)]['batch_tool'].append(sample)
            if kernel_count(ns, kind) != n:
                raise RuntimeError('%s -batch left the wrong number of %s' % (tool, kind))
            nss.drop(ns)
            # pyroute2, one call per entry (timed inside the process: the loop only)
            ns = nss.new()
            make_device(ns)
            path = work.text_file(json.dumps(calls))
            out = sh(PYTHON, str(loop), ns, str(path)).stdout
            runs[(kind, n)]['pyroute2'].append(Sample(*(float(x) for x in out.strip().splitlines()[-1].split())))
            if kernel_count(ns, kind) != n:
                raise RuntimeError('the pyroute2 loop left the wrong number of %s' % kind)
            nss.drop(ns)
        print('  B1 round %d/%d done' % (rnd + 1, opts.rounds), file=sys.stderr)
    create0 = stats(empty['create'])
    m = MEASURE
    rows = []
    for kind, n in cases:
        r = runs[(kind, n)]
        per_entry = [(t - e).scaled(1e6 / n) for t, e in zip(r['module'], empty['create'])]
        tool = [t.scaled(1e6 / n) for t in r['batch_tool']]
        loop_us = [t.scaled(1e6 / n) for t in r['pyroute2']]
        rows.append({
            'case': '%d %s, create' % (n, kind), 'kind': kind, 'n': n,
            'module_process_s': stats(r['module']),
            'module_us_per_entry': stats(per_entry),
            'batch_tool': 'bridge -batch' if kind != 'neigh' else 'ip -batch',
            'batch_tool_us_per_entry': stats(tool),
            'pyroute2_per_call_us_per_entry': stats(loop_us),
            'ratio_vs_batch_tool': stats([m.ratio(b) for m, b in zip(per_entry, tool)]),
            'peak_rss_kib': stats(r['module_rss']),
        })
    result = {'empty_create_s': create0, 'empty_create_rss_kib': stats(empty['create_rss']),
              'empty_noop_s': stats(empty['noop']), 'cases': rows, 'noop': []}
    for kind, values in noop.items():
        result['noop'].append({'case': '%d %s, no-op re-run' % (big, kind), 'kind': kind, 'n': big,
                               'module_process_s': stats(values),
                               'added_s': stats([v - e for v, e in zip(values, empty['noop'])])})
    # targets
    t = {}
    by = dict(((row['kind'], row['n']), row) for row in rows)
    t['per entry within 2x of the batch tool at %d' % big] = dict(
        (kind, by[(kind, big)]['ratio_vs_batch_tool'][m]['median']) for kind in ('peers', 'fdb', 'neigh'))
    if len(sizes) > 1:
        small = min(sizes)
        t['per entry at %d within 1.2x of that at %d (peers)' % (big, small)] = (
            by[('peers', big)]['module_us_per_entry'][m]['median']
            / by[('peers', small)]['module_us_per_entry'][m]['median'])
    t['no-op re-run at %d adds at most 0.5 s (s)' % big] = dict(
        (row['kind'], row['added_s'][m]['median']) for row in result['noop'])
    t['peak RSS at %d at most 1.5x the empty run' % big] = dict(
        (kind, by[(kind, big)]['peak_rss_kib']['median'] / result['empty_create_rss_kib']['median'])
        for kind in ('peers', 'fdb', 'neigh'))
    result['targets'] = t
    result['targets_measure'] = m
    return result


def fmt(st, scale=1.0, digits=0):
    """'median (min)' of wall and CPU: 'cpu M (m) / wall M (m)'."""
    f = '%.' + str(digits) + 'f'
    return ('cpu ' + f + ' (' + f + ') / wall ' + f + ' (' + f + ')') % (
        st['cpu']['median'] * scale, st['cpu']['min'] * scale, st['wall']['median'] * scale, st['wall']['min'] * scale)


def print_b1(res):
    print('\nB1 bulk FDB / neighbour entries; us per entry, median (min); module = (run - empty run) / N')
    head = ('case', 'vxlan module us/entry', 'batch tool us/entry', 'ratio module/batch tool (cpu, wall)',
            'pyroute2 one call per entry us/entry', 'module process s', 'peak RSS MiB')
    print('| %s |' % ' | '.join(head))
    print('|%s|' % '|'.join(['---'] * len(head)))
    for row in res['cases']:
        ratio = row['ratio_vs_batch_tool']
        print('| %s | %s | %s: %s | %.2fx, %.2fx | %s | %s | %.1f |' % (
            row['case'], fmt(row['module_us_per_entry']), row['batch_tool'], fmt(row['batch_tool_us_per_entry']),
            ratio['cpu']['median'], ratio['wall']['median'], fmt(row['pyroute2_per_call_us_per_entry']),
            fmt(row['module_process_s'], digits=2), row['peak_rss_kib']['median'] / 1024.0))
    print('| empty create run | - | - | - | - | %s | %.1f |' % (
        fmt(res['empty_create_s'], digits=2), res['empty_create_rss_kib']['median'] / 1024.0))
    print('| empty no-op run | - | - | - | - | %s | - |' % fmt(res['empty_noop_s'], digits=2))
    for row in res['noop']:
        print('| %s | - | - | - | - | %s; adds %s | - |' % (
            row['case'], fmt(row['module_process_s'], digits=2), fmt(row['added_s'], digits=2)))
    print_targets(res['targets'], res['targets_measure'])


# --------------------------------------------------------------------------- B2
def bench_b2(opts, nss, work):
    ns = nss.new()
    peer_ns = nss.new()
    steps = [
        ('netns', {'name': peer_ns}),
        ('bridge', {'name': 'br0', 'netns': ns, 'stp': False}),
        ('veth', {'name': 've0', 'peer': 've1', 'netns': ns, 'master': 'br0'}),
        ('vxlan', {'name': 'vx0', 'netns': ns, 'vni': 10, 'dev': 'u0', 'local': '192.168.60.1',
                   'peers': ['192.168.60.2'], 'master': 'br0'}),
        ('netns_info', {'netns': ns}),
    ]
    for module, args in steps:  # converge once
        run_module(work, module, args)
    times = dict((m, []) for m, _a in steps)
    times['ping'] = []
    rss = dict((m, []) for m in times)
    for _rnd in range(opts.rounds):
        for module, args in [('ping', {})] + steps:
            seconds, peak, res = run_module(work, module, args)
            if res.get('changed'):
                raise RuntimeError('the no-op run of %s changed something: %s' % (module, res.get('actions')))
            times[module].append(seconds)
            rss[module].append(peak)
    nss.drop(ns)
    nss.drop(peer_ns)
    rows = []
    for module, _args in steps:
        rows.append({'module': module, 'seconds': stats(times[module]), 'peak_rss_kib': stats(rss[module]),
                     'ratio_vs_ping': stats([t.ratio(p) for t, p in zip(times[module], times['ping'])])})
    return {'ping': {'seconds': stats(times['ping']), 'peak_rss_kib': stats(rss['ping'])}, 'modules': rows,
            'targets': {'no-op run at most 1.3x ansible.builtin.ping': dict(
                (row['module'], row['ratio_vs_ping'][MEASURE]['median']) for row in rows)}, 'targets_measure': MEASURE}


def print_b2(res):
    print('\nB2 module overhead: a no-op run of each module as a process vs ansible.builtin.ping; s, median (min)')
    print('| module | seconds | ratio vs ping (cpu, wall) | peak RSS MiB |')
    print('|---|---|---|---|')
    print('| ansible.builtin.ping | %s | 1.00x | %.1f |' % (
        fmt(res['ping']['seconds'], digits=3), res['ping']['peak_rss_kib']['median'] / 1024.0))
    for row in res['modules']:
        print('| %s | %s | %.2fx, %.2fx | %.1f |' % (
            row['module'], fmt(row['seconds'], digits=3), row['ratio_vs_ping']['cpu']['median'],
            row['ratio_vs_ping']['wall']['median'], row['peak_rss_kib']['median'] / 1024.0))
    print_targets(res['targets'], res['targets_measure'])


def print_targets(targets, measure):
    for name, value in targets.items():
        if isinstance(value, dict):
            value = ', '.join('%s %.2f' % kv for kv in value.items())
        else:
            value = '%.2f' % value
        label = measure + ' time' if measure in ('cpu', 'wall') else measure
        print('  target (%s, medians): %s -> %s' % (label, name, value))


# --------------------------------------------------------------------------- B3 / B4: namespace hosts
ANSIBLE_PLAYBOOK = Path(PYTHON).parent / 'ansible-playbook'
SEGMENT = {'name': 'bench', 'vni': 4343, 'subnet': '10.43.0.0/24'}


def workload_ip(i):
    return '10.43.0.%d' % (16 * i + 1)  # host i's block of the /24 segment cut into /28 blocks, its first address


class FabricHosts:
    """n namespace "hosts" joined by an underlay bridge in a namespace of its own (as playbooks/local_fabric.yml
    builds them, here with iproute2 so that building them is not part of what is timed); an inventory of them; the
    role's play and a play of no-op tasks on the same hosts. Every namespace goes with drop()."""

    def __init__(self, nss, work, n):
        self.nss, self.work, self.n = nss, work, n
        work.count += 1
        self.prefix = '%s-f%d' % (nss.tag, work.count)
        self.hosts = ['%s-h%d' % (self.prefix, i) for i in range(1, n + 1)]
        self.underlay = '%s-ul' % self.prefix
        for name in [self.underlay] + self.hosts:
            sh('ip', 'netns', 'add', name)
            nss.made.append(name)
        sh('ip', '-n', self.underlay, 'link', 'add', 'ul0', 'type', 'bridge')
        sh('ip', '-n', self.underlay, 'link', 'set', 'ul0', 'up')
        inventory = {}
        for i, host in enumerate(self.hosts, 1):
            sh('ip', '-n', host, 'link', 'add', 'ul', 'type', 'veth', 'peer', 'name', 'p%d' % i, 'netns', self.underlay)
            sh('ip', '-n', host, 'addr', 'add', '192.168.254.%d/24' % i, 'dev', 'ul')
            sh('ip', '-n', host, 'link', 'set', 'ul', 'up')
            sh('ip', '-n', self.underlay, 'link', 'set', 'p%d' % i, 'master', 'ul0', 'up')
            inventory[host] = {
                'ansible_connection': 'local', 'ansible_python_interpreter': PYTHON,
                'hostnet_underlay_ip': '192.168.254.%d' % i, 'vxlan_fabric_netns': host,
                'vxlan_fabric_netns_prefix': host + '-',
                'vxlan_fabric_workloads': [{'name': 'w', 'segment': 'bench', 'address': workload_ip(i)}]}
        self.inventory = work.text_file(
            json.dumps({'all': {'children': {'bench_fabric': {'hosts': inventory}}}}), '.json')
        self.role_play = work.text_file(json.dumps([{
            'name': 'vxlan_fabric on %d namespace hosts' % n, 'hosts': 'bench_fabric', 'gather_facts': False,
            'roles': [{'role': 'hostnet.fabric.vxlan_fabric', 'vars': {
                'vxlan_fabric_group': 'bench_fabric', 'vxlan_fabric_segments': [SEGMENT]}}]}]), '.yml')

    def noop_play(self, tasks, matched=False):
        """A play of one no-op task per task of tasks: ansible.builtin.ping (a module run on the host); matched:
        ansible.builtin.debug (a controller-side action) where the task was a controller-side action too."""
        body = []
        for i, task in enumerate(tasks, 1):
            if matched and controller_side(task['action']):
                body.append({'name': 'no-op %d' % i, 'ansible.builtin.debug': {'msg': 'no-op'}})
            else:
                body.append({'name': 'no-op %d' % i, 'ansible.builtin.ping': {}})
        return self.work.text_file(json.dumps([{
            'name': '%d no-op tasks on %d namespace hosts' % (len(tasks), self.n), 'hosts': 'bench_fabric',
            'gather_facts': False, 'tasks': body}]), '.yml')

    def play(self, playbook):
        """(Sample, the json callback's output) of one ansible-playbook run; a failed run raises, with the end of
        its output (the json callback's stats and results)."""
        env = dict(module_env(), ANSIBLE_CONFIG=str(REPO / 'ansible.cfg'), ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
                   ANSIBLE_NOCOLOR='1')
        argv = [PYTHON, str(ANSIBLE_PLAYBOOK), '-i', str(self.inventory), str(playbook)]
        old = os.getcwd()
        os.chdir(str(REPO))
        try:
            sample, _rss, out = run_process(argv, env=env)
        finally:
            os.chdir(old)
        return sample, json.loads(out[out.index('{'):])

    def drop(self):
        names = [n['name'] for n in json.loads(sh('ip', '-j', 'netns', 'list').stdout or '[]')]
        for name in names:
            if name.startswith(self.prefix + '-'):
                self.nss.drop(name)


def tasks_run(data):
    """[{name, action}] of the tasks of the play that ran (were not skipped) on at least one host."""
    ran = []
    for task in data['plays'][0]['tasks']:
        results = [r for r in task['hosts'].values() if not r.get('skipped')]
        if results:
            ran.append({'name': task['task']['name'], 'action': results[0].get('action')})
    return ran


CONTROLLER_SIDE = ('set_fact', 'assert', 'debug', 'include_tasks', 'import_tasks', 'validate_argument_spec', 'meta')


def controller_side(action):
    """Whether a task's action runs on the controller alone (no module process on the managed host)."""
    return (action or '').rsplit('.', 1)[-1] in CONTROLLER_SIDE


def changed(data):
    return sum(s['changed'] for s in data['stats'].values())


def bench_b3(opts, nss, work):
    sizes = opts.hosts
    runs = dict((n, {'converge': [], 'rerun': [], 'noop': [], 'noop_matched': []}) for n in sizes)
    tasks = {}
    for rnd in range(opts.rounds):
        for n in sizes:
            fab = FabricHosts(nss, work, n)
            try:
                sample, data = fab.play(fab.role_play)
                if changed(data) == 0:
                    raise RuntimeError('the first converge on %d hosts changed nothing' % n)
                runs[n]['converge'].append(sample)
                sample, data = fab.play(fab.role_play)
                if changed(data):
                    raise RuntimeError('the re-run on %d hosts changed something: %s' % (n, data['stats']))
                runs[n]['rerun'].append(sample)
                if n not in tasks:
                    tasks[n] = tasks_run(data)
                sample, data = fab.play(fab.noop_play(tasks[n]))
                runs[n]['noop'].append(sample)
                sample, data = fab.play(fab.noop_play(tasks[n], matched=True))
                runs[n]['noop_matched'].append(sample)
            finally:
                fab.drop()
        print('  B3 round %d/%d done' % (rnd + 1, opts.rounds), file=sys.stderr)
    rows = []
    for n in sizes:
        r = runs[n]
        rows.append({'hosts': n, 'tasks': len(tasks[n]), 'task_names': [t['name'] for t in tasks[n]],
                     'task_actions': [t['action'] for t in tasks[n]],
                     'module_tasks': sum(1 for t in tasks[n] if not controller_side(t['action'])),
                     'converge_s': stats(r['converge']), 'rerun_s': stats(r['rerun']), 'noop_play_s': stats(r['noop']),
                     'noop_matched_play_s': stats(r['noop_matched']),
                     'rerun_vs_noop': stats([a.ratio(b) for a, b in zip(r['rerun'], r['noop'])]),
                     'rerun_vs_noop_matched': stats([a.ratio(b) for a, b in zip(r['rerun'], r['noop_matched'])]),
                     'converge_vs_noop': stats([a.ratio(b) for a, b in zip(r['converge'], r['noop'])])})
    return {'rows': rows, 'segment': SEGMENT, 'targets_measure': MEASURE, 'targets': {
        'idempotent re-run at most 2x the no-op play': dict(
            ('%d hosts' % row['hosts'], row['rerun_vs_noop'][MEASURE]['median']) for row in rows)}}


def print_b3(res):
    print('\nB3 fabric scaling: the vxlan_fabric role on namespace hosts vs a play of as many no-op tasks on the same '
          'hosts (every one ansible.builtin.ping; matched: ping for each module task of the role, '
          'ansible.builtin.debug for each controller-side one); ansible-playbook s, median (min)')
    print('| hosts | tasks (module tasks) | first converge | idempotent re-run | no-op play | re-run / no-op (cpu, wall) '
          '| converge / no-op (cpu, wall) | matched no-op play | re-run / matched no-op (cpu, wall) |')
    print('|---|---|---|---|---|---|---|---|---|')
    for row in res['rows']:
        print('| %d | %d (%d) | %s | %s | %s | %.2fx, %.2fx | %.2fx, %.2fx | %s | %.2fx, %.2fx |' % (
            row['hosts'], row['tasks'], row['module_tasks'], fmt(row['converge_s'], digits=1),
            fmt(row['rerun_s'], digits=1), fmt(row['noop_play_s'], digits=1), row['rerun_vs_noop']['cpu']['median'],
            row['rerun_vs_noop']['wall']['median'], row['converge_vs_noop']['cpu']['median'],
            row['converge_vs_noop']['wall']['median'], fmt(row['noop_matched_play_s'], digits=1),
            row['rerun_vs_noop_matched']['cpu']['median'], row['rerun_vs_noop_matched']['wall']['median']))
    print_targets(res['targets'], res['targets_measure'])


IPERF3 = '/usr/bin/iperf3'  # Debian package iperf3 (scripts/setup.sh installs it)


def link_mtu(ns, name):
    return json.loads(sh('ip', '-n', ns, '-j', 'link', 'show', 'dev', name).stdout)[0]['mtu']


def iperf_server(ns):
    """An iperf3 server in namespace ns, returned once it says it is listening."""
    proc = subprocess.Popen(['ip', 'netns', 'exec', ns, IPERF3, '-s', '--forceflush'], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    while len(lines) < 5:  # a rule of dashes, then 'Server listening on 5201'
        lines.append(proc.stdout.readline())
        if 'listening' in lines[-1].lower():
            # its per-second reports are read and dropped: a full pipe would stop the server
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc
        if not lines[-1]:
            break
    proc.kill()
    proc.wait()
    raise RuntimeError('iperf3 server in %s did not start: %r' % (ns, ''.join(lines)))


def iperf_client(ns, address, seconds):
    """Received bits per second and the CPU use of both ends of one TCP stream from namespace ns to address."""
    out = sh('ip', 'netns', 'exec', ns, IPERF3, '-c', address, '-t', str(seconds), '-J', check=False).stdout
    res = json.loads(out)
    if res.get('error'):
        raise RuntimeError('iperf3 from %s to %s: %s' % (ns, address, res['error']))
    end = res['end']
    return {'bits_per_second': end['sum_received']['bits_per_second'],
            'retransmits': end['sum_sent'].get('retransmits'),
            'cpu_sender_percent': end['cpu_utilization_percent']['host_total'],
            'cpu_receiver_percent': end['cpu_utilization_percent']['remote_total']}


def bench_b4(opts, nss, work):
    if not os.path.exists(IPERF3):
        raise RuntimeError('B4 needs iperf3 (Debian package iperf3; scripts/setup.sh installs it)')
    fab = FabricHosts(nss, work, 2)
    servers = []
    runs = {'underlay': [], 'fabric': []}
    try:
        _sample, data = fab.play(fab.role_play)  # builds the fabric and pings every path (the role's verify)
        if changed(data) == 0:
            raise RuntimeError('the fabric on 2 hosts was not built')
        h1, h2 = fab.hosts
        paths = {'underlay': (h1, h2, '192.168.254.2', 'ul'),     # host to host on the underlay itself
                 'fabric': (h1 + '-w', h2 + '-w', workload_ip(2), 'eth0')}  # workload to workload through VXLAN
        mtu = {}
        for name, (src, dst, _address, dev) in paths.items():
            servers.append(iperf_server(dst))
            mtu[name] = link_mtu(src, dev)
        for rnd in range(opts.rounds):
            order = ['underlay', 'fabric'] if rnd % 2 == 0 else ['fabric', 'underlay']
            for name in order:
                src, _dst, address, _dev = paths[name]
                runs[name].append(iperf_client(src, address, opts.iperf_seconds))
        print('  B4 %d rounds done' % opts.rounds, file=sys.stderr)
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait()
        fab.drop()
    gbps = dict((k, [r['bits_per_second'] / 1e9 for r in v]) for k, v in runs.items())
    ratio = [f / u for f, u in zip(gbps['fabric'], gbps['underlay'])]
    return {'seconds_per_run': opts.iperf_seconds, 'mtu': mtu, 'runs': runs,
            'underlay_gbps': stats(gbps['underlay']), 'fabric_gbps': stats(gbps['fabric']),
            'fabric_vs_underlay': stats(ratio), 'targets_measure': 'throughput',
            'targets': {'fabric at least 80% of the underlay throughput (ratio)': statistics.median(ratio)}}


def print_b4(res):
    print('\nB4 data path: one TCP stream (iperf3, %d s), workload to workload through the fabric vs host to host on '
          'the underlay, same 2 namespace hosts, interleaved; Gbit/s, median (min). All namespaces share this '
          "machine's CPUs: the figure is the kernel's CPU cost per byte of each path, not a wire speed"
          % res['seconds_per_run'])
    print('| path | MTU | Gbit/s | sender CPU % | receiver CPU % |')
    print('|---|---|---|---|---|')
    for name in ('underlay', 'fabric'):
        st = res[name + '_gbps']
        runs = res['runs'][name]
        print('| %s | %d | %.2f (%.2f) | %.0f | %.0f |' % (
            name, res['mtu'][name], st['median'], st['min'],
            statistics.median(r['cpu_sender_percent'] for r in runs),
            statistics.median(r['cpu_receiver_percent'] for r in runs)))
    print('| fabric / underlay | - | %.2f (%.2f) | - | - |' % (
        res['fabric_vs_underlay']['median'], res['fabric_vs_underlay']['min']))
    print_targets(res['targets'], res['targets_measure'])


# --------------------------------------------------------------------------- registry
NOT_MEASURED = {
}
GROUPS = {'B1': (bench_b1, print_b1), 'B2': (bench_b2, print_b2), 'B3': (bench_b3, print_b3),
          'B4': (bench_b4, print_b4)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--only', default='B1,B2', help='groups to run, comma separated (default B1,B2)')
    parser.add_argument('--sizes', default='1000,5000', help='B1 entry counts; the largest is used for fdb, '
                        'neigh and the no-op run (default 1000,5000)')
    parser.add_argument('--hosts', default='2,4,8', help='B3 fabric sizes, namespace hosts (default 2,4,8)')
    parser.add_argument('--iperf-seconds', type=int, default=5, help='B4: seconds of each iperf3 run (default 5)')
    parser.add_argument('--rounds', type=int, default=3, help='interleaved rounds (default 3)')
    parser.add_argument('--json', default=None, help='write the results here (default bench/results/DATE.json)')
    opts = parser.parse_args(argv)
    opts.sizes = sorted(int(x) for x in opts.sizes.split(','))
    opts.hosts = sorted(int(x) for x in opts.hosts.split(','))
    if os.geteuid() != 0:
        parser.error('the benchmarks create network namespaces: run as root')
    wanted = [g.strip().upper() for g in opts.only.split(',') if g.strip()]
    for g in wanted:
        if g not in GROUPS and g not in NOT_MEASURED:
            parser.error('unknown group %s (known: %s)' % (g, ', '.join(sorted(set(GROUPS) | set(NOT_MEASURED)))))
    out = {'started': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), 'host': platform.node(),
           'cpus': os.cpu_count(), 'loadavg_start': os.getloadavg(), 'python': platform.python_version(),
           'rounds': opts.rounds, 'sizes': opts.sizes, 'groups': {}, 'not_measured': {}}
    try:
        import pyroute2
        out['pyroute2'] = pyroute2.__version__
    except ImportError:
        out['pyroute2'] = None
    nss, work = Namespaces(), Workdir()
    out['namespace_prefix'] = nss.tag + '-'
    try:
        for g in wanted:
            if g in NOT_MEASURED:
                out['not_measured'][g] = NOT_MEASURED[g]
                print('\n%s: NOT MEASURED: %s' % (g, NOT_MEASURED[g]))
                continue
            run, show = GROUPS[g]
            t0 = time.time()
            out['groups'][g] = run(opts, nss, work)
            out['groups'][g]['wall_s'] = time.time() - t0
            show(out['groups'][g])
    finally:
        nss.close()
        subprocess.run(['rm', '-rf', str(work.path)], check=False)
    out['loadavg_end'] = os.getloadavg()
    path = Path(opts.json) if opts.json else REPO / 'bench' / 'results' / ('%s.json' % out['started'].replace(':', ''))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + '\n')
    print('\nload average %s at the start, %s at the end (%d CPUs); results: %s' % (
        ' '.join('%.1f' % x for x in out['loadavg_start']), ' '.join('%.1f' % x for x in out['loadavg_end']),
        out['cpus'], path))
    return 0


if __name__ == '__main__':
    sys.exit(main())
