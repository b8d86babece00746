# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: netns_report
short_description: Render what hostnet.fabric.netns_info read as text an operator reads (aligned tables)
version_added: 0.1.0
description:
  - Turns the result of M(hostnet.fabric.netns_info) (or one namespace of it) into aligned, human-readable
    text, one block per namespace - a heading saying what the namespace is (a named namespace, a container, an
    overlay network's own namespace, the current one), then links (name, peer, kind, state, MTU, MAC, master,
    addresses, alias), bridges with their ports, VXLAN devices, the FDB, neighbours and routes.
  - Multicast FDB entries (the kernel's C(33:33:...) and C(01:00:5e:...) entries on every port) are counted,
    not listed, unless O(multicast=true).
  - It prints best with C(callback_result_format = yaml) (this collection's C(ansible.cfg) sets it), where a
    multi-line text shows as a block.
positional: _input
options:
  _input:
    description: A registered M(hostnet.fabric.netns_info) result, or one namespace of it (RV(hostnet.fabric.netns_info#module:namespace)).
    type: dict
    required: true
  multicast:
    description: List the multicast FDB entries as well.
    type: bool
    default: false
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: Read a container's network
  hostnet.fabric.netns_info:
    container: web
  register: web

- name: Show it
  ansible.builtin.debug:
    msg: "{{ web | hostnet.fabric.netns_report }}"
'''

RETURN = r'''
_value:
  description: The report, one text with a line per row.
  type: str
  sample: |-
    namespace web1 (/run/netns/web1, inode 4026532301)
    links
      name  link       kind  state  mtu    mac                master  addresses
      lo    -          -     DOWN   65536  00:00:00:00:00:00  -       -
      eth0  if9@nsid0  veth  UP     1450   02:42:0a:0a:00:0b  -       10.10.0.11/24
'''

from ansible.errors import AnsibleFilterError

NONE = '-'
BLANK = object()  # a cell left empty on purpose (not '-': nothing is missing there)
_SECTIONS = ('links', 'bridges', 'fdb', 'neighbours', 'routes')


def _cell(value):
    if value is BLANK:
        return ''
    if value is None or value == '' or value == []:
        return NONE
    if value is True:
        return 'on'
    if value is False:
        return 'off'
    if isinstance(value, (list, tuple)):
        return ' '.join(str(v) for v in value)
    return str(value)


def _table(header, rows, indent='  '):
    """Aligned columns (two spaces apart); the last column is not padded."""
    table = [list(header)] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    return [(indent + '  '.join(c.ljust(w) for c, w in zip(line, widths))).rstrip() for line in table]


def _multicast(mac):
    try:
        return bool(int(mac.split(':')[0], 16) & 1)
    except (AttributeError, ValueError, IndexError):
        return False


def _heading(ns):
    where = []
    if ns.get('path'):
        where.append(ns['path'])
    if ns.get('inode') is not None:
        where.append('inode %s' % ns['inode'])
    if ns.get('current'):
        where.append("the namespace Ansible runs in")
    if ns.get('container'):
        c = ns['container']
        title = 'container %s (id %s, pid %s)' % (c.get('name'), (c.get('id') or '?')[:12], c.get('pid'))
    elif ns.get('network'):
        n = ns['network']
        title = '%s network %s (id %s, scope %s), namespace %s' % (n.get('driver'), n.get('name'),
                                                                   (n.get('id') or '?')[:12], n.get('scope'),
                                                                   ns.get('name'))
    elif ns.get('name'):
        title = 'namespace %s' % ns['name']
    else:
        title = 'current namespace'
    lines = ['%s (%s)' % (title, ', '.join(where)) if where else title]
    others = [n for n in ns.get('names') or [] if n != ns.get('name')]
    if others:
        lines.append('  also named %s under /run/netns' % ', '.join(others))
    return lines


def _peer(link):
    """The peer or parent: 'v1' (this namespace), 'if12@web1' (a named one), 'if12@nsid0' (another)."""
    if link.get('link'):
        return link['link']
    if link.get('link_index'):
        where = link.get('link_netns') or ('nsid%s' % link['link_netnsid'] if link.get('link_netnsid') is not None
                                           else None)
        return 'if%s@%s' % (link['link_index'], where) if where else 'if%s' % link['link_index']
    return None


def _links(ns):
    links = sorted((ns.get('links') or {}).values(), key=lambda l: l.get('index') or 0)
    header = ['name', 'link', 'kind', 'state', 'mtu', 'mac', 'master', 'addresses']
    with_alias = any(l.get('alias') for l in links)
    if with_alias:
        header.append('alias')
    rows = []
    for l in links:
        state = l.get('state') or NONE
        if l.get('up') and not l.get('carrier'):
            state += ',NO-CARRIER'
        row = [l['name'], _peer(l), l.get('kind'), state, l.get('mtu'), l.get('mac'), l.get('master'), l.get('addresses')]
        if with_alias:
            row.append(l.get('alias'))
        rows.append(row)
    return ['links'] + (_table(header, rows) if rows else ['  (none)'])


def _bridges(ns):
    bridges = ns.get('bridges') or {}
    if not bridges:
        return []
    rows = []
    for name in sorted(bridges):
        br = bridges[name]
        ports = br.get('ports') or {}
        lead = [name, br.get('stp'), br.get('vlan_filtering')]
        if not ports:
            rows.append(lead + ['(no ports)', BLANK, BLANK, BLANK, BLANK])
        for port in sorted(ports):
            p = ports[port]
            rows.append(lead + [port, p.get('state'), p.get('learning'), p.get('flood'), p.get('neigh_suppress')])
            lead = [BLANK, BLANK, BLANK]  # the bridge's columns only on its first line
    return ['bridges'] + _table(['bridge', 'stp', 'vlan_filtering', 'port', 'state', 'learning', 'flood',
                                 'neigh_suppress'], rows)


def _vxlans(ns):
    links = sorted((l for l in (ns.get('links') or {}).values() if l.get('vxlan')), key=lambda l: l.get('index') or 0)
    if not links:
        return []
    rows = []
    for l in links:
        vx = l['vxlan']
        rows.append([l['name'], vx.get('vni'), vx.get('port'), vx.get('local'), vx.get('group') or vx.get('remote'),
                     vx.get('dev'), vx.get('learning'), vx.get('proxy'), vx.get('l2miss'), vx.get('l3miss'),
                     vx.get('ttl'), vx.get('ageing')])
    return ['vxlan'] + _table(['name', 'vni', 'port', 'local', 'group/remote', 'dev', 'learning', 'proxy', 'l2miss',
                               'l3miss', 'ttl', 'ageing'], rows)


def _fdb(ns, multicast):
    entries = ns.get('fdb') or []
    shown = [e for e in entries if multicast or not _multicast(e.get('mac'))]
    hidden = len(entries) - len(shown)
    title = 'fdb'
    if hidden:
        title += ' (%d multicast entr%s not shown)' % (hidden, 'y' if hidden == 1 else 'ies')
    rows = [[e.get('mac'), e.get('dev'), e.get('master'), e.get('dst'), e.get('vlan'), e.get('state'), e.get('flags')]
            for e in shown]
    return [title] + (_table(['mac', 'dev', 'master', 'dst', 'vlan', 'state', 'flags'], rows) if rows
                      else ['  (none)'])


def _neighbours(ns):
    rows = [[n.get('ip'), n.get('dev'), n.get('mac'), n.get('state') + (',router' if n.get('router') else '')]
            for n in ns.get('neighbours') or []]
    return ['neighbours'] + (_table(['ip', 'dev', 'mac', 'state'], rows) if rows else ['  (none)'])


def _routes(ns):
    rows = []
    for r in ns.get('routes') or []:
        via = r.get('gateway')
        dev = r.get('dev')
        if r.get('nexthops'):
            via = ' '.join('%s%s' % (h.get('gateway') or '', '%' + h['dev'] if h.get('dev') else '')
                           for h in r['nexthops'])
        dst = r.get('dst')
        if r.get('type') not in (None, 'unicast'):
            dst = '%s %s' % (r['type'], dst)
        rows.append([dst, via, dev, r.get('prefsrc'), r.get('table'), r.get('protocol'), r.get('scope'),
                     r.get('metric')])
    return ['routes'] + (_table(['dst', 'gateway', 'dev', 'src', 'table', 'proto', 'scope', 'metric'], rows)
                         if rows else ['  (none)'])


def _namespace(ns, multicast):
    lines = _heading(ns)
    lines += _links(ns)
    lines += _bridges(ns)
    lines += _vxlans(ns)
    lines += _fdb(ns, multicast)
    lines += _neighbours(ns)
    lines += _routes(ns)
    return lines


def _is_namespace(value):
    return isinstance(value, dict) and all(k in value for k in _SECTIONS)


def netns_report(result, multicast=False):
    if _is_namespace(result):
        namespaces = [result]
    elif isinstance(result, dict) and (_is_namespace(result.get('namespace')) or result.get('namespaces')):
        if result.get('failed'):
            raise AnsibleFilterError('netns_report: the netns_info task failed: %s' % result.get('msg'))
        namespaces = [result['namespace']] if _is_namespace(result.get('namespace')) else []
        extra = result.get('namespaces') or {}
        if not isinstance(extra, dict):
            raise AnsibleFilterError('netns_report: namespaces must be a dict of namespaces by name')
        namespaces += [extra[name] for name in sorted(extra)]
    elif isinstance(result, dict) and result.get('failed'):
        raise AnsibleFilterError('netns_report: the netns_info task failed: %s' % result.get('msg'))
    else:
        raise AnsibleFilterError('netns_report: expects the result of hostnet.fabric.netns_info or one namespace '
                                 'of it (a dict with %s), got %s' % (', '.join(_SECTIONS), type(result).__name__))
    blocks = []
    for ns in namespaces:
        if not _is_namespace(ns):
            raise AnsibleFilterError('netns_report: a namespace lacks one of %s' % ', '.join(_SECTIONS))
        blocks.append('\n'.join(_namespace(ns, multicast)))
    return '\n\n'.join(blocks)


class FilterModule(object):
    def filters(self):
        return {'netns_report': netns_report}
