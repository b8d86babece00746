"""The batched neighbour/FDB path: encoding checked against pyroute2 itself, the dump parser against
pyroute2's decoder, ack collection against a scripted socket, and Batch's rollback per entry."""
import errno
import struct

import pytest

from ansible_collections.hostnet.fabric.plugins.module_utils import _netlink as nlmod
from ansible_collections.hostnet.fabric.plugins.module_utils._plan import ApplyError, Batch, BatchFailed, Plan

pyroute2 = pytest.importorskip('pyroute2')
from pyroute2.netlink.rtnl.ndmsg import ndmsg  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope='module')
def ipbatch():
    # pyroute2's own request compiler: the same API as IPRoute, the bytes are kept instead of sent
    b = pyroute2.IPBatch()
    yield b
    b.close()


def pyroute2_bytes(ipbatch, method, command, **kw):
    ipbatch.reset()
    getattr(ipbatch, method)(command, **kw)
    return bytes(ipbatch.batch)


# what Netlink.fdb_append / fdb_del / neigh_set / neigh_del ask pyroute2 for, and the batch op of each
CASES = [
    ('fdb_append', '00:00:00:00:00:00', '10.0.0.1',
     ('fdb', 'append', dict(ifindex=7, lladdr='00:00:00:00:00:00', dst='10.0.0.1'))),
    ('fdb_append', '02:42:0a:3c:00:40', 'fd00::1',
     ('fdb', 'append', dict(ifindex=7, lladdr='02:42:0a:3c:00:40', dst='fd00::1'))),
    ('fdb_del', '02:00:00:00:00:01', '192.168.60.2',
     ('fdb', 'del', dict(ifindex=7, lladdr='02:00:00:00:00:01', dst='192.168.60.2'))),
    ('fdb_del', '00:00:00:00:00:00', 'fd00::2',
     ('fdb', 'del', dict(ifindex=7, lladdr='00:00:00:00:00:00', dst='fd00::2'))),
    ('neigh_set', '02:00:00:00:00:01', '10.42.0.2',
     ('neigh', 'replace', dict(ifindex=7, dst='10.42.0.2', lladdr='02:00:00:00:00:01', family=2,
                               state=nlmod.NUD_PERMANENT))),
    ('neigh_set', '02:00:00:00:00:01', 'fd42::2',
     ('neigh', 'replace', dict(ifindex=7, dst='fd42::2', lladdr='02:00:00:00:00:01', family=10,
                               state=nlmod.NUD_PERMANENT))),
    ('neigh_del', None, '10.42.0.2', ('neigh', 'del', dict(ifindex=7, dst='10.42.0.2', family=2))),
    ('neigh_del', None, 'fd42::2', ('neigh', 'del', dict(ifindex=7, dst='fd42::2', family=10))),
]


@pytest.mark.parametrize('op, mac, ip, call', CASES, ids=['%s-%s' % (c[0], c[2]) for c in CASES])
def test_requests_are_byte_for_byte_what_pyroute2_sends(ipbatch, op, mac, ip, call):
    method, command, kw = call
    theirs = pyroute2_bytes(ipbatch, method, command, **kw)
    _length, _type, _flags, seq, pid = struct.unpack_from('=IHHII', theirs)
    assert nlmod.encode_neigh_request(op, 7, mac, ip, seq, pid) == theirs


def neigh_message(family, ifindex, state, flags, attrs, seq=1):
    msg = ndmsg()
    msg['family'] = family
    msg['ifindex'] = ifindex
    msg['state'] = state
    msg['flags'] = flags
    msg['attrs'] = attrs
    msg['header']['type'] = nlmod.RTM_NEWNEIGH
    msg['header']['flags'] = 2
    msg['header']['sequence_number'] = seq
    msg.encode()
    return bytes(msg.data)


