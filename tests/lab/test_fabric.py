"""The native VXLAN fabric role (hostnet.fabric.vxlan_fabric) on the lab's real hosts and Docker engines
(Engine 20.10 on Debian 12, 26.1 on Debian 13): a container workload (the lab's `--network none` container, which
the role plugs in) and a `docker: true` segment (a local Docker bridge network per host on the segment's bridge).

The role runs alone (not site.yml) on the lab inventory, which carries both (scripts/lab.sh): the segment `fabric`
with each host's workload namespace and its container workload, the docker segment `hfdk`, and the firewall.
Assertions read the hosts' real state (tests/lab/fabric_checks.py, which test_site shares). At the end the role's
`vxlan_fabric_state: absent` removes all of it (the docker networks too) and the hosts must be as before, so that
the other lab tests of the session find the lab as `scripts/lab.sh up` left it."""
import pytest
import yaml

import fabric_checks

TEST_LABEL = 'hostnet.test=fabric'   # the containers this file starts, removed at the end


def play(state='present'):
    return [{
        'name': 'Native VXLAN fabric with a container workload and a docker segment',
        'hosts': 'fabric_hosts', 'gather_facts': False,
        'roles': [{'role': 'hostnet.fabric.vxlan_fabric', 'vars': {'vxlan_fabric_state': state}}],
    }]


def failures(data):
    return ['%s: %s: %s' % (h, t['task']['name'], r.get('msg')) for p in (data or {}).get('plays', [])
            for t in p['tasks'] for h, r in t['hosts'].items() if r.get('failed') and not r.get('ignore_errors')]


def changed(data):
    return sorted(set('%s: %s' % (h, t['task']['name']) for p in data['plays'] for t in p['tasks']
                      for h, r in t['hosts'].items() if r.get('changed')))


class Fabric(fabric_checks.Wanted):
    """The role's play on the lab, and what the lab inventory asks of it."""

    def __init__(self, lab, path):
        super().__init__(lab)
        self.path = path
        self.first = None

    def run(self, *args):
        return self.lab.playbook(self.path, *args)


def snapshot(lab, host):
    """What the role may touch, and what must be as before once it removed everything."""
    return lab.out(host, "ip -o link show | sed 's/^[0-9]*: //; s/@[^:]*:/:/' | awk '{ print $1 }' | sort; "
                         "ip netns list | awk '{ print $1 }' | sort; "
                         "docker network ls --format '{{.Name}}' | sort")


@pytest.fixture(scope='module')
def fabric(lab, tmp_path_factory):
    path = tmp_path_factory.mktemp('fabric') / 'fabric.yml'
    path.write_text(yaml.safe_dump(play(), sort_keys=False))
    absent = path.with_name('absent.yml')
    absent.write_text(yaml.safe_dump(play('absent'), sort_keys=False))
    before = {h: snapshot(lab, h) for h in lab.hosts}
    fab = Fabric(lab, path)
    fab.first = fab.run()
    try:
        yield fab
    finally:
        rc, data = lab.playbook(absent)
        for h in lab.hosts:
            lab.sh(h, 'docker ps -aq --filter label=%s | xargs -r docker rm -f >/dev/null; true' % TEST_LABEL,
                   check=False)
        assert rc == 0, failures(data)
        after = {h: snapshot(lab, h) for h in lab.hosts}
        assert after == before, 'vxlan_fabric_state=absent did not leave the hosts as before'


def test_converges_and_verifies_every_path(fabric):
    rc, data = fabric.first
    assert rc == 0, failures(data)
    # the role's own verification ran (a real run pings every path and fails on any miss)
    ran = [t['task']['name'] for p in data['plays'] for t in p['tasks']]
    assert any(n.endswith('Every path works') for n in ran), ran


def test_container_workload_is_plugged_in(fabric):
    assert fabric.first[0] == 0
    fabric_checks.container_workload_is_plugged_in(fabric.lab)


def test_containers_and_hosts_reach_each_other(fabric):
    assert fabric.first[0] == 0
    fabric_checks.containers_and_hosts_reach_each_other(fabric.lab)


def test_docker_network_on_every_host(fabric):
    assert fabric.first[0] == 0
    fabric_checks.docker_network_on_every_host(fabric.lab)


def test_docker_run_containers_on_different_hosts_reach_each_other(fabric):
    assert fabric.first[0] == 0
    fabric_checks.docker_run_containers_reach_each_other(fabric.lab, TEST_LABEL)


def test_second_run_changes_nothing(fabric):
    assert fabric.first[0] == 0
    rc, data = fabric.run()
    assert rc == 0, failures(data)
    assert changed(data) == []


def test_container_restart_is_healed_by_a_rerun(fabric):
    lab = fabric.lab
    assert fabric.first[0] == 0
    h = lab.hosts[-1]
    lab.sh(h, 'docker restart -t 0 %s' % fabric.container)
    # the restarted container has a new namespace with only lo: the fabric's interface stayed in the old one
    links = fabric.in_container(h, 'ip -o link show')
    assert [ln.split(':')[1].strip() for ln in links.splitlines()] == ['lo'], links
    # check mode predicts it: the name moves, and the veth it cannot plan is named
    rc, data = fabric.run('--check', '--diff')
    assert rc == 0, failures(data)
    predicted = changed(data)
    assert predicted == ['%s: hostnet.fabric.vxlan_fabric : Workload namespaces (a container\'s namespace is named, so '
                         'that the veth can be put into it)' % h], predicted
    notes = [r.get('msg') for p in data['plays'] for t in p['tasks'] for host, r in t['hosts'].items()
             if host == h and t['task']['name'].endswith('what depends on objects that do not exist yet cannot be planned')]
    assert notes and 'hfw-%s' % fabric.workload in notes[0], notes
    rc, data = fabric.run()
    assert rc == 0, failures(data)
    assert changed(data) == sorted([
        "%s: hostnet.fabric.vxlan_fabric : Workload namespaces (a container's namespace is named, so that the veth "
        "can be put into it)" % h,
        "%s: hostnet.fabric.vxlan_fabric : Workloads plugged into their segment's bridge (address, MAC from the "
        "address, default route via the host)" % h]), changed(data)
    fabric_checks.containers_and_hosts_reach_each_other(lab)
    # only the container's namespace and its veth pair were made again; nothing is left of the old ones
    assert lab.out(h, 'ip -o link show type veth | grep -c "hfw-%s"' % fabric.workload) == '1'
