"""The lab itself: real systemd machines with their own Docker engines on one underlay.

Everything is read back from the hosts (docker exec), not taken from what lab.sh printed.
"""
import ipaddress
import json
import uuid

import pytest
import yaml


def test_each_host_has_its_own_hostname_and_machine_id(lab):
    assert len(lab.hosts) >= 1
    names = [lab.out(h, 'hostname') for h in lab.hosts]
    assert names == lab.hosts, 'the hostname of each host is its inventory name'
    ids = [lab.out(h, 'cat /etc/machine-id') for h in lab.hosts]
    assert all(len(i) == 32 for i in ids), ids
    assert len(set(ids)) == len(ids), 'hosts share a machine-id: %s' % ids


def test_systemd_is_pid1_and_the_system_is_running(lab):
    for h in lab.hosts:
        assert lab.out(h, 'cat /proc/1/comm') == 'systemd', h
        state = lab.sh(h, 'systemctl is-system-running', check=False).stdout.strip()
        failed = lab.out(h, 'systemctl --failed --no-legend --plain')
        assert state in ('running', 'degraded'), '%s: %s (failed units: %s)' % (h, state, failed)


def test_docker_service_is_active_with_the_distros_engine(lab):
    for h in lab.hosts:
        assert lab.out(h, 'systemctl is-active docker.service') == 'active', h
        version = lab.out(h, "docker version --format '{{.Server.Version}}'")
        assert version.startswith(lab.engine_series), '%s: Docker Engine %s on %s' % (h, version, lab.distro)
        # the inner engine keeps its data on a volume, so it can use overlay2 (not vfs)
        assert lab.out(h, "docker info --format '{{.Driver}}'") == 'overlay2', h


def test_pyroute2_for_the_collections_modules(lab):
    for h in lab.hosts:
        version = lab.out(h, "python3 -c 'import pyroute2; print(pyroute2.__version__)'")
        assert tuple(int(x) for x in version.split('.')[:2]) >= (0, 9), '%s: pyroute2 %s' % (h, version)


def test_probe_image_is_loaded_and_reaches_the_next_host(lab):
    ips = [lab.hostvars(h)['hostnet_underlay_ip'] for h in lab.hosts]
    for i, h in enumerate(lab.hosts):
        assert lab.out(h, "docker image inspect --format '{{.Id}}' hostnet/probe:latest").startswith('sha256:'), h
        target = ips[(i + 1) % len(ips)]
        res = lab.sh(h, 'docker run --rm hostnet/probe:latest ping -c 1 -W 3 %s' % target, check=False)
        assert res.returncode == 0, '%s: a probe container cannot ping %s:\n%s%s' % (h, target, res.stdout, res.stderr)


def test_underlay_addresses_match_the_inventory(lab):
    subnet = ipaddress.ip_network(lab.subnet)
    seen = set()
    for h in lab.hosts:
        hv = lab.hostvars(h)
        ip, iface = hv['hostnet_underlay_ip'], hv['hostnet_underlay_iface']
        assert ipaddress.ip_address(ip) in subnet, (h, ip, lab.subnet)
        assert ip not in seen, 'two hosts with underlay address %s' % ip
        seen.add(ip)
        addrs = json.loads(lab.out(h, 'ip -j -4 addr show dev %s' % iface))
        assert ip in [a['local'] for a in addrs[0]['addr_info']], '%s: %s does not hold %s' % (h, iface, ip)
        mtu = lab.inventory_data['all']['vars']['hostnet_underlay_mtu']
        assert addrs[0]['mtu'] == mtu, (h, addrs[0]['mtu'], mtu)


def test_hosts_ping_each_other_on_the_underlay(lab):
    for src in lab.hosts:
        for dst in lab.hosts:
            if src == dst:
                continue
            ip = lab.hostvars(dst)['hostnet_underlay_ip']
            res = lab.sh(src, 'ping -c 1 -W 3 -I %s %s' % (lab.hostvars(src)['hostnet_underlay_iface'], ip),
                         check=False)
            assert res.returncode == 0, '%s cannot ping %s (%s):\n%s' % (src, dst, ip, res.stdout)
            # and by name (the outer engine's DNS on the underlay network)
            assert lab.sh(src, 'ping -c 1 -W 3 %s' % dst, check=False).returncode == 0, (src, dst)


def test_inventory_groups(lab):
    assert lab.group('kv_servers') == lab.hosts[:1]
    assert lab.group('docker_hosts') == lab.hosts
    assert lab.group('fabric_hosts') == lab.hosts
    v = lab.inventory_data['all']['vars']
    assert v['ansible_connection'] == 'community.docker.docker'
    assert v['ansible_docker_extra_args'] == '-H %s' % lab.docker_host
    assert v['hostnet_lab_distro'] == lab.distro


