# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to hostnet.fabric: not a public API, may change without notice.
#
# The native VXLAN fabric's planning (the hostnet.fabric.vxlan_fabric role), pure Python, no Ansible.
#
# plan() takes every fabric host (its number, underlay address, what netns_info read on it, its workloads)
# and the segments, checks all of it, and returns for each host exactly what its tasks pass to the
# modules: per segment the bridge, the VXLAN device with its whole flood/FDB/neighbour lists and the
# host's gateway address, and the workloads' veth pairs. It is computed once for the whole fabric.
#
# Numbering never depends on inventory order: a host's number is a host variable, by default the last
# byte of its underlay address. On a segment with subnet S cut into blocks of 2**(32 - block) addresses,
#   host n's gateway (its own address on the segment) is S[n]           (block 0 holds the gateways)
#   host n's block (its workloads, its Docker ip_range) is block n
# so adding or removing a host never moves another host's addresses. A workload's MAC is 02:42 followed
# by the four bytes of its IPv4 address (what Docker does for its bridge endpoints), so every host knows
# every remote MAC without learning; each host gets static FDB and neighbour entries for all of them.
#
# A docker segment (docker: true) is also a local Docker bridge network on every host, on the segment's bridge,
# with the host's block as its ip_range. Whether remote containers' MACs are programmed statically (every
# address of every remote block) or learned on that segment is decided by docker_learning() below.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re
import zlib

OWNER = 'hostnet.fabric.vxlan_fabric'
IFNAME_MAX = 15
VNI_MAX = 16777215
DOCKER_BLOCK_MAX = 256          # addresses per host block of a docker segment programmed statically
DOCKER_LABEL = OWNER + '.segment'   # the label the role puts on the Docker networks it makes
OVERHEAD = {4: 50, 6: 70}       # outer IP + UDP + VXLAN + inner Ethernet
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')


class FabricPlanError(Exception):
    pass


def mac_for(ip):
    """02:42 + the four bytes of an IPv4 address (Docker's bridge endpoints do the same)."""
    packed = ipaddress.IPv4Address(ip).packed
    return '02:42:' + ':'.join('%02x' % b for b in bytearray(packed))


def default_host_number(underlay_ip):
    """The last byte of the underlay address: stable, and independent of the inventory's order."""
    return int(ipaddress.ip_address(underlay_ip)) & 0xff


def alias_for(**fields):
    return ' '.join([OWNER] + ['%s=%s' % (k, fields[k]) for k in sorted(fields)])


def parse_alias(alias):
    """The fields of an alias this role wrote, or None for anything else."""
    if not alias or not alias.startswith(OWNER + ' ') and alias != OWNER:
        return None
    out = {}
    for part in alias.split(' ')[1:]:
        key, sep, value = part.partition('=')
        if sep:
            out[key] = value
    return out


def _bare(cidr):
    return cidr.partition('/')[0]


# ------------------------------------------------------------------------------------------- segments

