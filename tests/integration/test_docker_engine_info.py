"""docker_engine_info against real dockerd binaries: Debian 12's docker.io 20.10.24 (this machine's) and Debian 11's
20.10.5 (fetched from the Debian archive by scripts/consul-archive.sh, the way apt fetches it). Which cluster store
drivers each was built with decides whether docker_daemon may give it consul:// (Debian 12's has no consul driver)."""
import shutil
import subprocess
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hostnet.fabric.plugins.filter.docker_engine import docker_cluster_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def debian11_dockerd():
    proc = subprocess.run([str(REPO / 'scripts' / 'consul-archive.sh'), 'dockerd'], capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, 'could not fetch Debian 11 dockerd: %s' % proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]


def engine(ansible, bindir=None):
    task = {'name': 'engine', 'hostnet.fabric.docker_engine_info': {'docker_host': 'unix:///run/hftest-none.sock'},
            'check_mode': True}
    if bindir:
        task['environment'] = {'PATH': '%s:/usr/sbin:/usr/bin:/sbin:/bin' % bindir}
    res = ansible.play([task])[0]
    assert not res.get('failed') and res['changed'] is False, res.get('msg')
    return res['engine']


def test_debian_12_engine_has_no_consul_driver_and_consul_is_refused(ansible):
    if not shutil.which('dockerd'):
        pytest.fail('dockerd is not installed: scripts/setup.sh installs docker.io')
    facts = engine(ansible)
    assert facts['version'].startswith('20.10.') and facts['cluster_store_supported']
    assert facts['cluster_store_backends'] == ['boltdb', 'etcd', 'zookeeper']
    with pytest.raises(AnsibleFilterError, match='built without the consul:// driver'):
        docker_cluster_settings(facts, kv_backend='consul', kv_server='kv1')
    assert docker_cluster_settings(facts, kv_server='kv1', kv_address='10.0.0.5')['cluster_store'] == \
        'etcd://10.0.0.5:2379'


def test_debian_11_engine_has_the_consul_driver(ansible, debian11_dockerd, tmp_path):
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    (bindir / 'dockerd').symlink_to(debian11_dockerd)
    facts = engine(ansible, bindir)
    assert facts['version'] == '20.10.5'
    assert facts['cluster_store_backends'] == ['boltdb', 'consul', 'etcd', 'zookeeper']
    assert docker_cluster_settings(facts, kv_backend='consul', kv_server='kv1')['cluster_store'] == \
        'consul://127.0.0.1:8500'
