"""Proof that a rolling restart of the Consul servers keeps their quorum.

quorum_watch.py watch KEY STOP_FILE MAX_SECONDS
    On a lab host: writes KEY through the local agent (http://127.0.0.1:8500/v1/kv/KEY, token in
    $CONSUL_HTTP_TOKEN) every 0.5 s until STOP_FILE exists (at most MAX_SECONDS) and prints
    {"start": T, "end": T, "writes": [[T, ok], ...]}, T in microseconds of CLOCK_MONOTONIC: the clock of
    systemd's *TimestampMonotonic properties (the lab hosts share one kernel, so the servers' restart
    times compare with these). A KV write is committed by the Raft leader with a quorum of the servers:
    a successful write proves the quorum at that moment.

quorum_watch.py judge RECORD_JSON UNITS_JSON
    On the controller: UNITS_JSON is {server: the consul unit's systemd properties, read after the roll}
    (ActiveExitTimestampMonotonic: went down, ActiveEnterTimestampMonotonic: up again). Exit 0 only if every server was restarted while the watch ran,
    never two at once, and a write succeeded before the first restart, between each restart and the next,
    and after the last one (the quorum was back before the next server went down). Prints what it saw;
    exits 1 naming the first rule broken.
"""
import json
import os
import sys
import time
import urllib.request


def now():
    return int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6)


def write(url, token):
    req = urllib.request.Request(url, data=b'quorum', method='PUT', headers={'X-Consul-Token': token})
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return resp.status == 200 and resp.read().strip() == b'true'
    except Exception:  # an error of any kind is a failed write, recorded as such
        return False


def watch(key, stop_file, max_seconds):
    url = 'http://127.0.0.1:8500/v1/kv/' + key
    token = os.environ['CONSUL_HTTP_TOKEN']
    start = now()
    writes = []
    while not os.path.exists(stop_file) and now() - start < int(max_seconds) * 1e6:
        at = now()
        writes.append([at, write(url, token)])
        time.sleep(max(0.0, 0.5 - (now() - at) / 1e6))
    print(json.dumps({'start': start, 'end': now(), 'writes': writes}))


def verdict(record, units):
    """(ok, lines): the rules of the module docstring, applied."""
    lines = []
    windows = sorted((int(u['ActiveExitTimestampMonotonic']), int(u['ActiveEnterTimestampMonotonic']), name)
                     for name, u in units.items())
    for down, up, name in windows:
        lines.append('%s down %.1f s after the watch began, for %.1f s'
                     % (name, (down - record['start']) / 1e6, (up - down) / 1e6))
        if not record['start'] < down < up < record['end']:
            return False, lines + ['%s was not restarted while the watch ran' % name]
    for (_d1, up1, name1), (down2, _u2, name2) in zip(windows, windows[1:]):
        if down2 <= up1:
            return False, lines + ['%s went down before %s was up again: two servers down at once' % (name2, name1)]
    good = [at for at, ok in record['writes'] if ok]
    lines.append('%d of %d writes committed' % (len(good), len(record['writes'])))
    bounds = [(record['start'], windows[0][0], 'before the first restart')]
    bounds += [(up1, down2, 'between %s up and %s down' % (n1, n2))
               for (_d, up1, n1), (down2, _u, n2) in zip(windows, windows[1:])]
    bounds.append((windows[-1][1], record['end'], 'after the last restart'))
    for low, high, where in bounds:
        if not any(low < at < high for at in good):
            return False, lines + ['no write was committed %s: no quorum then' % where]
    return True, lines


def judge(record_json, units_json):
    ok, lines = verdict(json.loads(record_json), json.loads(units_json))
    print('\n'.join(lines))
    if not ok:
        sys.exit(lines[-1])


if __name__ == '__main__':
    {'watch': watch, 'judge': judge}[sys.argv[1]](*sys.argv[2:])