def _segment(seg, index, errors):
    where = 'vxlan_fabric_segments[%d]' % index
    if not isinstance(seg, dict):
        errors.append('%s: must be a dict (got %r)' % (where, seg))
        return None
    name = seg.get('name')
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 64:
        errors.append('%s.name: must be 1..64 characters of letters, digits, _ . - (got %r)' % (where, name))
        return None
    where = 'segment %s' % name
    out = {'name': name, 'docker': bool(seg.get('docker', False))}
    try:
        vni = int(seg.get('vni'))
    except (TypeError, ValueError):
        vni = None
    if vni is None or not 1 <= vni <= VNI_MAX:
        errors.append('%s: vni must be in 1..%d (got %r)' % (where, VNI_MAX, seg.get('vni')))
        return None
    out['vni'] = vni
    try:
        subnet = ipaddress.ip_network(str(seg.get('subnet')), strict=True)
    except ValueError:
        errors.append('%s: subnet must be a network in CIDR form such as 10.42.0.0/24 (got %r)'
                      % (where, seg.get('subnet')))
        return None
    if subnet.version != 4:
        errors.append('%s: subnet must be IPv4 (workload MACs are derived from IPv4 addresses; got %s)'
                      % (where, subnet))
        return None
    if subnet.prefixlen > 28:
        errors.append('%s: subnet %s is too small (at most /28: it holds one block per host)' % (where, subnet))
        return None
    out['subnet'] = str(subnet)
    block = seg.get('block')
    if block is None:
        block = min(subnet.prefixlen + 8, 28) if subnet.prefixlen < 28 else 30
    try:
        block = int(block)
    except (TypeError, ValueError):
        block = -1
    if not subnet.prefixlen < block <= 30:
        errors.append('%s: block (the prefix length of each host\'s block) must be in %d..30 (got %r)'
                      % (where, subnet.prefixlen + 1, seg.get('block')))
        return None
    out['block'] = block
    size = 2 ** (32 - block)
    out['max_hosts'] = min(2 ** (block - subnet.prefixlen) - 1, size - 1)
    mtu = seg.get('mtu')
    if mtu is not None:
        try:
            mtu = int(mtu)
        except (TypeError, ValueError):
            mtu = 0
        if not 68 <= mtu <= 65535:
            errors.append('%s: mtu must be in 68..65535 (got %r)' % (where, seg.get('mtu')))
            return None
    out['mtu_wanted'] = mtu
    for key, default in (('bridge', 'hfbr%d' % vni), ('vxlan', 'hfvx%d' % vni)):
        value = seg.get(key) or default
        if not isinstance(value, str) or len(value.encode()) > IFNAME_MAX or not _NAME.match(value):
            errors.append('%s: %s must be an interface name of at most %d bytes (got %r)'
                          % (where, key, IFNAME_MAX, value))
            return None
        out[key] = value
    out['alias'] = alias_for(segment=name)
    return out


def _check_segments(segments, errors):
    seen = {}
    for seg in segments:
        for key in ('name', 'vni', 'bridge', 'vxlan'):
            other = seen.get((key, seg[key]))
            if other is not None:
                errors.append('segment %s: %s %s is also segment %s\'s' % (seg['name'], key, seg[key], other))
            seen[(key, seg[key])] = seg['name']
        if seg['bridge'] == seg['vxlan']:
            errors.append('segment %s: bridge and vxlan must differ (both %s)' % (seg['name'], seg['bridge']))
    names = dict((s['vxlan'], s['name']) for s in segments)
    for seg in segments:
        if seg['bridge'] in names:
            errors.append('segment %s: bridge %s is segment %s\'s vxlan device'
                          % (seg['name'], seg['bridge'], names[seg['bridge']]))
    nets = [(ipaddress.ip_network(s['subnet']), s['name']) for s in segments]
    for i, (net, name) in enumerate(nets):
        for other, other_name in nets[i + 1:]:
            if net.overlaps(other):
                errors.append('segment %s: subnet %s overlaps segment %s\'s %s' % (other_name, other, name, net))


_VERSION = re.compile(r'^v?(\d+)\.(\d+)\.(\d+)')


def docker_derives_mac(version):
    """(True, why) if Docker Engine VERSION is known to give every bridge endpoint the MAC 02:42 + its IPv4
    address (and keeps doing so across restarts), else (False, why).

    Known: up to 24.x (the rule since moby#8269), 25.0.3 and later 25.x, 26.x (26.1 checked on the lab, as 20.10
    was). 25.0.0 to 25.0.2 restore a container's previous MAC on restart even when its address changed
    (moby#47146, fixed in 25.0.3 by moby#47304). Anything newer has not been checked here."""
    match = _VERSION.match(str(version or ''))
    if not match:
        return False, 'Engine version %r could not be read' % (version,)
    major, minor, patch = (int(x) for x in match.groups())
    if major <= 24 or (major == 25 and (minor > 0 or patch >= 3)) or major == 26:
        return True, 'Engine %d.%d derives endpoint MACs from their IPv4 address' % (major, minor)
    if major == 25:
        return False, ('Engine %d.%d.%d restores a restarted container\'s previous MAC even when its address changed '
                       '(moby#47146, fixed in 25.0.3)' % (major, minor, patch))
    return False, 'Engine %d.%d is not known here to derive endpoint MACs from their IPv4 address' % (major, minor)


