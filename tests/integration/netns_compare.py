"""The one comparison of netns_info's view of a namespace with what iproute2 reports for it, field by
field. Used by tests/integration/test_netns_info.py (namespaces on this machine) and tests/lab/test_inspect.py
(a container and an overlay network's namespace on lab hosts): each passes a function that runs an
`ip`/`bridge` command inside the namespace and returns its parsed JSON."""

import json

# iproute2 queries, run inside the namespace (every one with -j)
QUERIES = {
    'links': ['ip', '-j', '-d', 'link', 'show'],
    'addrs': ['ip', '-j', 'addr', 'show'],
    'routes': ['ip', '-j', '-d', 'route', 'show', 'table', 'all'],
    'neigh': ['ip', '-j', 'neigh', 'show'],
    'fdb': ['bridge', '-j', 'fdb', 'show'],
    'brlinks': ['bridge', '-j', 'link', 'show'],
    'nsids': ['ip', '-j', 'netns', 'list-id'],
}


def _canonical(entry):
    return json.dumps(entry, sort_keys=True)


def kernel(run):
    """What iproute2 reports for a namespace; ``run(cmd)`` runs ``cmd`` in it and returns the parsed JSON."""
    k = dict((key, run(cmd)) for key, cmd in QUERIES.items())
    k['routes'] = [r for r in k['routes'] if r.get('table') != 'local']
    k['nsids'] = dict((n['nsid'], n.get('name')) for n in k['nsids'])
    return k


def stable(read_kernel, read_view, tries=3):
    """(view, kernel) read so that iproute2 saw the same before and after the module's read.

    Bounded: the kernel changes derived state on its own (an FDB entry learned from a packet, a neighbour
    going stale); after ``tries`` the last pair is returned and the comparison shows what moved.
    """
    for _attempt in range(tries):
        before = read_kernel()
        view = read_view()
        after = read_kernel()
        if before == after:
            break
    return view, after


def route_dst(r):
    dst = r['dst']
    if dst != 'default' and '/' not in dst:
        dst += '/128' if ':' in dst else '/32'
    return dst


def compare(view, k):
    """Assert that netns_info's view of a namespace is what iproute2 reports, field by field."""
    # ---- links (ip -j -d link show, ip -j addr show)
    assert sorted(view['links']) == sorted(l['ifname'] for l in k['links'])
    addrs = dict((a['ifname'], ['%s/%s' % (i['local'], i['prefixlen']) for i in a.get('addr_info', [])])
                 for a in k['addrs'])
    for l in k['links']:
        mine = view['links'][l['ifname']]
        info = l.get('linkinfo', {})
        want = {
            'name': l['ifname'], 'index': l['ifindex'], 'mtu': l['mtu'], 'mac': l['address'],
            'state': l['operstate'], 'up': 'UP' in l['flags'], 'carrier': 'LOWER_UP' in l['flags'],
            'master': l.get('master'), 'alias': l.get('ifalias'), 'kind': info.get('info_kind'),
            'link_type': l['link_type'], 'link': l.get('link'), 'link_netnsid': l.get('link_netnsid'),
            'addresses': addrs[l['ifname']],
        }
        got = dict((key, mine[key]) for key in want)
        assert got == want, l['ifname']
        if 'link_index' in l:
            assert mine['link_index'] == l['link_index'], l['ifname']
        if l.get('link_netnsid') is not None:
            assert mine['link_netns'] == k['nsids'].get(l['link_netnsid']), l['ifname']
        if info.get('info_kind') == 'vxlan':
            d = info['info_data']
            want = {'vni': d['id'], 'port': d['port'], 'local': d.get('local'), 'remote': d.get('remote'),
                    'group': d.get('group'), 'dev': d.get('link'), 'learning': d['learning'], 'proxy': d['proxy'],
                    'l2miss': bool(d.get('l2miss')), 'l3miss': bool(d.get('l3miss')), 'ttl': d['ttl'],
                    'ageing': d['ageing'], 'udp_csum': d['udp_csum'], 'srcport_min': d['port_range']['low'],
                    'srcport_max': d['port_range']['high']}
            assert dict((key, mine['vxlan'][key]) for key in want) == want, l['ifname']
        else:
            assert 'vxlan' not in mine
        if info.get('info_kind') == 'bridge':
            d = info['info_data']
            br = view['bridges'][l['ifname']]
            assert (br['stp'], br['vlan_filtering'], br['ageing_time'], br['forward_delay'], br['priority']) == \
                (bool(d['stp_state']), bool(d['vlan_filtering']), d['ageing_time'], d['forward_delay'],
                 d['priority'])
        if info.get('info_slave_kind') == 'bridge':
            d = info['info_slave_data']
            port = view['bridges'][l['master']]['ports'][l['ifname']]
            want = {'state': d['state'], 'priority': d['priority'], 'cost': d['cost'], 'hairpin': d['hairpin'],
                    'learning': d['learning'], 'flood': d['flood'], 'mcast_flood': d['mcast_flood'],
                    'bcast_flood': d['bcast_flood'], 'neigh_suppress': d['neigh_suppress'],
                    'isolated': d['isolated']}
            assert port == want, l['ifname']
    # ---- bridges and their ports (bridge -j link show)
    assert sorted(view['bridges']) == sorted(l['ifname'] for l in k['links']
                                             if l.get('linkinfo', {}).get('info_kind') == 'bridge')
    ports = sorted((p['master'], p['ifname'], p['state'], p['priority'], p['cost']) for p in k['brlinks'])
    mine = sorted((br, name, p['state'], p['priority'], p['cost'])
                  for br, b in view['bridges'].items() for name, p in b['ports'].items())
    assert mine == ports
    # ---- FDB (bridge -j fdb show): the bridges' entries and the devices' own. Sorted: a dump walks hash
    # tables, whose order changes when the kernel resizes them (entries it adds on its own can do that)
    want = [{'mac': e['mac'], 'dev': e['ifname'], 'master': e.get('master'), 'dst': e.get('dst'),
             'vlan': e.get('vlan'), 'vni': e.get('vni'), 'port': e.get('port'), 'state': e['state'] or 'dynamic',
             'flags': e['flags']} for e in k['fdb']]
    assert sorted(view['fdb'], key=_canonical) == sorted(want, key=_canonical)
    # ---- neighbours (ip -j neigh show), sorted for the same reason
    want = sorted((n['dst'], n['dev'], n.get('lladdr'), ','.join(s.lower() for s in n.get('state', [])), 'router' in n)
                  for n in k['neigh'])
    got = sorted((n['ip'], n['dev'], n['mac'], n['state'], n['router']) for n in view['neighbours'])
    assert got == want
    # ---- routes (ip -j -d route show table all, without the local table)
    want = sorted((route_dst(r), r.get('gateway'), r.get('dev'), r.get('prefsrc'), r['table'], r['protocol'],
                   r['scope'], r['type'], r.get('metric')) for r in k['routes'])
    got = sorted((r['dst'], r['gateway'], r['dev'], r['prefsrc'], r['table'], r['protocol'], r['scope'],
                  r['type'], r['metric']) for r in view['routes'])
    assert got == want
