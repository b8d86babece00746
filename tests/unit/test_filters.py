import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hostnet.fabric.plugins.filter.network import private_address


@pytest.mark.parametrize('value, private', [
    ('10.0.0.5', True), ('172.16.0.1', True), ('192.168.1.1/24', True), ('100.64.0.1', True),
    ('127.0.0.1', True), ('fd00::1', True), ('fe80::1', True),
    ('8.8.8.8', False), ('203.0.114.1', False), ('2001:4860::1', False), ('0.0.0.0', False),
])
def test_private_address(value, private):
    assert private_address(value) is private


def test_private_address_rejects_non_addresses():
    with pytest.raises(AnsibleFilterError, match="'eth0' is not an IP address"):
        private_address('eth0')
