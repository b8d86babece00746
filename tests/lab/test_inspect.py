"""hostnet.fabric.netns_info and playbooks/inspect.yml on lab hosts with real Docker engines.

- a container's namespace (read through its process, no /run/netns name made) is what iproute2 reports in it,
  field by field (tests/integration/netns_compare.py, the same comparison as the real-kernel tests);
- an overlay network's own namespace on a host (Docker's `<epoch>-<id>` file under /var/run/docker/netns):
  the bridge, the VXLAN device, and the static FDB and neighbour entries Docker programmed for a container on
  another host, again compared with iproute2 (this one uses site.yml's ov_net1: kv-store overlay on Debian 12,
  swarm mode on Debian 13);
- inspect.yml prints those objects as text, in check mode too, and leaves nothing behind on the host.
Assertions read the hosts' real state (docker inspect, nsenter + ip/bridge), not only the module's output."""
import json
import sys
import uuid
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'integration'))
pytest.register_assert_rewrite('netns_compare')  # detailed assertion messages from the shared comparison
import netns_compare  # noqa: E402  (the one comparison, shared with the real-kernel tests)
from test_overlay import wait_until  # noqa: E402  (the lab tests' one bounded wait)

PROBE = 'hostnet/probe:latest'
INSPECT = 'playbooks/inspect.yml'


def task_result(data, task, host):
    for play in (data or {}).get('plays', []):
        for t in play['tasks']:
            if t['task']['name'] == task and host in t['hosts']:
                return t['hosts'][host]
    raise AssertionError('no result of task %r on %s in %s' % (task, host, json.dumps(data)[:2000]))


def read(lab, tmp_path, host, args, *options):
    """netns_info on one lab host through ansible-playbook; returns the module's result."""
    pb = [{'name': 'read', 'hosts': host, 'gather_facts': False,
           'tasks': [{'name': 'netns_info', 'hostnet.fabric.netns_info': args}]}]
    path = tmp_path / ('read-%s.yml' % uuid.uuid4().hex[:6])
    path.write_text(yaml.safe_dump(pb, sort_keys=False))
    rc, data = lab.playbook(path, *options)
    res = task_result(data, 'netns_info', host)
    assert rc == 0 and not res.get('failed'), '%s: netns_info %s failed: %s' % (host, args, res.get('msg'))
    return res


def kernel(lab, host, path):
    """What iproute2 reports inside the namespace at ``path`` on ``host`` (all queries in one docker exec)."""
    queries = list(netns_compare.QUERIES.values())
    script = '; '.join("nsenter --net=%s %s | tr -d '\\n'; echo" % (path, ' '.join(cmd)) for cmd in queries)
    lines = lab.sh(host, script).stdout.split('\n')
    outputs = dict(zip((tuple(cmd) for cmd in queries), lines))
    return netns_compare.kernel(lambda cmd: json.loads(outputs[tuple(cmd)] or '[]'))


def inspect_text(lab, host, *options, **extra_vars):
    """playbooks/inspect.yml on one host: (the report it printed, whether any task changed)."""
    rc, data = lab.playbook(lab.repo / INSPECT, '-l', host, *options, extra_vars=extra_vars)
    res = task_result(data, 'Show it', host)
    assert rc == 0 and not res.get('failed'), '%s: inspect.yml %s failed: %s' % (host, extra_vars, res.get('msg'))
    changed = any(h.get('changed') for p in data['plays'] for t in p['tasks'] for h in t['hosts'].values())
    return res['msg'], changed


def leftovers(lab, host):
    """What reading a namespace could leave behind: names under /run/netns and namespace mounts."""
    return lab.out(host, "ls -a /run/netns 2>/dev/null; grep ' - nsfs ' /proc/self/mountinfo | cut -d' ' -f4,5 | sort")


def section(text, title):
    """The rows of one section of a report (the indented lines after the heading TITLE)."""
    lines = text.splitlines()
    start = [i for i, l in enumerate(lines) if l.split(' (')[0] == title][0] + 1
    rows = []
    for l in lines[start:]:
        if not l.startswith('  '):
            break
        rows.append(l)
    return rows[1:]  # without the header