@pytest.mark.parametrize('family, attrs', [
    (7, [['NDA_LLADDR', '02:00:00:00:00:0a'], ['NDA_DST', '192.168.60.2'], ['NDA_MASTER', 3]]),
    (7, [['NDA_LLADDR', '00:00:00:00:00:00'], ['NDA_DST', 'fd00::2'], ['NDA_VNI', 42], ['NDA_PORT', 4789]]),
    (2, [['NDA_DST', '10.42.0.2'], ['NDA_LLADDR', '02:00:00:00:00:02'], ['NDA_PROBES', 0]]),
    (10, [['NDA_DST', 'fd42::ffff:1'], ['NDA_LLADDR', '02:00:00:00:00:02']]),
    (2, [['NDA_DST', '10.42.0.3']]),  # an incomplete entry: no MAC
])
def test_dump_parser_agrees_with_pyroute2s_decoder(family, attrs):
    data = neigh_message(family, 9, 0xC0, 2, attrs)
    theirs = ndmsg(data)
    theirs.decode()
    ifindex, state, flags, dst, lladdr, master, fam = nlmod.parse_neigh(data, 0, len(data))
    assert (ifindex, state, flags, fam) == (theirs['ifindex'], theirs['state'], theirs['flags'], theirs['family'])
    assert dst == theirs.get_attr('NDA_DST')
    assert lladdr == theirs.get_attr('NDA_LLADDR')
    assert master == (theirs.get_attr('NDA_MASTER') or 0)


class ScriptedSocket:
    """A non-blocking socket whose recv() hands out prepared datagrams (EAGAIN first, to exercise the wait)."""

    def __init__(self, answer):
        self.answer = answer
        self.sent = []
        self.queue = []

    def send(self, data):
        self.sent.append(data)
        self.queue = [None] + self.answer(data)
        return len(data)

    def recv(self, _size):
        item = self.queue.pop(0)
        if item is None:
            raise BlockingIOError(errno.EAGAIN, 'try again')
        return item

    def fileno(self):
        return -1

    def getsockopt(self, *_args):
        return 425984


def ack(seq, code=0, request=b''):
    body = struct.pack('=i', -code) + (request or struct.pack('=IHHII', 16, 28, 5, seq, 0))
    return struct.pack('=IHHII', 16 + len(body), nlmod.NLMSG_ERROR, 0x100 if not code else 0, seq, 0) + body


def test_acks_collected_per_request_skipping_notifications(monkeypatch):
    def answer(data):
        seqs, offset = [], 0
        while offset < len(data):
            length, _t, _f, seq, _p = struct.unpack_from('=IHHII', data, offset)
            seqs.append((seq, data[offset:offset + length]))
            offset += length
        # a notification (seq 0) first, then the acks, the second request refused with EEXIST
        notification = neigh_message(2, 9, 0x80, 0, [['NDA_DST', '10.0.0.9']], seq=0)
        acks = [ack(seq, errno.EEXIST if i == 1 else 0, req if i == 1 else b'') for i, (seq, req) in enumerate(seqs)]
        return [notification + acks[0], b''.join(acks[1:])]

    sock = ScriptedSocket(answer)
    monkeypatch.setattr(nlmod.select, 'select', lambda r, w, x, t: (r, w, x))
    bs = nlmod._BatchSocket.__new__(nlmod._BatchSocket)
    bs.sock, bs.marshal, bs.seq, bs.chunk = sock, pyroute2.IPRoute().marshal, nlmod._SEQ_BASE, 2

    class FakeNl:
        where = 'the current namespace'
        _batch = bs

        def index_of(self, ifname):
            assert ifname == 'vx0'
            return 9

    requests = [('fdb_append', '00:00:00:00:00:00', '10.0.0.%d' % i) for i in range(1, 6)]
    results = nlmod.apply_batch(FakeNl(), 'vx0', requests)
    assert len(sock.sent) == 3  # chunks of 2: one send per chunk, not one per entry
    assert [r is None for r in results] == [True, False, True, False, True]
    assert isinstance(results[1], nlmod.Exists)
    assert str(results[1]).startswith('add FDB entry 00:00:00:00:00:00 dst 10.0.0.2 on vx0 in the current namespace')


def test_the_receive_buffer_overflowing_is_an_error_not_a_success():
    class Full:
        def recv(self, _size):
            raise OSError(errno.ENOBUFS, 'No buffer space available')

    with pytest.raises(nlmod.NetlinkOpError, match='state of the batch is unknown'):
        nlmod._recv(Full(), 0)


