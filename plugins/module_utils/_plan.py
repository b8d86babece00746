# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to hostnet.fabric: not a public API, may change without notice.
#
# Planning and applying changes, with rollback. No Ansible here.
#
# A module reads the current state, then *plans*: every difference between what the user
# asked for (options left at None are unmanaged) and what the kernel has becomes an Action
# with a human-readable text, a do() and, where it makes sense, an undo(). Check mode is the
# same path with apply() skipped. apply() runs the actions in order; if one fails, the ones
# already done are undone in reverse order, so a run that fails half-way leaves no half-made
# objects behind (the kernel has no NetworkManager-style checkpoints; this is ours).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress


class Action(object):
    __slots__ = ('text', 'do', 'undo')

    def __init__(self, text, do, undo=None):
        self.text = text
        self.do = do
        self.undo = undo

    @property
    def texts(self):
        return [self.text]

    def run(self):
        self.do()

    def rollback(self):
        """Undo a done action: (texts rolled back, errors)."""
        if self.undo is None:
            return [], []
        try:
            self.undo()
        except Exception as exc:  # the caller keeps going: undo as much as we can
            return [], ['%s: %s' % (self.text, exc)]
        return [self.text], []


class BatchFailed(Exception):
    """Entries of a Batch failed; the batch's own done entries were already undone."""

    def __init__(self, failed, cause, rolled_back, rollback_errors):
        super(BatchFailed, self).__init__(str(cause))
        self.failed = failed
        self.cause = cause
        self.rolled_back = rolled_back
        self.rollback_errors = rollback_errors


class Batch(object):
    """Many entry steps (FDB, neighbours ...) applied as ONE step of a Plan, in few kernel round trips.

    Each entry keeps its own text and undo, like an Action, but ``do`` and ``undo`` are requests
    (plain data) that ``send(requests)`` applies together: it returns one result per request, in
    order, None for done or the exception it failed with, and attempts them all. When entries
    fail, the entries done are undone (in reverse order, one more send) and BatchFailed names the
    first failure, so a failure in the middle of a batch leaves nothing of it behind.
    """

    def __init__(self, send):
        self.send = send
        self.entries = []

    def add(self, text, do, undo=None):
        self.entries.append((text, do, undo))

    @property
    def texts(self):
        return [text for text, _do, _undo in self.entries]

    def __len__(self):
        return len(self.entries)

    def _undo(self, indexes):
        todo = [i for i in reversed(indexes) if self.entries[i][2] is not None]
        if not todo:
            return [], []
        try:
            results = self.send([self.entries[i][2] for i in todo])
        except Exception as exc:
            return [], ['%s: %s' % (self.entries[i][0], exc) for i in todo]
        rolled_back, errors = [], []
        for i, result in zip(todo, results):
            if result is None:
                rolled_back.append(self.entries[i][0])
            else:
                errors.append('%s: %s' % (self.entries[i][0], result))
        return rolled_back, errors

    def run(self):
        try:
            results = self.send([do for _text, do, _undo in self.entries])
        except Exception as exc:  # nothing known to be done: the send itself failed
            raise BatchFailed(self.entries[0][0] if len(self.entries) == 1 else
                              '%d entries starting with: %s' % (len(self.entries), self.entries[0][0]), exc, [], [])
        failed = [i for i, result in enumerate(results) if result is not None]
        if failed:
            rolled_back, errors = self._undo([i for i, result in enumerate(results) if result is None])
            first = failed[0]
            cause = results[first]
            if len(failed) > 1:
                cause = '%s (and %d more entries of the batch failed)' % (cause, len(failed) - 1)
            raise BatchFailed(self.entries[first][0], cause, rolled_back, errors)

    def rollback(self):
        return self._undo(list(range(len(self.entries))))


