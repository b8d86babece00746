"""hostnet.fabric benchmarks: each figure beside its baseline, measured in the same run.

    sudo .venv/bin/python bench/run.py                    # B1 and B2 at full size, 3 rounds
    sudo .venv/bin/python bench/run.py --only B2 --rounds 5
    sudo .venv/bin/python bench/run.py --sizes 50,100 --rounds 1 --json /tmp/b.json   # smoke size

Groups (pluggable: GROUPS below; a group that cannot run here says why and is listed as not measured):
  B1  bulk FDB / neighbour entries: the vxlan module creating 1,000 and 5,000 peers (flood entries),
      5,000 static fdb and 5,000 neigh entries, against `bridge -batch` / `ip -batch` with the same
      entries and against pyroute2 with one call per entry; us per entry; the no-op re-run at the
      largest size against an empty no-op run; peak RSS against an empty run.
  B2  module overhead: a no-op run of each netlink module against ansible.builtin.ping.
  B3  fabric scaling (the native fabric role on 2/4/8 hosts): not implemented, see README.
  B4  data path (iperf3 across the fabric vs the underlay): not implemented, see README.

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

    def text_file(self, text):
        self.count += 1
        path = self.path / ('batch%d.txt' % self.count)
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
        print('  target (%s time, medians): %s -> %s' % (measure, name, value))


# --------------------------------------------------------------------------- registry
NOT_MEASURED = {
    'B3': 'the native fabric role is not on this branch yet: fabric scaling (2/4/8 hosts) was not measured',
    'B4': 'needs the native fabric role between hosts: iperf3 fabric vs underlay throughput was not measured',
}
GROUPS = {'B1': (bench_b1, print_b1), 'B2': (bench_b2, print_b2)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--only', default='B1,B2', help='groups to run, comma separated (default B1,B2)')
    parser.add_argument('--sizes', default='1000,5000', help='B1 entry counts; the largest is used for fdb, '
                        'neigh and the no-op run (default 1000,5000)')
    parser.add_argument('--rounds', type=int, default=3, help='interleaved rounds (default 3)')
    parser.add_argument('--json', default=None, help='write the results here (default bench/results/DATE.json)')
    opts = parser.parse_args(argv)
    opts.sizes = sorted(int(x) for x in opts.sizes.split(','))
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