def docker_learning(seg, engines):
    """How the other hosts' FDBs get the MACs of a docker segment's containers: (learning, why).

    Static (learning False) is preferred: deterministic from the first packet, nothing floods, and ARP suppression
    answers for every address. It needs every engine to derive MACs from addresses (docker_derives_mac) and
    host blocks small enough to program every address of every remote block (at most DOCKER_BLOCK_MAX each).
    Otherwise the segment's VXLAN device learns (its flood list stays exclusive, the gateways stay static).
    ENGINES is {host: version}."""
    size = 2 ** (32 - seg['block'])
    if size > DOCKER_BLOCK_MAX:
        return True, ('learning on: host blocks of %d addresses (/%d) are too many to program statically on every '
                      'host (at most %d; set block to %d or more)'
                      % (size, seg['block'], DOCKER_BLOCK_MAX, 32 - (DOCKER_BLOCK_MAX.bit_length() - 1)))
    unknown = []
    for name in sorted(engines):
        ok, why = docker_derives_mac(engines[name])
        if not ok:
            unknown.append('%s: %s' % (name, why))
    if unknown:
        return True, 'learning on: container MACs cannot be known in advance (%s)' % '; '.join(unknown)
    return False, ('learning off: static FDB and neighbour entries for every address of every remote block '
                   '(every engine derives container MACs from their address: %s)'
                   % ', '.join('%s %s' % (n, engines[n]) for n in sorted(engines)))


def gateway_ip(seg, number):
    return str(ipaddress.ip_network(seg['subnet'])[number])


def host_block(seg, number):
    net = ipaddress.ip_network(seg['subnet'])
    return ipaddress.ip_network('%s/%d' % (net[number * 2 ** (32 - seg['block'])], seg['block']))


# ------------------------------------------------------------------------------------------- hosts

def _underlay(host, errors):
    """The underlay address, its device and MTU, from what netns_info read on the host."""
    name = host['name']
    links = ((host.get('info') or {}).get('links')) or {}
    routes = ((host.get('info') or {}).get('routes')) or []
    wanted = host.get('underlay_ip')
    iface = host.get('underlay_iface')
    if wanted:
        try:
            wanted = str(ipaddress.ip_address(str(wanted)))
        except ValueError:
            errors.append('%s: hostnet_underlay_ip must be an IP address (got %r)' % (name, wanted))
            return None
    else:
        dev = iface or next((r.get('dev') for r in routes if r.get('dst') == 'default' and r.get('family') == 'inet'
                             and r.get('table', 'main') == 'main'), None)
        link = links.get(dev) if dev else None
        wanted = next((_bare(a) for a in (link or {}).get('addresses', []) if ':' not in a), None)
        if not wanted:
            errors.append('%s: no underlay address: the host has no default IPv4 route with an address on its '
                          'device; set hostnet_underlay_ip' % name)
            return None
    holders = [ln for ln in sorted(links) if any(_bare(a) == wanted for a in links[ln].get('addresses', []))]
    if not holders:
        errors.append('%s: underlay address %s is not on this host (no interface holds it)' % (name, wanted))
        return None
    dev = holders[0]
    if iface and iface != dev:
        errors.append('%s: underlay address %s is on %s, not on hostnet_underlay_iface %s' % (name, wanted, dev, iface))
        return None
    return {'ip': wanted, 'dev': dev, 'mtu': int(links[dev].get('mtu') or 1500),
            'family': ipaddress.ip_address(wanted).version}


def _number(host, underlay, segments, errors):
    raw = host.get('number')
    if raw is None or raw == '':
        number = default_host_number(underlay['ip'])
        how = 'derived from underlay address %s' % underlay['ip']
    else:
        try:
            number = int(raw)
        except (TypeError, ValueError):
            errors.append('%s: vxlan_fabric_host_number must be an integer (got %r)' % (host['name'], raw))
            return None
        how = 'vxlan_fabric_host_number'
    for seg in segments:
        if not 1 <= number <= seg['max_hosts']:
            errors.append('%s: host number %d (%s) does not fit segment %s, which numbers hosts 1..%d '
                          '(set vxlan_fabric_host_number, or a larger subnet or smaller block)'
                          % (host['name'], number, how, seg['name'], seg['max_hosts']))
            return None
    return number