class ApplyError(Exception):
    """An action failed; ``rolled_back`` lists what was undone, ``rollback_errors`` what could not be."""

    def __init__(self, failed, cause, rolled_back, rollback_errors):
        self.failed = failed
        self.cause = cause
        self.rolled_back = rolled_back
        self.rollback_errors = rollback_errors
        msg = '%s (while: %s)' % (cause, failed)
        if rolled_back:
            msg += '; rolled back: %s' % '; '.join(rolled_back)
        if rollback_errors:
            msg += '; ROLLBACK INCOMPLETE: %s' % '; '.join(rollback_errors)
        super(ApplyError, self).__init__(msg)


class Plan(object):
    """Steps in order: Actions, and Batches of entries (each entry one text of the plan)."""

    def __init__(self):
        self.actions = []

    def add(self, text, do, undo=None):
        self.actions.append(Action(text, do, undo))

    def add_batch(self, batch):
        """Append a Batch as one step (an empty one adds nothing)."""
        if len(batch):
            self.actions.append(batch)

    @property
    def texts(self):
        return [text for action in self.actions for text in action.texts]

    def __len__(self):
        return sum(len(action.texts) for action in self.actions)

    def __bool__(self):
        return bool(self.actions)

    __nonzero__ = __bool__

    def apply(self):
        done = []
        for action in self.actions:
            try:
                action.run()
            except Exception as exc:
                if isinstance(exc, BatchFailed):
                    failed, cause, rolled_back, errors = (exc.failed, exc.cause, list(exc.rolled_back),
                                                          list(exc.rollback_errors))
                else:
                    failed, cause, rolled_back, errors = action.text, exc, [], []
                for prev in reversed(done):
                    texts, errs = prev.rollback()
                    rolled_back.extend(texts)
                    errors.extend(errs)
                raise ApplyError(failed, cause, rolled_back, errors)
            done.append(action)


# --------------------------------------------------------------------------- exclusive lists
def exclusive(current, wanted, key=None, value=None):
    """What makes the list ``current`` exactly ``wanted``: ``(remove, put)``.

    Items are identified by ``key(item)`` (default: the item itself, which must be hashable).
    ``remove``: the current items whose key is not wanted, in current order.
    ``put``: ``[(item, old)]`` in wanted order, for each wanted item whose key is not current
    (``old`` is None) or, with ``value``, whose ``value(item)`` differs from that of the current
    item ``old`` with the same key (a replacement).
    Linear in the lengths of both lists.
    """
    key = key or (lambda item: item)
    by_key = {}
    for item in current:
        by_key.setdefault(key(item), item)
    wanted_keys = set(key(item) for item in wanted)
    remove = [item for item in current if key(item) not in wanted_keys]
    put = []
    for item in wanted:
        old = by_key.get(key(item))
        if old is None:
            put.append((item, None))
        elif value is not None and value(old) != value(item):
            put.append((item, old))
    return remove, put


def plan_exclusive(steps, current, wanted, remove, put, key=None, value=None, undoable=True):
    """Plan an exclusive list: remove what is not wanted, then put what is missing or different.

    ``steps`` takes ``add(text, do, undo)`` (a Plan, or a batch of kernel requests). ``remove(item)``
    and ``put(item, old)`` return ``(text, do, undo)`` for one step (see exclusive() for ``key``,
    ``value`` and ``old``). Without ``undoable`` (the list lives on an object this plan creates,
    whose own undo removes it whole) no step gets an undo. Returns the number of steps planned.
    """
    to_remove, to_put = exclusive(current, wanted, key, value)
    for item in to_remove:
        text, do, undo = remove(item)
        steps.add(text, do, undo if undoable else None)
    for item, old in to_put:
        text, do, undo = put(item, old)
        steps.add(text, do, undo if undoable else None)
    return len(to_remove) + len(to_put)


# --------------------------------------------------------------------------- link settings
def _address_key(cidr):
    return ipaddress.ip_interface(cidr)


def plan_addresses(current, wanted):
    """(to_remove, to_add) making ``current`` exactly ``wanted`` (addresses compared normalised)."""
    to_remove, to_put = exclusive(current, wanted, key=_address_key)
    return [str(_address_key(a)) for a in to_remove], [str(_address_key(a)) for a, _old in to_put]