def test_a_containers_namespace_is_what_iproute2_reports_and_nothing_is_left(lab, tmp_path):
    host = lab.hosts[0]
    name = 'in%s' % uuid.uuid4().hex[:6]
    lab.sh(host, 'docker run -d --name %s %s sleep 600' % (name, PROBE))
    try:
        before = leftovers(lab, host)
        info = json.loads(lab.out(host, 'docker inspect %s' % name))[0]
        pid, address = info['State']['Pid'], info['NetworkSettings']['IPAddress']
        path = '/proc/%d/ns/net' % pid
        res, k = netns_compare.stable(lambda: kernel(lab, host, path),
                                      lambda: read(lab, tmp_path, host, {'container': name}))
        view = res['namespace']
        assert res['changed'] is False
        assert view['container'] == {'id': info['Id'], 'name': name, 'pid': pid}
        assert view['path'] == path and view['current'] is False and view['names'] == []
        netns_compare.compare(view, k)
        eth0 = view['links']['eth0']
        assert eth0['kind'] == 'veth' and eth0['mac'] == info['NetworkSettings']['MacAddress']
        assert '%s/%s' % (address, info['NetworkSettings']['IPPrefixLen']) in eth0['addresses']
        assert eth0['link_netnsid'] is not None  # its peer is in the host's namespace
        gateway = info['NetworkSettings']['Gateway']
        assert [r['gateway'] for r in view['routes'] if r['dst'] == 'default'] == [gateway]
        # the operator's view: inspect.yml, in check mode too
        text, changed = inspect_text(lab, host, container=name)
        assert not changed
        assert text.splitlines()[0].startswith('container %s (id %s, pid %d)' % (name, info['Id'][:12], pid)), text
        eth0_line = [l for l in text.splitlines() if l.split()[:1] == ['eth0']]
        assert len(eth0_line) == 1 and eth0['mac'] in eth0_line[0] and address in eth0_line[0], text
        assert gateway in text
        # check mode: the same text, nothing changed
        text_check, changed = inspect_text(lab, host, '--check', '--diff', container=name)
        assert text_check == text and not changed
        assert leftovers(lab, host) == before, 'reading the container left a namespace name or mount behind'
    finally:
        lab.sh(host, 'docker rm -f %s' % name, check=False)


def start_on_overlay(lab, host, base):
    # bounded tries, as test_site does: Engine 20.10 sometimes fails the endpoint's store update and leaves
    # the endpoint behind (the same name then "already exists"), so each try uses a name of its own
    return lab.out(host, 'for t in 1 2 3 4 5; do n=%s-$t; docker rm -f $n >/dev/null 2>&1; '
                         'docker run -d --name $n --network ov_net1 %s sleep 600 >/dev/null && echo $n && exit 0; '
                         'sleep 3; done; exit 1' % (base, PROBE))