def _workloads(host, number, by_name, prefix, errors):
    out = []
    seen = set()
    for index, wl in enumerate(host.get('workloads') or []):
        where = '%s: vxlan_fabric_workloads[%d]' % (host['name'], index)
        if not isinstance(wl, dict):
            errors.append('%s: must be a dict (got %r)' % (where, wl))
            continue
        name = wl.get('name')
        if not isinstance(name, str) or not _NAME.match(name) or len(name) > 64:
            errors.append('%s.name: must be 1..64 characters of letters, digits, _ . - (got %r)' % (where, name))
            continue
        where = '%s: workload %s' % (host['name'], name)
        if name in seen:
            errors.append('%s: the name is used twice on this host' % where)
            continue
        seen.add(name)
        seg = by_name.get(wl.get('segment'))
        if seg is None:
            errors.append('%s: segment %r is not in vxlan_fabric_segments' % (where, wl.get('segment')))
            continue
        if seg['docker']:
            errors.append('%s: segment %s is a docker segment; its containers join it with docker run --network %s'
                          % (where, seg['name'], seg['name']))
            continue
        try:
            ip = ipaddress.IPv4Address(str(wl.get('address')).partition('/')[0])
        except ValueError:
            errors.append('%s: address must be an IPv4 address (got %r)' % (where, wl.get('address')))
            continue
        block = host_block(seg, number)
        if ip not in block or ip == ipaddress.ip_network(seg['subnet']).broadcast_address:
            errors.append('%s: address %s is not in this host\'s block %s of segment %s (host number %d)'
                          % (where, ip, block, seg['name'], number))
            continue
        netns = wl.get('netns') or (prefix + name)
        ifname = wl.get('ifname') or 'eth0'
        veth = wl.get('veth') or ('hfw-' + name if len(name) <= IFNAME_MAX - 4 else 'hfw-%08x' % _crc(name))
        for key, value in (('ifname', ifname), ('veth', veth)):
            if len(value.encode()) > IFNAME_MAX or not _NAME.match(value):
                errors.append('%s: %s must be an interface name of at most %d bytes (got %r)'
                              % (where, key, IFNAME_MAX, value))
        container = wl.get('container') or None
        prefixlen = ipaddress.ip_network(seg['subnet']).prefixlen
        out.append({
            'name': name, 'segment': seg['name'], 'netns': netns, 'container': container, 'ifname': ifname,
            'veth': veth, 'ip': str(ip), 'address': '%s/%d' % (ip, prefixlen), 'mac': mac_for(ip),
            'gateway': gateway_ip(seg, number), 'bridge': seg['bridge'],
            'alias': alias_for(workload=name, netns=netns, kind='container' if container else 'netns'),
        })
    return out


def _crc(text):
    return zlib.crc32(text.encode()) & 0xffffffff


