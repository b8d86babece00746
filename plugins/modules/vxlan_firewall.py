#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vxlan_firewall
short_description: Let only the fabric's peers reach the VXLAN port (nftables, a table of its own)
version_added: 0.1.0
description:
  - Keeps an nftables table of its own (family C(inet), O(table)) with a base chain on the C(input) hook that
    accepts UDP packets to the VXLAN O(port) only from the underlay addresses in O(peers) (one named set per IP
    family, C(peers_v4) and C(peers_v6)) and drops every other packet to that port. Nothing else is filtered;
    the chain's policy is C(accept).
  - "Two named counters count what the chain decided: C(peers_accepted) and C(others_dropped); they are returned
    in RV(counters) (C(nft list counters table inet TABLE) shows them too). They restart from zero whenever the
    table is replaced, that is on every run that changes it."
  - "B(Atomic.) The wanted table is rendered as one nft script (C(table inet T) + C(delete table inet T) + the
    full table), checked with C(nft -c -f) against the kernel first - a rejected script fails the task with nft's
    own message and changes nothing - and then loaded with one C(nft -f): one netlink transaction, so the table
    is never half-applied and there is no moment without it."
  - "B(Idempotent.) The wanted table is loaded into a throwaway, empty network namespace (a child process that
    unshares its own, gone when it exits) and read back with C(nft -j list table); the live table is read the
    same way, and both are compared after dropping handles and counter values. So nft itself puts the wanted
    table into its canonical form, whatever the nft version, and a table someone edited by hand is detected and
    replaced."
  - "B(Bridged traffic and Docker.) What O(forward_bridges) is for - once Docker runs, the C(filter) table's C(FORWARD) policy
    is C(DROP) and br_netfilter passes bridged IPv4/IPv6 frames through that chain, so a Linux bridge that Docker
    does not manage stops forwarding between its ports (for example a fabric bridge's VXLAN port and its
    workloads' veths). nftables cannot undo that from its own table: a drop in any base chain is final, an accept
    only ends its own chain. The sysctl C(net.bridge.bridge-nf-call-iptables) is per namespace, not per bridge,
    and the bridge's own C(nf_call_iptables) option can only add a bridge to it, never take one out. So this
    module adds, per bridge, C(-i BRIDGE -o BRIDGE -j ACCEPT) with the comment C(hostnet.fabric vxlan_firewall
    TABLE) to C(iptables) and C(ip6tables): in the C(DOCKER-USER) chain when it exists (Docker's documented place
    for user rules, evaluated first and never flushed by Docker), else in C(FORWARD). Each rule is checked with
    C(-C) and inserted with C(-I) only when missing; rules with that comment for bridges no longer listed (or in
    the other of the two chains) are deleted. The rules are added whether or not Docker runs now, so a Docker
    engine started later does not cut the bridge off."
  - V(absent) deletes exactly the table O(table) and the iptables rules carrying its comment, nothing else. On a
    host without C(nft) there is no such table (the module needs C(nft) to make one), so V(absent) does not need
    C(nft) there.
options:
  table:
    description: The nftables table (family C(inet)) this module owns. Letters, digits and C(_), at most 64.
    type: str
    default: hostnet_fabric
  port:
    description: The VXLAN UDP port to protect.
    type: int
    default: 4789
  peers:
    description:
      - Underlay addresses (IPv4 and/or IPv6) allowed to send to O(port). An exclusive list - addresses not listed
        are dropped. An empty list drops every VXLAN packet.
    type: list
    elements: str
    default: []
  forward_bridges:
    description:
      - Bridges whose bridged traffic must pass Docker's C(FORWARD) policy C(DROP) (see above). An exclusive list
        of this table's rules - rules for bridges not listed are removed.
      - Needs C(iptables) (and C(ip6tables), used when installed) on the managed host.
    type: list
    elements: str
    default: []
  netns:
    description:
      - Run C(nft) and C(iptables) inside this network namespace (a C(/run/netns) name or an absolute path to a
        namespace file) instead of the current one. The programs enter it with the C(setns) system call.
    type: str
  state:
    description: V(present) puts the table (and forward rules) in place, V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - Linux with nf_tables, run as root (CAP_NET_ADMIN; CAP_SYS_ADMIN for O(netns) and for the throwaway
    namespace used to compare)
  - C(nft) on the managed host (Debian/Ubuntu package C(nftables))
  - For O(forward_bridges), C(iptables) (Debian/Ubuntu package C(iptables))
attributes:
  check_mode:
    support: full
    description: The same code runs, including C(nft -c); only the final C(nft -f) and the iptables C(-I)/C(-D)
      are skipped. RV(actions) says what would be done.
  diff_mode:
    support: full
    description: The table as C(nft list table) prints it and the module's iptables rules, before and after
      (predicted in check mode).
  platform:
    platforms: linux
    support: full
    description: Linux nftables (and iptables for O(forward_bridges)).
notes:
  - The table is replaced as a whole when anything in it differs, which restarts its counters.
  - Other tables (Docker's, iptables-nft's C(ip filter), your own) are never read or changed; packets they drop
    stay dropped.
  - With iptables-nft (Debian's default C(iptables)), the first rule added through C(iptables) or C(ip6tables)
    makes iptables create its C(filter) table with the built-in chains in that family; like iptables' built-in
    tables always do, they stay when the rule is removed again.
seealso:
  - module: hostnet.fabric.vxlan
  - name: nft(8)
    description: The nftables manual page.
    link: https://www.netfilter.org/projects/nftables/manpage.html
  - name: Docker and iptables
    description: Docker's documentation of the DOCKER-USER chain.
    link: https://docs.docker.com/engine/network/packet-filtering-firewalls/
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: Only the other fabric hosts may send VXLAN to this one
  hostnet.fabric.vxlan_firewall:
    peers: "{{ groups['fabric_hosts'] | difference([inventory_hostname])
               | map('extract', hostvars, 'hostnet_underlay_ip') | list }}"
    forward_bridges: [br-blue, br-red]

