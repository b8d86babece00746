"""The hostnet.fabric.vxlan_fabric role on the real kernel: three "hosts" (network namespaces joined by an
underlay bridge in a namespace of its own), two segments, two workloads per segment on each host.

What the kernel holds is read back with iproute2 (ip -j, bridge -j), and the test pings on its own as well
as through the role's verification."""
import ipaddress
import json
import os
import subprocess
import sys
import uuid

import pytest
import yaml

from conftest import BIN, REPO, bridge_json, ip_json, link, sh, snapshot

SEGMENTS = [{'name': 'web', 'vni': 4201, 'subnet': '10.42.0.0/24'},
            {'name': 'db', 'vni': 4202, 'subnet': '10.43.0.0/24'}]
UNDERLAY = '192.168.250.%d'
NUMBERS = {'h1': 11, 'h2': 12, 'h3': 13}      # the underlay addresses' last bytes: the default host numbers
HAVE_PING_MODULE = (REPO / 'plugins' / 'modules' / 'netns_ping.py').exists()
PLAY = [{'name': 'fabric', 'hosts': 'fabric_hosts', 'gather_facts': False,
         'roles': [{'role': 'hostnet.fabric.vxlan_fabric'}]}]


def workload_ip(seg, number, k):
    net = ipaddress.ip_network(seg['subnet'])
    return str(net[number * 16 + k])


