"""vxlan_firewall's decisions: input checks, the rendered table, the normalisation that makes idempotence, the
forward-rule plan, and the run against a fake host: check mode skips exactly the mutating calls, a ruleset that
nft -c rejects changes nothing, a failed iptables step undoes the table, a missing nft names its package."""
import json
import re

import pytest

from ansible_collections.hostnet.fabric.plugins.module_utils._validate import ValidationError
from ansible_collections.hostnet.fabric.plugins.modules import vxlan_firewall as fw

T = 'hostnet_fabric'
COMMENT = 'hostnet.fabric vxlan_firewall hostnet_fabric'


def params(**kw):
    p = dict(table=T, port=4789, peers=[], forward_bridges=[], netns=None, state='present')
    p.update(kw)
    return p


# ---------------------------------------------------------------- validate
def test_validate_normalises():
    p = fw.validate(params(peers=['2001:DB8::1', '192.0.2.1', '192.0.2.1'], forward_bridges=['br1', 'br0', 'br1']))
    assert p['peers'] == ['2001:db8::1', '192.0.2.1']
    assert p['forward_bridges'] == ['br0', 'br1']


@pytest.mark.parametrize('kw, text', [
    (dict(table='1abc'), "table: must be a letter then letters, digits or _ (at most 64) (got '1abc')"),
    (dict(table='a b'), 'table: must be a letter'),
    (dict(table='a' * 65), 'table: must be a letter'),
    (dict(port=70000), 'port: must be in 1..65535 (got 70000)'),
    (dict(peers=['192.0.2.1', '192.0.2.300']), "peers[1]: must be an IPv4 or IPv6 address (got '192.0.2.300')"),
    (dict(peers=['ff02::1']), 'peers[0]: must not be a multicast address'),
    (dict(forward_bridges=['br/0']), 'forward_bridges[0]: interface name may not contain'),
    (dict(netns='../x'), "netns: namespace name may not be '.' or contain '..'"),
])
def test_validate_refuses(kw, text):
    with pytest.raises(ValidationError) as err:
        fw.validate(params(**kw), check_netns=lambda param, path: path)
    assert str(err.value).startswith(text)


def test_validate_checks_the_namespace():
    def check(param, path):
        raise ValidationError(param, 'no network namespace at %s' % path)
    with pytest.raises(ValidationError) as err:
        fw.validate(params(netns='h1'), check_netns=check)
    assert str(err.value) == 'netns: no network namespace at /run/netns/h1'


# ---------------------------------------------------------------- the table
def test_render():
    text = fw.render(T, 8472, ['192.0.2.1', '2001:db8::1', '192.0.2.2'])
    assert text == '\n'.join([
        'table inet hostnet_fabric {',
        '\tcounter peers_accepted {', '\t}',
        '\tcounter others_dropped {', '\t}',
        '\tset peers_v4 {', '\t\ttype ipv4_addr', '\t\telements = { 192.0.2.1, 192.0.2.2 }', '\t}',
        '\tset peers_v6 {', '\t\ttype ipv6_addr', '\t\telements = { 2001:db8::1 }', '\t}',
        '\tchain input {', '\t\ttype filter hook input priority filter; policy accept;',
        '\t\tudp dport 8472 ip saddr @peers_v4 counter name "peers_accepted" accept',
        '\t\tudp dport 8472 ip6 saddr @peers_v6 counter name "peers_accepted" accept',
        '\t\tudp dport 8472 counter name "others_dropped" drop',
        '\t}', '}', ''])
    # no peers of a family: the set has no elements line (nft refuses an empty one)
    assert 'elements' not in fw.render(T, 4789, [])


def test_scripts_are_one_transaction():
    assert fw.replace_script(T, 'BODY') == 'table inet hostnet_fabric\ndelete table inet hostnet_fabric\nBODY'
    assert fw.delete_script(T) == 'delete table inet hostnet_fabric\n'