def test_an_overlay_networks_own_namespace_shows_the_remote_containers_static_entries(lab, site, tmp_path):
    assert site[0] == 0, 'site.yml did not converge on the %s lab (see test_site): no ov_net1 to look into' % lab.distro
    h1, h2 = lab.hosts[0], lab.hosts[1]
    tag = uuid.uuid4().hex[:6]
    bases = {h1: 'in%s-a' % tag, h2: 'in%s-b' % tag}
    try:
        c1 = start_on_overlay(lab, h1, bases[h1])
        c2 = start_on_overlay(lab, h2, bases[h2])
        net = json.loads(lab.out(h1, 'docker network inspect ov_net1'))[0]
        ep1 = json.loads(lab.out(h1, 'docker inspect %s' % c1))[0]
        ep2 = json.loads(lab.out(h2, 'docker inspect %s' % c2))[0]
        mac2, ip2 = ep2['NetworkSettings']['Networks']['ov_net1']['MacAddress'], \
            ep2['NetworkSettings']['Networks']['ov_net1']['IPAddress']
        ip1 = ep1['NetworkSettings']['Networks']['ov_net1']['IPAddress']
        vtep2 = lab.hostvars(h2)['hostnet_underlay_ip']
        # Docker's file for the network's namespace on h1, found without the module: the one that holds
        # the other end of c1's interface on ov_net1
        c1_links = json.loads(lab.out(h1, 'nsenter --net=/proc/%d/ns/net ip -j addr show' % ep1['State']['Pid']))
        c1_if = [l for l in c1_links if ip1 in [a['local'] for a in l.get('addr_info', [])]][0]
        candidates = lab.out(h1, 'ls /var/run/docker/netns').split()
        path = None
        for f in candidates:
            found = lab.sh(h1, 'nsenter --net=/var/run/docker/netns/%s ip -j -d link show' % f, check=False)
            if found.returncode != 0:
                continue  # a file Docker has not cleaned up yet, with no namespace mounted on it
            links = json.loads(found.stdout or '[]')
            if any(l['ifindex'] == c1_if['link_index'] and l.get('linkinfo', {}).get('info_kind') == 'veth'
                   for l in links) and any(l.get('linkinfo', {}).get('info_kind') == 'vxlan' for l in links):
                path = '/var/run/docker/netns/' + f
        assert path, 'no namespace under /var/run/docker/netns on %s holds the peer of %s' % (h1, c1)

        # bounded: the remote endpoint reaches h1's forwarding table through the store (20.10) or gossip (swarm)
        def remote_entry():
            fdb = json.loads(lab.out(h1, 'nsenter --net=%s bridge -j fdb show' % path) or '[]')
            return [e for e in fdb if e['mac'] == mac2 and e.get('dst') == vtep2]
        wait_until('%s has the static FDB entry of %s (%s dst %s)' % (h1, c2, mac2, vtep2), remote_entry)

        res, k = netns_compare.stable(lambda: kernel(lab, h1, path),
                                      lambda: read(lab, tmp_path, h1, {'network': 'ov_net1'}))
        view = res['namespace']
        assert view['path'] == path and view['name'] == path.rsplit('/', 1)[1]
        assert view['network'] == {'id': net['Id'], 'name': 'ov_net1', 'driver': 'overlay', 'scope': net['Scope']}
        netns_compare.compare(view, k)
        vxlans = [l for l in view['links'].values() if l['kind'] == 'vxlan']
        assert len(vxlans) == 1, view['links']
        vx = vxlans[0]
        vni = (net.get('Options') or {}).get('com.docker.network.driver.overlay.vxlanid_list')
        if vni:  # the engine says which VNI it gave the network (swarm mode does, 20.10's kv-store mode not)
            assert vx['vxlan']['vni'] == int(vni.split(',')[0])
        assert vx['vxlan']['port'] == 4789 and vx['master'] in view['bridges']
        ports = view['bridges'][vx['master']]['ports']
        peer = [n for n, l in view['links'].items() if l['index'] == c1_if['link_index']][0]
        assert vx['name'] in ports and peer in ports, ports
        entries = [e for e in view['fdb'] if e['mac'] == mac2 and e['dst'] == vtep2]
        assert len(entries) == 1 and entries[0]['dev'] == vx['name'] and entries[0]['state'] == 'permanent' \
            and 'self' in entries[0]['flags'], entries
        assert (ip2, mac2, vx['name']) in [(n['ip'], n['mac'], n['dev']) for n in view['neighbours']]

        before = leftovers(lab, h1)
        text, changed = inspect_text(lab, h1, network='ov_net1')
        assert not changed
        assert text.splitlines()[0].startswith('overlay network ov_net1 (id %s' % net['Id'][:12]), text
        rows = [l.split() for l in section(text, 'vxlan')]
        assert [vx['name'], str(vx['vxlan']['vni']), '4789'] in [r[:3] for r in rows], text
        assert [mac2, vx['name'], '-', vtep2, '-', 'permanent', 'self'] in [r.split() for r in section(text, 'fdb')], text
        assert leftovers(lab, h1) == before, 'inspect.yml left a namespace name or mount behind'
    finally:
        for h, base in bases.items():
            lab.sh(h, 'for t in 1 2 3 4 5; do docker rm -f %s-$t >/dev/null 2>&1; done; true' % base, check=False)