class Fabric:
    def __init__(self, tmp):
        self.tag = 'hff-%s' % uuid.uuid4().hex[:5]
        self.tmp = tmp
        self.ul = self.tag + '-ul'
        self.hosts = {}
        (tmp / 'play.yml').write_text(yaml.safe_dump(PLAY, sort_keys=False))

    def ns(self, host):
        return '%s-%s' % (self.tag, host)

    def prefix(self, host):
        return '%s-%s-' % (self.tag, host)

    def wl_ns(self, host, wl):
        return self.prefix(host) + wl

    def build_underlay(self, names):
        sh('ip', 'netns', 'add', self.ul)
        sh('ip', '-n', self.ul, 'link', 'add', 'ul0', 'type', 'bridge')
        sh('ip', '-n', self.ul, 'link', 'set', 'ul0', 'up')
        for name in names:
            ns = self.ns(name)
            sh('ip', 'netns', 'add', ns)
            sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
            sh('ip', '-n', ns, 'link', 'add', 'ul', 'type', 'veth', 'peer', 'name', 'p-' + name, 'netns', self.ul)
            sh('ip', '-n', ns, 'addr', 'add', UNDERLAY % NUMBERS[name] + '/24', 'dev', 'ul')
            sh('ip', '-n', ns, 'link', 'set', 'ul', 'up')
            sh('ip', '-n', self.ul, 'link', 'set', 'p-' + name, 'master', 'ul0', 'up')

    def workloads(self, host):
        number = NUMBERS[host]
        return [{'name': '%s%d' % (seg['name'], k), 'segment': seg['name'], 'address': workload_ip(seg, number, k)}
                for seg in SEGMENTS for k in (1, 2)]

    def inventory(self, names, **host_over):
        hosts = {}
        for name in names:
            hv = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
                  'hostnet_underlay_ip': UNDERLAY % NUMBERS[name], 'vxlan_fabric_netns': self.ns(name),
                  'vxlan_fabric_netns_prefix': self.prefix(name), 'vxlan_fabric_workloads': self.workloads(name)}
            hv.update(host_over.get(name, {}))
            hosts[name] = hv
        inv = {'all': {'vars': {'vxlan_fabric_segments': SEGMENTS, 'vxlan_fabric_verify': HAVE_PING_MODULE},
                       'children': {'fabric_hosts': {'hosts': hosts}}}}
        path = self.tmp / 'inventory.yml'
        path.write_text(yaml.safe_dump(inv, sort_keys=False))
        return path

    def run(self, names, check=False, extra=None, **host_over):
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / 'ansible.cfg'), ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
                   ANSIBLE_NOCOLOR='1')
        cmd = [str(BIN / 'ansible-playbook'), '-i', str(self.inventory(names, **host_over)), '--diff',
               str(self.tmp / 'play.yml')]
        if check:
            cmd.append('--check')
        if extra:
            cmd += ['-e', json.dumps(extra)]
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError('no JSON (rc %s):\n%s\n%s' % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
        failures = []
        for play in data['plays']:
            for task in play['tasks']:
                for host, res in task['hosts'].items():
                    if res.get('failed'):
                        failures.append('%s: %s: %s' % (host, task['task']['name'], res.get('msg')))
        return proc.returncode, data['stats'], failures, data

    def all_namespaces(self):
        return sorted(n['name'] for n in ip_json(None, 'netns', 'list') if n['name'].startswith(self.tag + '-'))

    def cleanup(self):
        for name in self.all_namespaces():
            sh('ip', 'netns', 'del', name, check=False)


@pytest.fixture
def fabric(tmp_path):
    fab = Fabric(tmp_path)
    yield fab
    fab.cleanup()


def ping(ns, address, size=None):
    cmd = ['ip', 'netns', 'exec', ns, 'ping', '-c', '1', '-W', '2']
    if size:
        cmd += ['-M', 'do', '-s', str(size)]
    return sh(*(cmd + [address]), check=False).returncode == 0


def full_matrix(fab, names):
    """The test's own pings: every workload to every other workload and gateway of its segment, every
    host to every workload, small and DF MTU-28. Returns the misses."""
    misses = []
    for seg in SEGMENTS:
        wls = [(h, w) for h in names for w in fab.workloads(h) if w['segment'] == seg['name']]
        gws = [str(ipaddress.ip_network(seg['subnet'])[NUMBERS[h]]) for h in names]
        for h, w in wls:
            for _h2, w2 in wls:
                if w2 is not w:
                    for size in (None, 1450 - 28):
                        if not ping(fab.wl_ns(h, w['name']), w2['address'], size):
                            misses.append('%s/%s -> %s (%s)' % (h, w['name'], w2['address'], size))
            for gw in gws:
                if not ping(fab.wl_ns(h, w['name']), gw):
                    misses.append('%s/%s -> gw %s' % (h, w['name'], gw))
        for h in names:
            for _h2, w2 in wls:
                if not ping(fab.ns(h), w2['address'], 1450 - 28):
                    misses.append('%s -> %s' % (h, w2['address']))
    return misses


def fabric_namespaces(fab, names):
    return [fab.ul] + [fab.ns(n) for n in names] + [fab.wl_ns(n, w['name']) for n in names for w in fab.workloads(n)]


def changed(stats):
    return dict((h, s['changed']) for h, s in stats.items())


def test_fabric_converges_verifies_and_is_removed_exactly(fabric):
    names = ['h1', 'h2', 'h3']
    fabric.build_underlay(names)
    spaces = fabric_namespaces(fabric, names)
    pristine = snapshot(spaces)

    # check mode on a fresh fabric changes nothing
    rc, _stats, failures, _data = fabric.run(names, check=True)
    assert rc == 0, failures
    assert snapshot(spaces) == pristine, 'check mode changed the hosts'

    rc, stats, failures, data = fabric.run(names)
    assert rc == 0, failures
    if HAVE_PING_MODULE:
        shown = [item['msg'] for play in data['plays'] for task in play['tasks']
                 if 'Reachability (rows from' in task['task']['name']
                 for res in task['hosts'].values() for item in res.get('results', [])]
        # one matrix per segment: 2 x 3 workload rows + 3 host rows, every cell ok or the diagonal
        assert len(shown) == 2, shown
        for lines in shown:
            assert 'all ok' in lines[0] and len(lines) == 1 + 1 + 9, lines
            assert all('MISS' not in line and 'MTU' not in line.split(';')[-1] for line in lines[2:]), lines
    else:
        print('vxlan_fabric_verify is off: hostnet.fabric.netns_ping is not in this checkout yet')
    assert full_matrix(fabric, names) == []

    # what each host holds: bridge with its gateway, VXLAN with the lists, marked with the role's alias
    h1 = fabric.ns('h1')
    vx = link(h1, 'hfvx4201')
    info = vx['linkinfo']['info_data']
    assert (info['id'], info['port'], info['local'], info['learning'], info['proxy']) == (
        4201, 4789, '192.168.250.11', False, True)
    assert vx['mtu'] == 1450 and vx['ifalias'] == 'hostnet.fabric.vxlan_fabric segment=web'
    fdb = bridge_json(h1, 'fdb', 'show', 'dev', 'hfvx4201')
    assert sorted(e['dst'] for e in fdb if e['mac'] == '00:00:00:00:00:00') == ['192.168.250.12', '192.168.250.13']
    static = sorted((e['mac'], e['dst']) for e in fdb if e['mac'] != '00:00:00:00:00:00' and 'dst' in e)
    assert ('02:42:0a:2a:00:c1', '192.168.250.12') in static and len(static) == 2 * (1 + 2)
    assert link(h1, 'hfbr4201')['address'] == '02:42:0a:2a:00:0b'

    # converge again: nothing changes
    rc, stats, failures, _data = fabric.run(names)
    assert rc == 0, failures
    assert changed(stats) == {'h1': 0, 'h2': 0, 'h3': 0}

    # check mode on a converged fabric changes nothing and predicts nothing
    converged = snapshot(spaces)
    rc, stats, failures, _data = fabric.run(names, check=True)
    assert rc == 0 and changed(stats) == {'h1': 0, 'h2': 0, 'h3': 0}, failures
    assert snapshot(spaces) == converged

    # drop h2 from the inventory: nobody mentions it, nobody is renumbered, the rest still reaches everything
    rc, stats, failures, _data = fabric.run(['h1', 'h3'])
    assert rc == 0, failures
    for host in ('h1', 'h3'):
        ns = fabric.ns(host)
        for seg in SEGMENTS:
            vxname = 'hfvx%d' % seg['vni']
            text = json.dumps(bridge_json(ns, 'fdb', 'show', 'dev', vxname)) + json.dumps(
                ip_json(ns, 'neigh', 'show', 'dev', vxname))
            assert '192.168.250.12' not in text and '"%s"' % workload_ip(seg, 12, 1) not in text
            gw = '%s/24' % ipaddress.ip_network(seg['subnet'])[NUMBERS[host]]
            on_bridge = ip_json(ns, 'addr', 'show', 'dev', 'hfbr%d' % seg['vni'])[0]['addr_info']
            assert ['%s/%d' % (a['local'], a['prefixlen']) for a in on_bridge if a['family'] == 'inet'] == [gw]
    assert full_matrix(fabric, ['h1', 'h3']) == []

    # absent (with h2 back in, so each host removes its own) leaves the hosts as they were before the first run
    rc, _stats, failures, _data = fabric.run(names, extra={'vxlan_fabric_state': 'absent'})
    assert rc == 0, failures
    assert snapshot(spaces) == pristine


@pytest.mark.parametrize('case', ['duplicate number', 'underlay not on host'])
def test_refusals_touch_nothing(fabric, case):
    names = ['h1', 'h2', 'h3']
    fabric.build_underlay(names)
    spaces = fabric_namespaces(fabric, names)
    before = snapshot(spaces)
    over = {'h3': {'vxlan_fabric_host_number': 11}} if case == 'duplicate number' else \
        {'h2': {'hostnet_underlay_ip': '192.168.250.99'}}
    rc, stats, failures, _data = fabric.run(names, **over)
    assert rc != 0
    want = "host number 11 is also h1's" if case == 'duplicate number' else \
        'h2: underlay address 192.168.250.99 is not on this host'
    # refused on every host, naming the problem
    assert sorted(f.split(':')[0] for f in failures if want in f) == names, failures
    assert all(s['changed'] == 0 for s in stats.values())
    assert snapshot(spaces) == before