def listing(elems=('192.0.2.1', '192.0.2.2'), handle=4, packets=0, extra_rule=False):
    items = [
        {'metainfo': {'version': '1.0.6', 'json_schema_version': 1}},
        {'table': {'family': 'inet', 'name': T, 'handle': handle}},
        {'counter': {'family': 'inet', 'name': 'others_dropped', 'table': T, 'handle': handle + 1,
                     'packets': packets, 'bytes': packets * 50}},
        {'set': {'family': 'inet', 'name': 'peers_v4', 'table': T, 'type': 'ipv4_addr', 'handle': handle + 2,
                 'elem': list(elems)}},
        {'rule': {'family': 'inet', 'table': T, 'chain': 'input', 'handle': handle + 3,
                  'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'udp', 'field': 'dport'}},
                                      'right': 4789}}, {'counter': 'others_dropped'}, {'drop': None}]}},
    ]
    if extra_rule:
        items.append({'rule': {'family': 'inet', 'table': T, 'chain': 'input', 'handle': 99,
                               'expr': [{'counter': {'packets': packets, 'bytes': 1}}, {'accept': None}]}})
    return {'nftables': items}


def test_normalize_ignores_handles_counters_and_element_order():
    assert fw.normalize(listing()) == fw.normalize(listing(elems=('192.0.2.2', '192.0.2.1'), handle=40, packets=7))
    assert fw.normalize(listing()) != fw.normalize(listing(elems=('192.0.2.1',)))
    assert fw.normalize(listing()) != fw.normalize(listing(extra_rule=True))
    assert fw.normalize(listing(extra_rule=True)) == fw.normalize(listing(extra_rule=True, packets=3, handle=9))
    assert fw.counters_of(listing(packets=3)) == {'others_dropped': {'packets': 3, 'bytes': 150}}


# ---------------------------------------------------------------- forward rules
def test_our_rules_reads_only_this_tables_comment():
    out = '\n'.join([
        '-P FORWARD DROP',
        '-A FORWARD -j DOCKER-USER',
        '-A FORWARD -i br0 -o br0 -m comment --comment "%s" -j ACCEPT' % COMMENT,
        '-A FORWARD -i br9 -o br9 -m comment --comment "hostnet.fabric vxlan_firewall other" -j ACCEPT',
        '-A FORWARD -i br1 -o br1 -j ACCEPT',
        '-A DOCKER-USER -i br2 -o br2 -m comment --comment "%s" -j ACCEPT' % COMMENT,
        '-A FORWARD -m comment --comment "unbalanced',
    ])
    assert fw.our_rules(T, out) == [('FORWARD', 'br0'), ('DOCKER-USER', 'br2')]


def test_plan_forward():
    present = [('FORWARD', 'br0'), ('DOCKER-USER', 'br1'), ('DOCKER-USER', 'old')]
    delete, insert = fw.plan_forward(T, ['br0', 'br1', 'br2'], 'DOCKER-USER', present, wanted_ok=['br1'])
    assert delete == [('FORWARD', 'br0'), ('DOCKER-USER', 'old')]
    assert insert == [('DOCKER-USER', 'br0'), ('DOCKER-USER', 'br2')]
    assert fw.plan_forward(T, [], 'FORWARD', [('FORWARD', 'br0')], []) == ([('FORWARD', 'br0')], [])