def plan(hosts, segments, netns_prefix='hf-'):
    """The whole fabric. Returns {'errors': [...], 'hosts': {name: host plan}, 'segments': [...]}.

    With errors nothing else is meaningful: every host refuses before changing anything.
    """
    errors = []
    if not isinstance(segments, list):
        return {'errors': ['vxlan_fabric_segments: must be a list (got %r)' % (segments,)], 'hosts': {},
                'segments': []}
    segs = [s for s in (_segment(seg, i, errors) for i, seg in enumerate(segments)) if s is not None]
    _check_segments(segs, errors)
    by_name = dict((s['name'], s) for s in segs)

    members = []
    numbers = {}
    for host in hosts:
        underlay = _underlay(host, errors)
        if underlay is None:
            continue
        number = _number(host, underlay, segs, errors)
        if number is None:
            continue
        if number in numbers:
            errors.append('%s: host number %d is also %s\'s (set vxlan_fabric_host_number on one of them)'
                          % (host['name'], number, numbers[number]))
            continue
        numbers[number] = host['name']
        members.append({'name': host['name'], 'number': number, 'underlay': underlay,
                        'netns': host.get('netns') or None, 'docker': host.get('docker') or {},
                        'namespaces': set(host.get('namespaces') or []),
                        'links': set(((host.get('info') or {}).get('links') or {}).keys()),
                        'workloads': _workloads(host, number, by_name, host.get('netns_prefix') or netns_prefix,
                                                errors)})
    underlays = {}
    for m in members:
        other = underlays.get(m['underlay']['ip'])
        if other:
            errors.append('%s: underlay address %s is also %s\'s' % (m['name'], m['underlay']['ip'], other))
        underlays[m['underlay']['ip']] = m['name']
    families = set(m['underlay']['family'] for m in members)
    if len(families) > 1:
        errors.append('fabric hosts: underlay addresses mix IPv4 and IPv6 (%s)'
                      % ', '.join('%s %s' % (m['name'], m['underlay']['ip']) for m in members))
    taken = {}
    for m in members:
        for wl in m['workloads']:
            key = (wl['segment'], wl['ip'])
            if key in taken:
                errors.append('%s: workload %s: address %s on segment %s is also %s' % (m['name'], wl['name'], wl['ip'],
                                                                                        wl['segment'], taken[key]))
            taken[key] = '%s/%s' % (m['name'], wl['name'])
    engines = {}
    for seg in [s for s in segs if s['docker']]:
        for m in members:
            if m['netns']:
                errors.append('%s: segment %s: a docker segment needs the host\'s own namespace (its Docker engine\'s '
                              'bridge), not vxlan_fabric_netns %s' % (m['name'], seg['name'], m['netns']))
            elif not m['docker'].get('running'):
                errors.append('%s: segment %s: a docker segment needs a running Docker engine on every host; none '
                              'answers on vxlan_fabric_docker_host %s' % (m['name'], seg['name'],
                                                                          m['docker'].get('host') or '(default)'))
            else:
                engines[m['name']] = m['docker'].get('version')
    if errors or not members:
        return {'errors': errors, 'hosts': {}, 'segments': []}
    for seg in segs:
        seg['learning'], seg['macs'] = docker_learning(seg, engines) if seg['docker'] else (
            False, 'learning off: static entries for every remote workload and gateway')

    family = families.pop()
    lowest = min(m['underlay']['mtu'] for m in members)
    for seg in segs:
        most = lowest - OVERHEAD[family]
        if seg['mtu_wanted'] is not None and seg['mtu_wanted'] > most:
            errors.append('segment %s: mtu %d does not fit the underlay (smallest underlay MTU %d minus %d bytes of '
                          'VXLAN over IPv%d: at most %d)'
                          % (seg['name'], seg['mtu_wanted'], lowest, OVERHEAD[family], family, most))
        seg['mtu'] = seg['mtu_wanted'] if seg['mtu_wanted'] is not None else most
    if errors:
        return {'errors': errors, 'hosts': {}, 'segments': []}

    # every address of the fabric, per segment: (host, label, ip, mac)
    endpoints = dict((s['name'], []) for s in segs)
    for m in sorted(members, key=lambda x: x['number']):
        for seg in segs:
            gw = gateway_ip(seg, m['number'])
            endpoints[seg['name']].append({'host': m['name'], 'label': m['name'] + '/gw', 'ip': gw,
                                           'mac': mac_for(gw), 'kind': 'gateway'})
            if seg['docker'] and not seg['learning']:
                net = ipaddress.ip_network(seg['subnet'])
                for ip in host_block(seg, m['number']):
                    if ip not in (net.network_address, net.broadcast_address) and str(ip) != gw:
                        endpoints[seg['name']].append({'host': m['name'], 'label': None, 'ip': str(ip),
                                                       'mac': mac_for(ip), 'kind': 'docker'})
        for wl in m['workloads']:
            endpoints[wl['segment']].append({'host': m['name'], 'label': '%s/%s' % (m['name'], wl['name']),
                                             'ip': wl['ip'], 'mac': wl['mac'], 'kind': 'workload'})

    out_hosts = {}
    for m in members:
        peers = [o['underlay']['ip'] for o in sorted(members, key=lambda x: x['number']) if o is not m]
        under = dict((o['name'], o['underlay']['ip']) for o in members)
        host_segs = []
        for seg in segs:
            # a learning segment learns its containers' MACs; gateways and workloads stay static
            remote = [e for e in endpoints[seg['name']] if e['host'] != m['name']
                      and not (seg['learning'] and e['kind'] == 'docker')]
            gw = gateway_ip(seg, m['number'])
            prefixlen = ipaddress.ip_network(seg['subnet']).prefixlen
            entry = {
                'name': seg['name'], 'vni': seg['vni'], 'subnet': seg['subnet'], 'mtu': seg['mtu'],
                'bridge': seg['bridge'], 'vxlan': seg['vxlan'], 'alias': seg['alias'], 'docker': seg['docker'],
                'gateway': gw, 'address': '%s/%d' % (gw, prefixlen), 'bridge_mac': mac_for(gw),
                'block': str(host_block(seg, m['number'])), 'peers': peers,
                'learning': seg['learning'], 'macs': seg['macs'],
                'fdb': [{'mac': e['mac'], 'dst': under[e['host']]} for e in remote],
                'neigh': [{'ip': e['ip'], 'mac': e['mac']} for e in remote],
                # check mode cannot plan a port of a bridge that is not there yet
                'ready': seg['bridge'] in m['links'],
            }
            host_segs.append(entry)
        ready_bridges = set(s['bridge'] for s in host_segs if s['ready'])
        for wl in m['workloads']:
            wl['mtu'] = by_name[wl['segment']]['mtu']
            wl['ready'] = wl['bridge'] in ready_bridges and wl['netns'] in m['namespaces']
        networks = [{
            'name': s['name'], 'bridge': s['bridge'], 'subnet': s['subnet'], 'ip_range': s['block'],
            'gateway': s['gateway'], 'mtu': str(s['mtu']), 'labels': {DOCKER_LABEL: s['name']},
        } for s in host_segs if s['docker']]
        out_hosts[m['name']] = {
            'name': m['name'], 'number': m['number'], 'netns': m['netns'], 'underlay_ip': m['underlay']['ip'],
            'underlay_dev': m['underlay']['dev'], 'underlay_mtu': m['underlay']['mtu'],
            'segments': host_segs, 'workloads': m['workloads'], 'docker_networks': networks,
        }
    seg_out = []
    for seg in segs:
        seg_out.append({
            'name': seg['name'], 'vni': seg['vni'], 'subnet': seg['subnet'], 'mtu': seg['mtu'], 'block': seg['block'],
            'docker': seg['docker'], 'bridge': seg['bridge'], 'vxlan': seg['vxlan'],
            'learning': seg['learning'], 'macs': seg['macs'],
            'endpoints': [e for e in endpoints[seg['name']] if e['kind'] != 'docker'],
        })
    return {'errors': [], 'hosts': out_hosts, 'segments': seg_out}


