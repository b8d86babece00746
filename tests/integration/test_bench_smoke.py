"""A smoke run of bench/run.py at small N: the runner works end to end and writes what it prints.
No timing is asserted here (the figures are read from a full run; see the README)."""
import json
import subprocess
import sys

from conftest import REPO, ip_json


def test_bench_runner_smoke(tmp_path):
    out = tmp_path / 'bench.json'
    proc = subprocess.run([sys.executable, str(REPO / 'bench' / 'run.py'), '--only', 'B1,B2,B3,B4',
                           '--sizes', '20,40', '--rounds', '1', '--json', str(out)],
                          capture_output=True, text=True, timeout=1200, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    b1 = data['groups']['B1']
    assert [row['case'] for row in b1['cases']] == ['20 peers, create', '40 peers, create', '40 fdb, create',
                                                    '40 neigh, create']
    for row in b1['cases']:
        for key in ('module_process_s', 'batch_tool_us_per_entry', 'pyroute2_per_call_us_per_entry'):
            assert len(row[key]['cpu']['runs']) == 1 and row[key]['wall']['min'] > 0, (row['case'], key)
        assert row['peak_rss_kib']['min'] > 0
    assert [row['case'] for row in b1['noop']] == ['40 peers, no-op re-run', '40 fdb, no-op re-run',
                                                   '40 neigh, no-op re-run']
    assert set(b1['targets']) and b1['targets_measure'] == 'cpu'
    b2 = data['groups']['B2']
    assert [row['module'] for row in b2['modules']] == ['netns', 'bridge', 'veth', 'vxlan', 'netns_info']
    assert b2['ping']['seconds']['wall']['min'] > 0
    # what was not measured is said so, in the JSON and in the table
    assert set(data['not_measured']) == {'B3', 'B4'}
    assert 'B3: NOT MEASURED' in proc.stdout and '| 40 fdb, create |' in proc.stdout
    # and the runner left no namespace behind
    assert not [n for n in ip_json(None, 'netns', 'list') if n['name'].startswith(data['namespace_prefix'])]