# ---------------------------------------------------------------- the run, on a fake host
class FakeHost(fw.Host):
    """nft and iptables as data: ``table`` is the live listing (None: absent), ``rules`` the iptables rules."""

    def __init__(self, table=None, rules=(), nft=True, iptables=True, reject=None, fail_ipt=None, docker=False):
        self.netns = None
        self.nft = '/usr/sbin/nft' if nft else None
        self.table_doc = table
        self.rules = list(rules)  # (tool, chain, bridge)
        self.calls = []
        self.reject = reject
        self.fail_ipt = fail_ipt
        self.docker = docker
        self.tools = [('iptables', '/usr/sbin/iptables'), ('ip6tables', '/usr/sbin/ip6tables')] if iptables else []

    def list_table(self, table, netns='self'):
        if netns != 'self':
            return self.wanted, 'WANTED TEXT'
        return (self.table_doc, 'LIVE TEXT') if self.table_doc is not None else (None, '')

    def canonical(self, table, body):
        self.calls.append(('canonical', body))
        self.wanted = listing(elems=re.findall(r'192\.0\.2\.\d+', body))
        return self.wanted, 'WANTED TEXT'

    def nft_check(self, script):
        self.calls.append(('check', script))
        if self.reject:
            raise fw.FirewallError('nft -c rejected the ruleset in the current namespace (nothing was changed): '
                                   + self.reject)

    def nft_apply(self, script):
        self.calls.append(('apply', script))
        self.table_doc = None if script.startswith('delete table') else self.wanted

    def run(self, argv, stdin=None, fresh=False, netns='self'):
        self.calls.append(('run', argv, stdin))
        return 0, '', ''

    def iptables_tools(self, needed):
        if needed and not self.tools:
            return fw.Host.iptables_tools(self, needed)
        return self.tools

    def _which(self, name):
        return None

    def forward_state(self, path, table, bridges):
        tool = path.rsplit('/', 1)[1]
        chain = 'DOCKER-USER' if self.docker else 'FORWARD'
        present = [(c, b) for t, c, b in self.rules if t == tool]
        return chain, present, [b for b in bridges if (tool, chain, b) in self.rules]

    def ipt(self, path, *args):
        tool = path.rsplit('/', 1)[1]
        self.calls.append(('ipt', tool) + args[:2])
        if self.fail_ipt and (tool, args[0]) == self.fail_ipt:
            return 1, '', 'iptables: Resource temporarily unavailable.'
        bridge = args[args.index('-i') + 1]
        if args[0] == '-I':
            self.rules.append((tool, args[1], bridge))
        else:
            self.rules.remove((tool, args[1], bridge))
        return 0, '', ''


def mutating(host):
    return [c for c in host.calls if c[0] in ('apply', 'ipt', 'run')]


@pytest.mark.parametrize('check_mode', [True, False])
def test_create_then_nothing_to_do(check_mode):
    host = FakeHost()
    p = params(peers=['192.0.2.1', '192.0.2.2'], forward_bridges=['br0'])
    res = fw.converge(p, host, check_mode)
    assert res['changed']
    assert res['actions'] == [
        'create table inet hostnet_fabric in the current namespace',
        "iptables: insert into FORWARD: -i br0 -o br0 -m comment --comment '%s' -j ACCEPT" % COMMENT,
        "ip6tables: insert into FORWARD: -i br0 -o br0 -m comment --comment '%s' -j ACCEPT" % COMMENT]
    assert res['diff']['before'] == ''
    # predicted from the canonical form in check mode, read back from the kernel after a real run
    assert res['diff']['after'].startswith('%s# iptables FORWARD -i br0' % ('WANTED TEXT' if check_mode else 'LIVE TEXT'))
    assert [c[0] for c in host.calls if c[0] == 'check'] == ['check']  # nft -c in check mode too
    if check_mode:
        assert mutating(host) == [] and host.table_doc is None and host.rules == []
        return
    assert [c[0] for c in mutating(host)] == ['apply', 'ipt', 'ipt']
    assert host.calls[-3][1].startswith('table inet hostnet_fabric\ndelete table inet hostnet_fabric\ntable inet')
    host.calls = []
    again = fw.converge(p, host, False)
    assert not again['changed'] and again['actions'] == [] and mutating(host) == []


def test_a_different_live_table_is_replaced_and_rules_move_to_docker_user():
    host = FakeHost(table=listing(elems=('192.0.2.9',)), rules=[('iptables', 'FORWARD', 'br0')], docker=True)
    res = fw.converge(params(peers=['192.0.2.1'], forward_bridges=['br0']), host, False)
    assert res['actions'][0] == 'replace table inet hostnet_fabric in the current namespace'
    assert ('iptables', 'DOCKER-USER', 'br0') in host.rules and ('iptables', 'FORWARD', 'br0') not in host.rules
    assert "iptables: delete from FORWARD: -i br0" in ' '.join(res['actions'])