# ------------------------------------------------------------------------------------------- verify

def probes(fabric, host):
    """What HOST pings: from each of its workloads every other endpoint of the segment, from the host itself
    every workload of the segment. Returns one entry per segment: [{segment, size, probes}] where size is the
    don't-fragment payload that exactly fills the segment MTU (MTU - 20 IPv4 - 8 ICMP); netns_ping tells a path
    that passes only small packets (MTU) from one that does not work at all (MISS)."""
    me = fabric['hosts'][host]
    out = []
    for seg in fabric['segments']:
        eps = seg['endpoints']
        mine = [w for w in me['workloads'] if w['segment'] == seg['name']]
        found = []
        for wl in mine:
            label = '%s/%s' % (host, wl['name'])
            for e in eps:
                if e['label'] != label:
                    found.append({'from': label, 'to': e['label'], 'address': e['ip'], 'netns': wl['netns']})
        for e in eps:
            if e['kind'] == 'workload':
                probe = {'from': host, 'to': e['label'], 'address': e['ip']}
                if me['netns']:
                    probe['netns'] = me['netns']
                found.append(probe)
        out.append({'segment': seg['name'], 'size': seg['mtu'] - 28, 'probes': found})
    return out


def verdicts(runs):
    """Per segment, one host's verdicts from its probe runs (one don't-fragment run of MTU - 28 bytes per segment,
    each ``{'segment': ..., 'results': [...]}`` with netns_ping's results: status ok, MTU - only small packets
    pass - or MISS)."""
    out = {}
    for run in runs or []:
        out.setdefault(run['segment'], []).extend(
            {'from': r['from'], 'to': r['to'],
             'status': r.get('status') or ('ok' if r.get('ok') else 'MISS')} for r in run.get('results') or [])
    return out


# ------------------------------------------------------------------------------------------- removal

def pluggable(workloads, changed_netns):
    """The workloads with ``ready`` false also where the namespace task changed the name CHANGED_NETNS (made it,
    or moved it to a restarted container's new namespace): their veth pair is made (again) by a real run, which
    check mode cannot plan: the veth it sees is the one in the namespace that the name leaves."""
    changed = set(changed_netns or [])
    out = []
    for wl in workloads or []:
        wl = dict(wl)
        wl['ready'] = bool(wl.get('ready')) and wl['netns'] not in changed
        out.append(wl)
    return out


