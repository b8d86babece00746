# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to hostnet.fabric: not a public API, may change without notice.
#
# The Ansible side of every netlink module: builds the AnsibleModule and runs the one shared
# skeleton
#     validate input -> read current state -> plan (compare only options the user set)
#     -> apply unless check mode (rolling back on failure) -> read back -> report
# Modules provide validate(), read() and converge(); nothing else differs between them, so
# check mode can never take a separate decision path.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hostnet.fabric.plugins.module_utils._netlink import (
    PYROUTE2_IMPORT_ERROR,
    PYROUTE2_MIN_VERSION,
    Netlink,
    NetlinkOpError,
    pyroute2_too_old,
)
from ansible_collections.hostnet.fabric.plugins.module_utils._plan import ApplyError, Plan
from ansible_collections.hostnet.fabric.plugins.module_utils._validate import ValidationError, netns_name


class FabricError(Exception):
    """A refusal decided by the module (conflict, immutable attribute ...): nothing was changed."""


class Namespaces(object):
    """Lazily opened netlink sockets, one per namespace (None = the one Ansible runs in)."""

    def __init__(self):
        self._open = {}

    def __call__(self, name=None):
        if name not in self._open:
            self._open[name] = Netlink(name)
        return self._open[name]

    def forget(self, name):
        nl = self._open.pop(name, None)
        if nl is not None:
            nl.close()

    def close(self):
        for name in list(self._open):
            self.forget(name)


# The options every link module shares, declared once (their documentation is the one fragment
# hostnet.fabric.common.link, plus each module's own words for name, state and master). A module
# merges them into its own argument_spec with link_argument_spec().
LINK_ARGUMENT_SPEC = dict(
    name=dict(type='str', required=True),
    netns=dict(type='str'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    mtu=dict(type='int'),
    mac=dict(type='str'),
    alias=dict(type='str'),
    master=dict(type='str'),
    addresses=dict(type='list', elements='str'),
    up=dict(type='bool', default=True),
)


def link_argument_spec(without=(), **own):
    """The shared link options (less those named in ``without``) merged with the module's ``own``."""
    unknown = set(without) - set(LINK_ARGUMENT_SPEC)
    if unknown:
        raise KeyError('not a shared link option: %s' % ', '.join(sorted(unknown)))
    spec = dict((k, copy.deepcopy(v)) for k, v in LINK_ARGUMENT_SPEC.items() if k not in without)
    spec.update(own)
    return spec


def read_link(nl, name, kind, what=None):
    """The decoded link ``name`` (or None); a link of another kind is an error, never touched."""
    link = nl.link(name)
    if link is not None and link['kind'] != kind:
        raise FabricError("name: '%s' in %s is a %s interface, not a %s; it was left untouched"
                          % (name, nl.where, link['kind'] or 'physical', what or kind))
    return link


def fabric_module(argument_spec, **kwargs):
    kwargs.setdefault('supports_check_mode', True)
    module = AnsibleModule(argument_spec=argument_spec, **kwargs)
    if PYROUTE2_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib('pyroute2'),
                         exception=''.join(traceback.format_exception_only(type(PYROUTE2_IMPORT_ERROR),
                                                                           PYROUTE2_IMPORT_ERROR)))
    old = pyroute2_too_old()
    if old:
        module.fail_json(msg='pyroute2 >= %s is required on the managed host, found %s (pip install "pyroute2>=0.9")'
                         % ('.'.join(str(x) for x in PYROUTE2_MIN_VERSION), old))
    return module


def validate_netns_params(params, *names):
    for name in names:
        if params.get(name) is not None:
            netns_name(name, params[name])


def run(module, key, validate, read, converge):
    """The shared skeleton. ``key`` names the result field holding the object's state.

    validate(params) -> params (normalised) or raises ValidationError
    read(nss, params) -> the object's public state (None when absent)
    converge(nss, params, before, plan) -> predicted state after the plan
    """
    try:
        params = validate(dict(module.params))
    except ValidationError as exc:
        module.fail_json(msg=str(exc), param=exc.param)
    nss = Namespaces()
    plan = Plan()
    try:
        before = read(nss, params)
        predicted = converge(nss, params, before, plan)
        if plan and not module.check_mode:
            plan.apply()
            after = read(nss, params)
        else:
            after = predicted if plan else before
    except ApplyError as exc:
        module.fail_json(msg=str(exc), actions=plan.texts, failed_action=exc.failed,
                         rolled_back=exc.rolled_back, rollback_errors=exc.rollback_errors)
    except ValidationError as exc:
        module.fail_json(msg=str(exc), param=exc.param)
    except (FabricError, NetlinkOpError) as exc:
        module.fail_json(msg=str(exc), actions=plan.texts)
    finally:
        nss.close()
    result = {'changed': bool(plan), 'actions': plan.texts, key: after}
    if module._diff:
        result['diff'] = {'before': before or {}, 'after': after or {}}
    module.exit_json(**result)