def test_absent_deletes_only_its_table_and_rules():
    host = FakeHost(table=listing(), rules=[('iptables', 'FORWARD', 'br0'), ('ip6tables', 'DOCKER-USER', 'br0')])
    res = fw.converge(params(state='absent'), host, False)
    assert res['actions'][0] == 'delete table inet hostnet_fabric in the current namespace'
    assert host.table_doc is None and host.rules == []
    assert res['diff']['after'] == '' and res['counters'] is None
    assert not fw.converge(params(state='absent'), host, False)['changed']


def test_a_rejected_ruleset_changes_nothing():
    host = FakeHost(rules=[('iptables', 'FORWARD', 'old')], reject='Error: Could not process rule')
    with pytest.raises(fw.FirewallError) as err:
        fw.converge(params(peers=['192.0.2.1'], forward_bridges=['br0']), host, False)
    assert str(err.value) == ('nft -c rejected the ruleset in the current namespace (nothing was changed): '
                              'Error: Could not process rule')
    assert mutating(host) == [] and host.rules == [('iptables', 'FORWARD', 'old')] and host.table_doc is None


def test_a_rejected_ruleset_message():
    host = FakeHost(reject='Error: Could not process rule: No such file or directory')
    with pytest.raises(fw.FirewallError) as err:
        fw.converge(params(peers=['192.0.2.1']), host, True)
    assert str(err.value) == ('nft -c rejected the ruleset in the current namespace (nothing was changed): '
                              'Error: Could not process rule: No such file or directory')
    assert mutating(host) == []


def test_a_failed_iptables_step_undoes_the_rest():
    host = FakeHost(fail_ipt=('ip6tables', '-I'))
    with pytest.raises(fw.FirewallError) as err:
        fw.converge(params(peers=['192.0.2.1'], forward_bridges=['br0']), host, False)
    assert 'ip6tables -I FORWARD failed' in str(err.value) and 'undone: the table and 1 iptables rule(s)' in str(err.value)
    assert host.rules == []  # the iptables rule that went in came out again
    # and the table that did not exist is deleted again, in one transaction
    assert host.calls[-1] == ('run', ['/usr/sbin/nft', '-f', '-'],
                              'table inet hostnet_fabric\ndelete table inet hostnet_fabric\n')


def test_missing_programs_are_named_with_their_package():
    with pytest.raises(fw.FirewallError) as err:
        fw.converge(params(), FakeHost(nft=False), True)
    assert str(err.value) == 'nft is not installed on the managed host (Debian/Ubuntu package nftables)'
    with pytest.raises(fw.FirewallError) as err:
        fw.converge(params(forward_bridges=['br0']), FakeHost(iptables=False), True)
    assert str(err.value) == ('forward_bridges: iptables is not installed on the managed host '
                              '(Debian/Ubuntu package iptables)')
    # absent without nft: no table of ours can be there (it takes nft to make one); the iptables rules still go
    host = FakeHost(nft=False, rules=[('iptables', 'FORWARD', 'br0')])
    res = fw.converge(params(state='absent'), host, False)
    assert res['changed'] and host.rules == [] and res['counters'] is None and res['ruleset'] == ''
    assert [c for c in host.calls if c[0] in ('check', 'apply', 'canonical')] == []
    assert not fw.converge(params(state='absent'), FakeHost(nft=False), True)['changed']
    # no bridges wanted and no iptables: nothing of ours can be there, nothing to do
    assert fw.converge(params(peers=['192.0.2.1']), FakeHost(iptables=False), True)['forward_rules'] == []


def test_host_list_table_tells_absent_from_failure():
    answers = {('-j', 'list'): (1, '', 'Error: No such file or directory\nlist table inet x\n')}

    def run(argv, stdin=None, fresh=False, netns=None):
        return answers.get(tuple(argv[1:3]), (0, json.dumps({'nftables': []}), ''))

    host = fw.Host(run=run, which=lambda name: '/usr/sbin/' + name)
    assert host.list_table('x') == (None, '')
    answers[('-j', 'list')] = (1, '', 'Error: Operation not permitted')
    with pytest.raises(fw.FirewallError) as err:
        host.list_table('x')
    assert str(err.value) == ('nft -j list table inet x in the current namespace failed: '
                              'Error: Operation not permitted')