def plan_link_settings(plan, nl, name, current, want, created=False):
    """Plan mtu / mac / alias / master / addresses / up for link ``name`` in ``nl``'s namespace.

    ``current`` is the link's public view (see link_view) or, when ``created`` is true, the
    view predicted for a link this plan creates (settings then need no undo: the undo of the
    creation removes the whole link). ``want`` values of None are unmanaged.
    Returns the predicted view after the plan.
    """
    after = dict(current)
    where = nl.where

    def undoable(fn):
        return None if created else fn

    # every closure binds its values as default arguments: a plan's undo must restore the value
    # of its own step, not whatever a later step left in a shared variable
    for key, attr in (('mtu', 'mtu'), ('mac', 'address')):
        if want.get(key) is None or want[key] == current.get(key):
            continue
        plan.add('set %s of %s to %s in %s' % (key, name, want[key], where),
                 lambda attr=attr, value=want[key]: nl.set_link(name, **{attr: value}),
                 undoable(lambda attr=attr, value=current.get(key): nl.set_link(name, **{attr: value})))
        after[key] = want[key]
    # the alias: '' removes it (the kernel then reports none, as for a link that never had one)
    if want.get('alias') is not None and (want['alias'] or None) != current.get('alias'):
        if want['alias']:
            text = "set alias of %s to '%s' in %s" % (name, want['alias'], where)
        else:
            text = "remove alias '%s' of %s in %s" % (current.get('alias'), name, where)
        plan.add(text,
                 lambda value=want['alias']: nl.set_link(name, ifalias=value),
                 undoable(lambda value=current.get('alias') or '': nl.set_link(name, ifalias=value)))
        after['alias'] = want['alias'] or None
    if 'master' in want and want['master'] is not None and want['master'] != (current.get('master') or ''):
        old_master = current.get('master')
        bridge_macs = {}

        def set_master(master):
            # a bridge without a fixed MAC takes one of its ports' MACs: remember each bridge's
            # MAC so that the undo can give it back (a rollback must leave the bridge as it was)
            for br in (old_master, master):
                link = nl.link(br) if br else None
                if link is not None and br not in bridge_macs:
                    bridge_macs[br] = link['mac']
            nl.set_link(name, master=nl.index_of(master, 'bridge') if master else 0)

        def undo_master():
            nl.set_link(name, master=nl.index_of(old_master, 'bridge') if old_master else 0)
            for br, mac in bridge_macs.items():
                link = nl.link(br)
                if link is not None and link['mac'] != mac:
                    nl.set_link(br, address=mac)
        if want['master']:
            text = 'attach %s to bridge %s in %s' % (name, want['master'], where)
        else:
            text = 'detach %s from bridge %s in %s' % (name, old_master, where)
        # undone even on a link this plan creates: deleting the port alone would not give the
        # bridge its MAC back
        plan.add(text, lambda: set_master(want['master']), undo_master)
        after['master'] = want['master'] or None
    if want.get('addresses') is not None:
        plan_exclusive(
            plan, current.get('addresses') or [], want['addresses'], key=_address_key, undoable=not created,
            remove=lambda c: ('remove address %s from %s in %s' % (c, name, where),
                              lambda: nl.del_address(name, c), lambda: nl.add_address(name, c)),
            put=lambda c, _old: ('add address %s to %s in %s' % (c, name, where),
                                 lambda: nl.add_address(name, c), lambda: nl.del_address(name, c)))
        after['addresses'] = list(want['addresses'])
    if want.get('up') is not None and want['up'] != current.get('up'):
        plan.add('set %s %s in %s' % (name, 'up' if want['up'] else 'down', where),
                 lambda state='up' if want['up'] else 'down': nl.set_link(name, state=state),
                 undoable(lambda state='up' if current.get('up') else 'down': nl.set_link(name, state=state)))
        after['up'] = want['up']
    return after
