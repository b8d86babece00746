"""The molecule scenario consul's judge of a rolling restart (molecule/consul/quorum_watch.py): it must
fail on every way the quorum can be lost, so that its pass means something."""
import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    'quorum_watch', Path(__file__).resolve().parents[2] / 'molecule' / 'consul' / 'quorum_watch.py')
quorum_watch = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(quorum_watch)

S = 1000000  # microseconds


def unit(down, up):
    return {'ActiveExitTimestampMonotonic': str(down * S), 'ActiveEnterTimestampMonotonic': str(up * S)}


def record(good, bad=(), start=0, end=100):
    return {'start': start * S, 'end': end * S,
            'writes': sorted([[t * S, True] for t in good] + [[t * S, False] for t in bad])}


UNITS = {'s1': unit(10, 12), 's2': unit(30, 33), 's3': unit(50, 51)}


def test_a_clean_roll_passes():
    ok, lines = quorum_watch.verdict(record(good=[5, 20, 40, 60], bad=[11, 31]), UNITS)
    assert ok, lines
    assert lines[-1] == '4 of 6 writes committed'


@pytest.mark.parametrize('units, writes, message', [
    # a server restarted before the watch began (or never during it)
    (dict(UNITS, s3=unit(-5, -4)), [5, 20, 40, 60], 's3 was not restarted while the watch ran'),
    # s2 went down while s1 was still coming up
    (dict(UNITS, s2=unit(11, 13)), [5, 20, 40, 60], 's2 went down before s1 was up again: two servers down at once'),
    # nothing committed between s1 up and s2 down: the quorum was not back before the next restart
    (UNITS, [5, 40, 60], 'no write was committed between s1 up and s2 down: no quorum then'),
    (UNITS, [20, 40, 60], 'no write was committed before the first restart: no quorum then'),
    (UNITS, [5, 20, 40], 'no write was committed after the last restart: no quorum then'),
])
def test_a_lost_quorum_fails(units, writes, message):
    ok, lines = quorum_watch.verdict(record(good=writes), units)
    assert not ok
    assert lines[-1] == message


def test_judge_exits_with_the_rule_broken(capsys):
    import json
    with pytest.raises(SystemExit) as exc:
        quorum_watch.judge(json.dumps(record(good=[5, 40, 60])), json.dumps(UNITS))
    assert exc.value.code == 'no write was committed between s1 up and s2 down: no quorum then'
    assert 's1 down 10.0 s after the watch began, for 2.0 s' in capsys.readouterr().out