def stale(info, host_plan, namespaces=(), also_netns=(), docker_networks=()):
    """What this role made on a host that the plan no longer wants (everything, with host_plan None):
    links are found by the alias the role put on them, never by their name. A workload namespace is named in
    its veth's alias; ``also_netns`` adds names the role would have made (its naming convention), for a
    namespace whose veth is already gone. Only names in ``namespaces`` (those that exist) are returned.
    ``docker_networks`` are the names of the Docker networks that carry the role's label (DOCKER_LABEL)."""
    links = (info or {}).get('links') or {}
    keep = set()
    wanted_ns = set()
    wanted_nets = set()
    if host_plan:
        wanted_nets = set(n['name'] for n in host_plan.get('docker_networks') or [])
        for seg in host_plan['segments']:
            keep.add((seg['bridge'], seg['alias']))
            keep.add((seg['vxlan'], seg['alias']))
        for wl in host_plan['workloads']:
            keep.add((wl['veth'], wl['alias']))
            wanted_ns.add(wl['netns'])
    out = {'veths': [], 'vxlans': [], 'bridges': [], 'netns': [],
           'docker_networks': sorted(set(docker_networks or []) - wanted_nets)}
    for name in sorted(links):
        link = links[name]
        fields = parse_alias(link.get('alias'))
        if fields is None or (name, link.get('alias')) in keep:
            continue
        if link.get('kind') == 'veth' and 'workload' in fields:
            out['veths'].append(name)
            if fields.get('netns') and fields['netns'] not in wanted_ns:
                out['netns'].append(fields['netns'])
        elif link.get('kind') == 'vxlan' and 'segment' in fields:
            out['vxlans'].append(name)
        elif link.get('kind') == 'bridge' and 'segment' in fields:
            out['bridges'].append(name)
    present = set(namespaces or [])
    out['netns'] = sorted(n for n in set(out['netns']) | set(also_netns or []) if n in present and n not in wanted_ns)
    return out


# ------------------------------------------------------------------------------------------- Docker networks

# the settings of a docker segment's network that the role sets, in the order they are reported, with where
# docker_engine_info's RV(networks) keeps them; nothing else of a network is compared (community.docker's rule:
# only what is set is managed)
DOCKER_SETTINGS = ('driver', 'bridge', 'mtu', 'subnet', 'ip_range', 'gateway', 'label')
_DOCKER_OPTIONS = {'bridge': 'com.docker.network.bridge.name', 'mtu': 'com.docker.network.driver.mtu'}


def _docker_wanted(net):
    """The settings of a plan's docker network (an entry of a host plan's ``docker_networks``), as strings."""
    return {'driver': 'bridge', 'bridge': net['bridge'], 'mtu': str(net['mtu']), 'subnet': net['subnet'],
            'ip_range': net['ip_range'], 'gateway': net['gateway'], 'label': net['labels'][DOCKER_LABEL]}


def _docker_current(found):
    """The same settings of a network as docker_engine_info read it (None where it has none)."""
    options = found.get('options') or {}
    out = {'driver': found.get('driver'), 'label': found.get('label')}
    for key, option in _DOCKER_OPTIONS.items():
        out[key] = options.get(option)
    ipam = found.get('ipam') or []
    pool = ipam[0] if len(ipam) == 1 else {}
    for key in ('subnet', 'ip_range', 'gateway'):
        out[key] = pool.get(key)
    if len(ipam) > 1:
        # several pools: none of them is "the" subnet; report all of them as the current subnet
        out['subnet'] = ', '.join(str(p.get('subnet')) for p in ipam)
    return out


def docker_fits(address, net):
    """Whether a container ADDRESS can keep it on the recreated network NET (a plan's docker network): inside its
    ip_range (this host's block) and not its gateway."""
    try:
        ip = ipaddress.IPv4Address(str(address))
    except ValueError:
        return False
    return ip in ipaddress.ip_network(net['ip_range']) and str(ip) != net['gateway']


def _containers_text(containers, net=None):
    if not containers:
        return 'no container is attached'
    parts = []
    for c in containers:
        addr = c.get('ipv4_address')
        if net is None or not addr:
            parts.append(c['name'] + (' (%s)' % addr if addr else ''))
        elif docker_fits(addr, net):
            parts.append('%s (%s)' % (c['name'], addr))
        else:
            parts.append('%s (%s is outside the new ip_range %s: it gets a new address)'
                         % (c['name'], addr, net['ip_range']))
    return ', '.join(parts)


