# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hostnet.fabric maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: ping_matrix
short_description: Turn connectivity results into an aligned table (rows from, columns to) and the list of misses
version_added: 0.1.0
description:
  - The one renderer of connectivity matrices in hostnet.fabric. The roles' verifications (the docker_overlay
    probes, the native fabric) and the tests print their results with it.
  - Each result is one path. A cell is the result's O(_input[].status) when given, else V(ok) when O(_input[].ok) is
    true (or O(_input[].rc) is 0), else V(MISS). A pair with no result shows V(-).
  - "A cell other than V(ok) is a miss; RV(_value.misses) names each one as C(FROM -> TO: STATUS), so that a
    failing task can name the pair."

positional: _input
options:
  _input:
    description:
      - The results, one per path.
    type: list
    elements: dict
    required: true
    suboptions:
      from:
        description: Where the probe ran (a row).
        type: str
        required: true
      to:
        description: What it tried to reach (a column).
        type: str
        required: true
      ok:
        description: Whether the path works.
        type: bool
      rc:
        description: Exit code of the probe; 0 means the path works. Used when O(_input[].ok) is not given.
        type: int
      status:
        description: The cell's text, overriding O(_input[].ok) and O(_input[].rc) (for example V(MTU) for a path
          that passes small packets but not full-size ones). Anything but V(ok) counts as a miss.
        type: str
  title:
    description: A heading line put above the table.
    type: str
    default: ''
  rows:
    description: Row names in the wanted order (default - the order of first appearance in the results).
    type: list
    elements: str
  columns:
    description: Column names in the wanted order (default - names that are also rows in the rows' order, then the
      others in the order of first appearance in the results).
    type: list
    elements: str
author:
  - hostnet.fabric maintainers (@hostnet)
'''

EXAMPLES = r'''
- name: Print a matrix and fail naming every miss
  vars:
    matrix: "{{ pings | hostnet.fabric.ping_matrix(title='ov_net1 (kvstore)') }}"
  block:
    - name: Connectivity
      ansible.builtin.debug:
        msg: "{{ matrix.lines }}"
    - name: Every path works
      ansible.builtin.assert:
        that: matrix.misses | length == 0
        fail_msg: "unreachable: {{ matrix.misses | join('; ') }}"
'''

RETURN = r'''
_value:
  description: The table and what it found.
  type: dict
  contains:
    table:
      description: The aligned table as one text (title, header, a line per row).
      type: str
      sample: "ov_net1\nfrom \\ to  h1  h2\nh1         -   ok\nh2         ok  -"
    lines:
      description: The same, a line per list element (readable in any stdout callback).
      type: list
      elements: str
    misses:
      description: "Every cell that is not V(ok), as C(FROM -> TO: STATUS), in table order."
      type: list
      elements: str
    paths:
      description: How many paths (distinct from/to pairs) were tested.
      type: int
    ok:
      description: True when there are results and none is a miss.
      type: bool
'''

from ansible.errors import AnsibleFilterError

CORNER = 'from \\ to'
NO_RESULT = '-'
OK = 'ok'
MISS = 'MISS'


def _text(value, what, index):
    if value is None or isinstance(value, (dict, list, bool)):
        raise AnsibleFilterError('ping_matrix: result %d: %s must be a name (got %r)' % (index, what, value))
    return str(value)


def _status(result, index):
    if result.get('status') is not None:
        return str(result['status'])
    if result.get('ok') is not None:
        return OK if result['ok'] else MISS
    if result.get('rc') is not None:
        try:
            return OK if int(result['rc']) == 0 else MISS
        except (TypeError, ValueError):
            raise AnsibleFilterError('ping_matrix: result %d: rc must be an integer (got %r)' % (index, result['rc']))
    raise AnsibleFilterError('ping_matrix: result %d (%s -> %s) has none of status, ok, rc'
                             % (index, result.get('from'), result.get('to')))


def _ordered(wanted, seen):
    out = list(wanted or [])
    out.extend(name for name in seen if name not in out)
    return out


def ping_matrix(results, title='', rows=None, columns=None):
    if not isinstance(results, (list, tuple)):
        raise AnsibleFilterError('ping_matrix: expects a list of results (got %s)' % type(results).__name__)
    cells = {}
    seen_rows, seen_cols = [], []
    for index, result in enumerate(results):
        if not isinstance(result, dict):
            raise AnsibleFilterError('ping_matrix: result %d must be a dict (got %r)' % (index, result))
        src = _text(result.get('from'), 'from', index)
        dst = _text(result.get('to'), 'to', index)
        status = _status(result, index)
        if (src, dst) in cells and cells[(src, dst)] != status:
            # two results for one path: the worse one stands (a path is ok only if every probe of it was)
            status = cells[(src, dst)] if status == OK else status
        cells[(src, dst)] = status
        if src not in seen_rows:
            seen_rows.append(src)
        if dst not in seen_cols:
            seen_cols.append(dst)
    row_names = _ordered(rows, seen_rows)
    # columns that are also rows come in the rows' order, so that the diagonal is the diagonal
    col_names = _ordered(columns or [name for name in row_names if name in seen_cols], seen_cols)

    table = [[CORNER] + col_names]
    misses = []
    for src in row_names:
        line = [src]
        for dst in col_names:
            status = cells.get((src, dst), NO_RESULT)
            line.append(status)
            if status not in (OK, NO_RESULT):
                misses.append('%s -> %s: %s' % (src, dst, status))
        table.append(line)
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = ['  '.join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in table]
    if title:
        summary = '%d path%s, %s' % (len(cells), '' if len(cells) == 1 else 's',
                                     'all ok' if cells and not misses else '%d MISSING' % len(misses)
                                     if misses else 'nothing tested')
        lines.insert(0, '%s: %s' % (title, summary))
    return {
        'table': '\n'.join(lines),
        'lines': lines,
        'misses': misses,
        'paths': len(cells),
        'ok': bool(cells) and not misses,
    }


class FilterModule(object):
    def filters(self):
        return {'ping_matrix': ping_matrix}
