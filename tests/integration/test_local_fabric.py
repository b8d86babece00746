"""playbooks/local_fabric.yml: the vxlan_fabric role on two namespace-hosts of this machine, then removed."""
import json
import os
import subprocess
import uuid

from conftest import BIN, REPO, ip_json, sh

PLAYBOOK = REPO / 'playbooks' / 'local_fabric.yml'
HAVE_PING_MODULE = (REPO / 'plugins' / 'modules' / 'netns_ping.py').exists()


def play(extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / 'ansible.cfg'), ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
               ANSIBLE_NOCOLOR='1')
    proc = subprocess.run([str(BIN / 'ansible-playbook'), str(PLAYBOOK), '-e', json.dumps(extra)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    data = json.loads(proc.stdout)
    return proc.returncode, data


def test_local_fabric_builds_pings_and_goes_away():
    prefix = 'hfl%s' % uuid.uuid4().hex[:5]
    extra = {'hostnet_demo_prefix': prefix, 'vxlan_fabric_verify': HAVE_PING_MODULE}
    if not HAVE_PING_MODULE:
        print('vxlan_fabric_verify is off: hostnet.fabric.netns_ping is not in this checkout yet')
    try:
        rc, data = play(extra)
        assert rc == 0, data['stats']
        # across the overlay, both ways, and from a host to the other host's workload
        for src, dst in (('h1-w', '10.42.0.33'), ('h2-w', '10.42.0.17'), ('h1', '10.42.0.33')):
            sh('ip', 'netns', 'exec', '%s-%s' % (prefix, src), 'ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '1422',
               dst)
        rc, data = play(extra)
        assert rc == 0 and all(s['changed'] == 0 for s in data['stats'].values()), data['stats']
        rc, data = play(dict(extra, hostnet_demo_state='absent'))
        assert rc == 0, data['stats']
    finally:
        left = [n['name'] for n in ip_json(None, 'netns', 'list') if n['name'].startswith(prefix + '-')]
        for name in left:
            sh('ip', 'netns', 'del', name, check=False)
    assert left == [], 'local_fabric.yml -e hostnet_demo_state=absent left namespaces behind'