def docker_networks(host, wanted, current, recreate=False):
    """What to do with HOST's Docker networks of docker segments: WANTED is the host plan's ``docker_networks``,
    CURRENT docker_engine_info's RV(networks) (the labelled networks, read in full), RECREATE the role's
    ``vxlan_fabric_docker_recreate``.

    Per wanted network: missing -> created; the same settings -> nothing; drifted -> a drift record (each setting
    that differs with its current and wanted value, the containers attached) and a message; it is recreated only
    with RECREATE (the containers are taken off it first and connected again afterwards: reconnect()).

    Returns {'apply': [wanted network + {'recreate': bool}] (for community.docker.docker_network: created, or
    recreated with force), 'recreate': [wanted networks] (their containers are taken off first), 'unchanged':
    [names], 'drifted': [records, each with its 'message']}."""
    by_name = dict((n.get('name'), n) for n in current or [])
    out = {'apply': [], 'recreate': [], 'unchanged': [], 'drifted': []}
    for net in wanted or []:
        found = by_name.get(net['name'])
        if found is None:
            out['apply'].append(dict(net, recreate=False))
            continue
        want, have = _docker_wanted(net), _docker_current(found)
        settings = [{'setting': key, 'current': have[key], 'wanted': want[key]}
                    for key in DOCKER_SETTINGS if have[key] != want[key]]
        if not settings:
            out['unchanged'].append(net['name'])
            continue
        containers = [dict(c) for c in found.get('containers') or []]
        record = {'host': host, 'network': net['name'], 'settings': settings, 'containers': containers,
                  'recreate': bool(recreate)}
        out['drifted'].append(record)
        what = '; '.join('%s %s -> %s' % (s['setting'], s['current'] if s['current'] is not None else '(unset)',
                                          s['wanted']) for s in settings)
        head = 'DRIFT: %s: Docker network %s differs from the plan: %s.' % (host, net['name'], what)
        if recreate:
            out['apply'].append(dict(net, recreate=True))
            out['recreate'].append(dict(net))
            if containers:
                tail = (' It is recreated (vxlan_fabric_docker_recreate=true): its containers are disconnected and '
                        'connected again: %s.' % _containers_text(containers, net))
            else:
                tail = ' It is recreated (vxlan_fabric_docker_recreate=true); no container is attached.'
        else:
            tail = (' It was NOT recreated (recreating it disconnects its containers: %s); set '
                    'vxlan_fabric_docker_recreate=true to recreate it (its containers are connected again, with '
                    'their addresses where they fit its new ip_range %s).'
                    % (_containers_text(containers), net['ip_range']))
            if not containers:
                tail = (' It was NOT recreated (no container is attached); set vxlan_fabric_docker_recreate=true '
                        'to recreate it.')
        record['message'] = head + tail
    return out


def reconnect(endpoints, net, attached):
    """How to connect the containers taken off a recreated network again: ENDPOINTS are what
    hostnet.fabric.docker_endpoints (state=absent, all) returned, NET the plan's network, ATTACHED its containers
    as docker_engine_info read them before (with their addresses). Each keeps its address - the one it was given
    (--ip) or the one the engine had picked - where it fits the new ip_range (it is then fixed on the endpoint, as
    with --ip); otherwise the engine picks one from the new range. Aliases stay as they were."""
    addresses = dict((c.get('name'), c.get('ipv4_address')) for c in attached or [])
    out = []
    for ep in endpoints or []:
        ep = dict(ep)
        address = ep.get('ipv4_address') or addresses.get(ep['container'])
        ep['ipv4_address'] = address if address and docker_fits(address, net) else None
        out.append(ep)
    return out


def reconnect_all(results, decision):
    """[{network, endpoints}] to connect again after the recreate: RESULTS are the looped docker_endpoints
    (state=absent, all) results over DECISION's ``recreate`` (each with its ``item`` and ``endpoints``)."""
    attached = dict((d['network'], d['containers']) for d in (decision or {}).get('drifted') or [])
    out = []
    for res in results or []:
        if res.get('skipped') or not res.get('item'):
            continue
        net = res['item']
        eps = reconnect(res.get('endpoints'), net, attached.get(net['name']))
        if eps:
            out.append({'network': net['name'], 'endpoints': eps})
    return out