# ---------------------------------------------------------------- Batch: rollback per entry
class Kernel:
    """A set of entries; requests ('add'|'del', key); 'bad' keys are refused."""

    def __init__(self, bad=()):
        self.entries = set()
        self.bad = set(bad)
        self.sends = 0

    def send(self, requests):
        self.sends += 1
        results = []
        for op, key in requests:
            if key in self.bad:
                results.append(RuntimeError('refused %s' % key))
            elif op == 'add':
                self.entries.add(key)
                results.append(None)
            else:
                self.entries.discard(key)
                results.append(None)
        return results


def batch_of(kernel, keys):
    batch = Batch(kernel.send)
    for key in keys:
        batch.add('add %s' % key, ('add', key), ('del', key))
    return batch


def test_batch_applies_in_one_send():
    kernel = Kernel()
    plan = Plan()
    plan.add_batch(batch_of(kernel, range(100)))
    assert len(plan) == 100 and plan.texts[:2] == ['add 0', 'add 1']
    plan.apply()
    assert kernel.entries == set(range(100)) and kernel.sends == 1


def test_failure_at_entry_k_removes_the_entries_already_added():
    kernel = Kernel(bad={37})
    plan = Plan()
    plan.add_batch(batch_of(kernel, range(100)))
    with pytest.raises(ApplyError) as err:
        plan.apply()
    assert kernel.entries == set()
    assert err.value.failed == 'add 37' and 'refused 37' in str(err.value.cause)
    # every entry the kernel took is undone, in reverse order; the refused one needs no undo
    assert err.value.rolled_back == ['add %d' % i for i in reversed(range(100)) if i != 37]
    assert kernel.sends == 2


def test_several_failures_are_counted_and_earlier_steps_rolled_back():
    log = []
    kernel = Kernel(bad={3, 5})
    plan = Plan()
    plan.add('create', lambda: log.append('create'), lambda: log.append('delete'))
    plan.add_batch(batch_of(kernel, range(8)))
    with pytest.raises(ApplyError) as err:
        plan.apply()
    assert '1 more entries' in str(err.value.cause) and err.value.failed == 'add 3'
    assert err.value.rolled_back[-1] == 'create' and log == ['create', 'delete'] and kernel.entries == set()


def test_a_later_failure_rolls_the_whole_batch_back():
    kernel = Kernel()
    plan = Plan()
    plan.add_batch(batch_of(kernel, range(10)))
    plan.add('then this fails', _boom)
    with pytest.raises(ApplyError) as err:
        plan.apply()
    assert kernel.entries == set() and err.value.rolled_back == ['add %d' % i for i in reversed(range(10))]


def test_entries_without_undo_are_not_undone_and_undo_failures_reported():
    kernel = Kernel(bad={'x'})
    batch = Batch(kernel.send)
    batch.add('add a', ('add', 'a'))  # no undo: the object it lives on is removed whole
    batch.add('add b', ('add', 'b'), ('del', 'x'))  # its undo is refused
    batch.add('add x', ('add', 'x'), ('del', 'x'))
    with pytest.raises(BatchFailed) as err:
        batch.run()
    assert err.value.rolled_back == [] and err.value.rollback_errors == ['add b: refused x']


def test_a_send_that_raises_fails_the_batch_with_nothing_known_done():
    def send(_requests):
        raise OSError('socket gone')

    batch = Batch(send)
    batch.add('add a', ('add', 'a'), ('del', 'a'))
    with pytest.raises(BatchFailed, match='socket gone'):
        batch.run()


def test_empty_batch_adds_no_step():
    plan = Plan()
    plan.add_batch(Batch(Kernel().send))
    assert not plan and plan.texts == []


def _boom():
    raise RuntimeError('boom')


def test_vxlan_entry_order_is_ipaddress_order():
    import ipaddress
    import random

    from ansible_collections.hostnet.fabric.plugins.modules import vxlan

    rnd = random.Random(7)
    texts = ['10.0.0.%d' % i for i in range(1, 256)] + ['fd00::%x' % rnd.randrange(1 << 16) for _i in range(100)]
    texts += ['9.255.255.255', '11.0.0.0', '::1', '::ffff:1.2.3.4', '2001:db8::1']
    rnd.shuffle(texts)
    entries = [{'dst': t} for t in set(texts)]
    expected = sorted(entries, key=lambda e: (ipaddress.ip_address(e['dst']).version, ipaddress.ip_address(e['dst'])))
    assert vxlan._sorted_entries(entries, 'dst') == expected