- name: The same inside a test namespace
  hostnet.fabric.vxlan_firewall:
    netns: host1
    peers: [192.0.2.2, 192.0.2.3, "2001:db8::3"]

- name: How many non-peer packets were dropped
  hostnet.fabric.vxlan_firewall:
    peers: [192.0.2.2]
  register: fw
  check_mode: true

- name: Show it
  ansible.builtin.debug:
    msg: "dropped {{ fw.counters.others_dropped.packets }} packets"

- name: Remove the table and the forward rules
  hostnet.fabric.vxlan_firewall:
    state: absent
'''

RETURN = r'''
actions:
  description: What was done (or, in check mode, would be done), in order.
  returned: always
  type: list
  elements: str
  sample: ["replace table inet hostnet_fabric", "iptables: insert into DOCKER-USER: -i br-blue -o br-blue ... ACCEPT"]
ruleset:
  description: The table as C(nft list table) prints it after the run (predicted in check mode; counter values
    as they are now); empty when absent.
  returned: always
  type: str
counters:
  description: The table's counters as they are now (before the run's change, in check mode); V(null) when
    there is no table.
  returned: always
  type: dict
  sample: {"peers_accepted": {"packets": 12, "bytes": 1200}, "others_dropped": {"packets": 1, "bytes": 100}}
