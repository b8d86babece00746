"""A smoke run of bench/run.py at small N: the runner works end to end and writes what it prints.
No timing is asserted here (the figures are read from a full run; see the README)."""
import json
import subprocess
import sys

from conftest import REPO, ip_json


def test_bench_runner_smoke(tmp_path):
    out = tmp_path / 'bench.json'
    proc = subprocess.run([sys.executable, str(REPO / 'bench' / 'run.py'), '--only', 'B1,B2,B3,B4',
                           '--sizes', '20,40', '--hosts', '2', '--rounds', '1', '--iperf-seconds', '1',
                           '--json', str(out)],
                          capture_output=True, text=True, timeout=1800, check=False)
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
    # B3: the role on 2 namespace hosts (the runner checked: the converge changed something, the re-run nothing),
    # beside a play of as many no-op tasks
    b3 = data['groups']['B3']
    assert [row['hosts'] for row in b3['rows']] == [2]
    row = b3['rows'][0]
    assert row['tasks'] == len(row['task_names']) == len(row['task_actions']) > row['module_tasks'] > 0
    for key in ('converge_s', 'rerun_s', 'noop_play_s', 'noop_matched_play_s', 'rerun_vs_noop', 'converge_vs_noop',
                'rerun_vs_noop_matched'):
        assert len(row[key]['cpu']['runs']) == 1 and row[key]['cpu']['min'] > 0 and row[key]['wall']['min'] > 0, key
    assert set(b3['targets']['idempotent re-run at most 2x the no-op play']) == {'2 hosts'}
    # B4: iperf3 through the fabric and on the underlay; the fabric's MTU leaves room for the VXLAN header
    b4 = data['groups']['B4']
    assert b4['underlay_gbps']['min'] > 0 and b4['fabric_gbps']['min'] > 0 and b4['fabric_vs_underlay']['min'] > 0
    assert b4['mtu']['fabric'] <= b4['mtu']['underlay'] - 50, b4['mtu']
    assert '| 40 fdb, create |' in proc.stdout and '| 2 | %d (%d) |' % (row['tasks'], row['module_tasks']) in proc.stdout
    assert '| fabric / underlay |' in proc.stdout
    assert data['not_measured'] == {}
    # and the runner left no namespace behind
    assert not [n for n in ip_json(None, 'netns', 'list') if n['name'].startswith(data['namespace_prefix'])]