PLAY = [{
    'name': 'Every lab host answers through the generated inventory',
    'hosts': 'all',
    'gather_facts': True,
    'tasks': [
        {'name': 'Ping', 'ansible.builtin.ping': {}},
        {'name': 'The facts are those of the host itself', 'ansible.builtin.assert': {'that': [
            'ansible_facts.hostname == inventory_hostname',
            'ansible_facts.service_mgr == "systemd"',
            'hostnet_underlay_ip in ansible_facts.all_ipv4_addresses',
            'ansible_facts[hostnet_underlay_iface].ipv4.address == hostnet_underlay_ip',
            'ansible_facts.distribution_release == hostnet_lab_distro',
        ]}},
        {'name': 'Read docker.service through systemd', 'ansible.builtin.systemd_service': {'name': 'docker'},
         'register': 'unit'},
        {'name': 'It is active', 'ansible.builtin.assert': {'that': ['unit.status.ActiveState == "active"']}},
        {'name': "The collection's own modules run on the host", 'hostnet.fabric.bridge': {'name': 'hflabtest0'},
         'register': 'made'},
        {'name': 'The kernel of the host has it', 'ansible.builtin.command': 'ip -d link show hflabtest0',
         'register': 'kernel', 'changed_when': False},
        {'name': 'Remove it', 'hostnet.fabric.bridge': {'name': 'hflabtest0', 'state': 'absent'}, 'register': 'gone'},
        {'name': 'Created and removed', 'ansible.builtin.assert': {'that': [
            'made is changed', "' bridge ' in kernel.stdout", 'gone is changed']}},
    ],
}]


def test_ansible_reaches_every_host(lab, tmp_path):
    playbook = tmp_path / 'reach.yml'
    playbook.write_text(yaml.safe_dump(PLAY, sort_keys=False))
    rc, data = lab.playbook(playbook)
    assert data is not None, 'ansible-playbook printed no JSON (rc %s)' % rc
    stats = data['stats']
    assert sorted(stats) == sorted(lab.hosts), stats
    for h, s in stats.items():
        assert s['unreachable'] == 0 and s['failures'] == 0 and s['ok'] >= 8, (h, s)
    assert rc == 0


def test_status_reports_the_lab(lab, lab_sh):
    res = lab_sh('status', '--name', lab.name)
    assert res.returncode == 0, res.stdout + res.stderr
    for h in lab.hosts:
        line = [x for x in res.stdout.splitlines() if x.split()[:1] == [h]]
        assert line and 'docker.service active' in line[0], res.stdout
    assert lab_sh('status', '--name', 'no-such-lab').returncode == 3


def _leftovers(lab, name):
    """Everything lab.sh could have made for the lab NAME on the lab's engine and in the checkout."""
    found = {}
    for kind, cmd in (('containers', ['ps', '-aq']), ('networks', ['network', 'ls', '-q']),
                      ('volumes', ['volume', 'ls', '-q'])):
        ids = lab.docker(*cmd, '--filter', 'label=io.hostnet.lab=%s' % name).stdout.split()
        if ids:
            found[kind] = ids
    for kind, cmd in (('containers', ['ps', '-aq', '--filter', 'name=hflab-%s-' % name]),
                      ('networks', ['network', 'ls', '-q', '--filter', 'name=hflab-%s' % name])):
        ids = lab.docker(*cmd).stdout.split()
        if ids:
            found.setdefault(kind, []).extend(ids)
    if (lab.repo / '.lab' / name).exists():
        found['files'] = ['.lab/%s' % name]
    return found


def test_a_second_lab_does_not_collide(lab, lab_sh):
    other = 'pt-2nd-%s' % uuid.uuid4().hex[:6]
    res = lab_sh('up', '--name', other, '--hosts', 1, '--distro', lab.distro)
    try:
        assert res.returncode == 0, res.stderr
        inv = yaml.safe_load((lab.repo / '.lab' / other / 'inventory.yml').read_text())
        (host,) = inv['all']['hosts']
        assert host == 'hflab-%s-1' % other and host not in lab.hosts
        subnet = ipaddress.ip_network(inv['all']['vars']['hostnet_underlay_subnet'])
        assert not subnet.overlaps(ipaddress.ip_network(lab.subnet))
        # the labs' underlays are isolated from each other
        first_ip = lab.hostvars(lab.hosts[0])['hostnet_underlay_ip']
        assert lab.sh(host, 'ping -c 1 -W 2 %s' % first_ip, check=False).returncode != 0
    finally:
        down = lab_sh('down', '--name', other)
    assert down.returncode == 0, down.stderr
    assert _leftovers(lab, other) == {}
    # the session lab is untouched and its engine still runs
    assert lab_sh('status', '--name', lab.name).returncode == 0


@pytest.mark.parametrize('why, env, message', [
    ('hosts never become ready', {'HOSTNET_LAB_BOOT_TIMEOUT': '0'}, 'did not boot'),
    ('no free underlay subnet', {'HOSTNET_LAB_POOL': 'SESSION_SUBNET'}, 'no free /24'),
])
def test_a_failed_up_leaves_nothing_and_says_why(lab, lab_sh, why, env, message):
    name = 'pt-bad-%s' % uuid.uuid4().hex[:6]
    env = {k: (lab.subnet if v == 'SESSION_SUBNET' else v) for k, v in env.items()}
    res = lab_sh('up', '--name', name, '--hosts', 2, '--distro', lab.distro, env=env)
    assert res.returncode != 0, why
    assert message in res.stderr, res.stderr
    assert "nothing of it is left running" in res.stderr, res.stderr
    assert _leftovers(lab, name) == {}
    assert lab_sh('status', '--name', lab.name).returncode == 0


@pytest.mark.parametrize('args, message', [
    (['up', '--name', 'Bad_Name'], '--name: must be'),
    (['up', '--name', 'x' * 21], '--name: must be'),
    (['up', '--hosts', '0'], '--hosts: must be a number in 1..50'),
    (['up', '--distro', 'sid'], '--distro: must be one of bookworm trixie'),
    (['frobnicate'], "unknown command 'frobnicate'"),
])
def test_bad_arguments_are_refused_before_anything_is_made(lab_sh, args, message):
    res = lab_sh(*args)
    assert res.returncode != 0
    assert message in res.stderr, res.stderr