forward_rules:
  description: This table's iptables rules after the run (predicted in check mode), as C(TOOL CHAIN RULE).
  returned: always
  type: list
  elements: str
  sample: ["iptables DOCKER-USER -i br-blue -o br-blue -m comment --comment 'hostnet.fabric vxlan_firewall
    hostnet_fabric' -j ACCEPT"]
'''

import json
import re
import shlex
import shutil
import subprocess

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.fabric.plugins.module_utils import _nsexec
from ansible_collections.hostnet.fabric.plugins.module_utils import _validate as v

ACCEPTED = 'peers_accepted'
DROPPED = 'others_dropped'
SETS = (('peers_v4', 'ipv4_addr', 'ip', 4), ('peers_v6', 'ipv6_addr', 'ip6', 6))
_TABLE_RE = re.compile(r'^[A-Za-z][A-Za-z0-9_]{0,63}$')
SBIN_PATH = '/usr/sbin:/sbin:/usr/bin:/bin'
IPTABLES = ('iptables', 'ip6tables')
DOCKER_USER = 'DOCKER-USER'
FORWARD = 'FORWARD'


class FirewallError(Exception):
    pass


def argument_spec():
    return dict(
        table=dict(type='str', default='hostnet_fabric'),
        port=dict(type='int', default=4789),
        peers=dict(type='list', elements='str', default=[]),
        forward_bridges=dict(type='list', elements='str', default=[]),
        netns=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    )


# ---------------------------------------------------------------- input
def validate(p, check_netns=_nsexec.check_netns):
    if not isinstance(p['table'], str) or not _TABLE_RE.match(p['table']):
        raise v.ValidationError('table', 'must be a letter then letters, digits or _ (at most 64)', p['table'])
    v.port('port', p['port'])
    p['peers'] = v.ip_list('peers', p['peers'] or [], allow_multicast=False)
    p['forward_bridges'] = sorted(set(v.ifname('forward_bridges[%d]' % i, b)
                                      for i, b in enumerate(p['forward_bridges'] or [])))
    if p['netns'] is not None:
        p['netns'] = check_netns('netns', _nsexec.netns_path('netns', p['netns']))
    return p


# ---------------------------------------------------------------- the table (pure)
def render(table, port, peers):
    """The full table as an nft script (what `nft -f` loads after the delete)."""
    lines = ['table inet %s {' % table]
    for name in (ACCEPTED, DROPPED):
        lines += ['\tcounter %s {' % name, '\t}']
    for name, kind, _proto, family in SETS:
        lines += ['\tset %s {' % name, '\t\ttype %s' % kind]
        members = [a for a in peers if (':' in a) == (family == 6)]
        if members:
            lines.append('\t\telements = { %s }' % ', '.join(members))
        lines.append('\t}')
    lines += ['\tchain input {', '\t\ttype filter hook input priority filter; policy accept;']
    for name, _kind, proto, _family in SETS:
        lines.append('\t\tudp dport %d %s saddr @%s counter name "%s" accept' % (port, proto, name, ACCEPTED))
    lines.append('\t\tudp dport %d counter name "%s" drop' % (port, DROPPED))
    lines += ['\t}', '}']
    return '\n'.join(lines) + '\n'


def replace_script(table, body):
    """One transaction: make sure the table exists, delete it, load the full new one."""
    return 'table inet %s\ndelete table inet %s\n%s' % (table, table, body)


def delete_script(table):
    return 'delete table inet %s\n' % table


def _sorted_elems(elems):
    return sorted(elems, key=lambda e: json.dumps(e, sort_keys=True))


def normalize(doc):
    """`nft -j list table` output, comparable: no metainfo, no handles, counters at zero, set elements sorted."""
    out = []
    for item in (doc or {}).get('nftables', []):
        (kind, obj), = item.items()
        if kind == 'metainfo':
            continue
        obj = dict(obj)
        obj.pop('handle', None)
        if kind == 'counter':
            obj['packets'] = obj['bytes'] = 0
        if kind == 'set' and 'elem' in obj:
            obj['elem'] = _sorted_elems(obj['elem'])
        if kind == 'rule':
            obj['expr'] = [dict(e, counter=dict(e['counter'], packets=0, bytes=0))
                           if isinstance(e.get('counter'), dict) else e for e in obj.get('expr', [])]
        out.append({kind: obj})
    return out


def counters_of(doc):
    out = {}
    for item in (doc or {}).get('nftables', []):
        if 'counter' in item:
            out[item['counter']['name']] = {'packets': item['counter'].get('packets', 0),
                                            'bytes': item['counter'].get('bytes', 0)}
    return out


# ---------------------------------------------------------------- forward rules (pure)
def comment(table):
    return 'hostnet.fabric vxlan_firewall %s' % table


def rule_spec(table, bridge):
    return ['-i', bridge, '-o', bridge, '-m', 'comment', '--comment', comment(table), '-j', 'ACCEPT']


def our_rules(table, listing):
    """[(chain, bridge)] of this table's rules in `iptables -S` output."""
    out = []
    for line in listing.splitlines():
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if len(words) < 2 or words[0] != '-A' or '--comment' not in words:
            continue
        at = words.index('--comment')
        if at + 1 >= len(words) or words[at + 1] != comment(table) or '-i' not in words:
            continue
        out.append((words[1], words[words.index('-i') + 1]))
    return out


def plan_forward(table, bridges, chain, present, wanted_ok):
    """(delete, insert): lists of (chain, bridge). ``present``: our rules now; ``wanted_ok``: bridges whose rule
    `-C` found in ``chain``."""
    wanted = set((chain, b) for b in bridges)
    delete = [r for r in present if r not in wanted]
    insert = [(chain, b) for b in bridges if b not in wanted_ok]
    return delete, insert


def rule_text(tool, chain, table, bridge):
    return '%s %s %s' % (tool, chain, ' '.join(shlex.quote(w) for w in rule_spec(table, bridge)))


# ---------------------------------------------------------------- the host
class Host(object):
    """The programs, run in the wanted namespace. ``run(argv, stdin=None, fresh=False) -> (rc, out, err)``."""

    def __init__(self, netns=None, run=None, which=None):
        self.netns = netns
        self._run = run or (lambda argv, stdin=None, fresh=False, netns=None:
                            _nsexec.run(argv, netns=netns, fresh_netns=fresh, stdin=stdin))
        self._which = which or (lambda name: shutil.which(name) or shutil.which(name, path=SBIN_PATH))
        self.nft = self._which('nft')

    def where(self):
        return 'the namespace at %s' % self.netns if self.netns else 'the current namespace'

    def run(self, argv, stdin=None, fresh=False, netns='self'):
        return self._run(argv, stdin=stdin, fresh=fresh, netns=self.netns if netns == 'self' else netns)

    def require_nft(self):
        if self.nft is None:
            raise FirewallError('nft is not installed on the managed host (Debian/Ubuntu package nftables)')

    # nft
    def list_table(self, table, netns='self'):
        """(json doc, text) of the table, or (None, '') when it does not exist."""
        rc, out, err = self.run([self.nft, '-j', 'list', 'table', 'inet', table], netns=netns)
        if rc != 0:
            if 'No such file or directory' in err:
                return None, ''
            raise FirewallError('nft -j list table inet %s in %s failed: %s' % (table, self.where(), err.strip()))
        rc, text, err = self.run([self.nft, 'list', 'table', 'inet', table], netns=netns)
        if rc != 0:
            raise FirewallError('nft list table inet %s in %s failed: %s' % (table, self.where(), err.strip()))
        return json.loads(out), text

    def canonical(self, table, body):
        """(json doc, text) of ``body`` as nft lists it once loaded: loaded into a throwaway empty namespace."""
        try:
            # a process holding a new, empty namespace until its stdin closes
            holder = _nsexec.popen(['cat'], fresh_netns=True, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as exc:
            raise FirewallError('cannot make a throwaway network namespace to load the wanted table into '
                                '(needs CAP_SYS_ADMIN): %s' % exc)
        try:
            scratch = '/proc/%d/ns/net' % holder.pid
            rc, _out, err = self.run([self.nft, '-f', '-'], stdin=body, netns=scratch)
            if rc != 0:
                raise FirewallError('nft rejected the ruleset for table inet %s: %s' % (table, err.strip()))
            return self.list_table(table, netns=scratch)
        finally:
            holder.stdin.close()
            holder.wait()

    def nft_check(self, script):
        rc, _out, err = self.run([self.nft, '-c', '-f', '-'], stdin=script)
        if rc != 0:
            raise FirewallError('nft -c rejected the ruleset in %s (nothing was changed): %s'
                                % (self.where(), err.strip()))

    def nft_apply(self, script):
        rc, _out, err = self.run([self.nft, '-f', '-'], stdin=script)
        if rc != 0:
            raise FirewallError('nft -f failed in %s (the transaction was not applied): %s'
                                % (self.where(), err.strip()))

    # iptables
    def iptables_tools(self, needed):
        found = [(t, self._which(t)) for t in IPTABLES]
        if needed and found[0][1] is None:
            raise FirewallError('forward_bridges: iptables is not installed on the managed host '
                                '(Debian/Ubuntu package iptables)')
        return [(t, path) for t, path in found if path]

    def ipt(self, path, *args):
        return self.run([path, '-w', '5', '-t', 'filter'] + list(args))

    def forward_state(self, path, table, bridges):
        """(chain for new rules, our rules now [(chain, bridge)], bridges whose rule -C finds in that chain)."""
        rc, _out, _err = self.ipt(path, '-S', DOCKER_USER)
        chain = DOCKER_USER if rc == 0 else FORWARD
        present = []
        for c in (DOCKER_USER, FORWARD):
            rc, out, err = self.ipt(path, '-S', c)
            if rc == 0:
                present += our_rules(table, out)
            elif c == FORWARD:
                raise FirewallError('%s -S FORWARD in %s failed: %s' % (path, self.where(), err.strip()))
        ok = [b for b in bridges if self.ipt(path, '-C', chain, *rule_spec(table, b))[0] == 0]
        return chain, present, ok


# ---------------------------------------------------------------- the run
def converge(p, host, check_mode):
    """The module's result. One path for check mode and real runs; only the mutating calls are skipped."""
    table = p['table']
    # without nft there is no table of this module's (it needs nft to make one): absent has nothing to delete there
    nft_missing = host.nft is None and p['state'] == 'absent'
    if not nft_missing:
        host.require_nft()
    before_doc, before_text = host.list_table(table) if not nft_missing else (None, '')
    actions = []
    if p['state'] == 'present':
        body = render(table, p['port'], p['peers'])
        wanted_doc, wanted_text = host.canonical(table, body)
        nft_change = normalize(wanted_doc) != normalize(before_doc) if before_doc is not None else True
        script = replace_script(table, body) if nft_change else None
        after_text = wanted_text
        if nft_change:
            verb = 'replace' if before_doc is not None else 'create'
            actions.append('%s table inet %s in %s' % (verb, table, host.where()))
    else:
        script = delete_script(table) if before_doc is not None else None
        after_text = ''
        if script:
            actions.append('delete table inet %s in %s' % (table, host.where()))

    bridges = p['forward_bridges'] if p['state'] == 'present' else []
    forward_steps = []  # (tool, path, op, chain, bridge)
    before_rules, after_rules = [], []
    for tool, path in host.iptables_tools(needed=bool(bridges)):
        chain, present, ok = host.forward_state(path, table, bridges)
        delete, insert = plan_forward(table, bridges, chain, present, ok)
        before_rules += [rule_text(tool, c, table, b) for c, b in present]
        after_rules += [rule_text(tool, c, table, b) for c, b in present if (c, b) not in delete]
        after_rules += [rule_text(tool, c, table, b) for c, b in insert]
        forward_steps += [(tool, path, '-D', c, b) for c, b in delete]
        forward_steps += [(tool, path, '-I', c, b) for c, b in insert]
    for tool, _path, op, c, b in forward_steps:
        actions.append('%s: %s %s: %s' % (tool, 'insert into' if op == '-I' else 'delete from', c,
                                          ' '.join(shlex.quote(w) for w in rule_spec(table, b))))

    if script is not None:
        host.nft_check(script)  # in check mode too: it reads only, and predicts a rejection
    if not check_mode:
        if script is not None:
            host.nft_apply(script)
        done = []
        try:
            for step in forward_steps:
                tool, path, op, c, b = step
                args = [op, c] + (['1'] if op == '-I' else []) + rule_spec(table, b)
                rc, _out, err = host.ipt(path, *args)
                if rc != 0:
                    raise FirewallError('%s %s failed in %s: %s'
                                        % (tool, ' '.join(args[:2]), host.where(), err.strip()))
                done.append(step)
        except FirewallError as exc:
            undo(host, table, script, before_doc, before_text, done)
            raise FirewallError('%s; undone: %s' % (exc, 'the table and %d iptables rule(s)' % len(done)
                                                    if script else '%d iptables rule(s)' % len(done)))
        after_doc, after_text = host.list_table(table) if not nft_missing else (None, '')
    else:
        after_doc = before_doc
    counters = counters_of(after_doc) if after_doc is not None else None
    result = {
        'changed': bool(actions),
        'actions': actions,
        'ruleset': after_text,
        'counters': counters,
        'forward_rules': after_rules,
        'diff': {'before': _diff_text(before_text, before_rules), 'after': _diff_text(after_text, after_rules)},
    }
    return result


def undo(host, table, script, before_doc, before_text, done):
    """Put back what a failed run changed: the iptables steps in reverse, then the table as it was."""
    for tool, path, op, c, b in reversed(done):
        back = '-D' if op == '-I' else '-I'
        host.ipt(path, *([back, c] + (['1'] if back == '-I' else []) + rule_spec(table, b)))
    if script is not None:
        # no table before: make sure one exists and delete it; else replace it by its old text (counters included)
        host.run([host.nft, '-f', '-'], stdin=replace_script(table, before_text if before_doc is not None else ''))


def _diff_text(ruleset, rules):
    text = ruleset or ''
    if rules:
        text += ''.join('# %s\n' % r for r in rules)
    return text


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        params = validate(dict(module.params))
    except v.ValidationError as exc:
        module.fail_json(msg=str(exc), param=exc.param)
    try:
        result = converge(params, Host(params['netns']), module.check_mode)
    except FirewallError as exc:
        module.fail_json(msg=str(exc))
    if not module._diff:
        result.pop('diff')
    module.exit_json(**result)


if __name__ == '__main__':
    main()
