"""An in-memory stand-in for module_utils._netlink.Netlink, for the decision logic only.

Real kernel behaviour is covered by tests/integration; this fake only records calls and keeps
enough state for planning code to read back what it wrote.
"""
from ansible_collections.hostnet.fabric.plugins.module_utils._netlink import NamespaceNotFound, NotFound


class FakeNetlink:
    def __init__(self, netns=None, links=None):
        self.netns = netns
        self.calls = []
        self._links = {}
        self._fdb = {}
        self._neigh = {}
        self._addrs = {}
        self.gateway = None
        self.fail_on = None
        for link in links or []:
            self.put(**link)

    @property
    def where(self):
        return "namespace '%s'" % self.netns if self.netns else 'the current namespace'

    def put(self, ifname, kind, **kw):
        index = kw.pop('index', len(self._links) + 1)
        link = {'index': index, 'ifname': ifname, 'kind': kind, 'mtu': 1500, 'mac': '02:00:00:00:00:%02x' % index,
                'up': False, 'operstate': 'DOWN', 'master_index': None, 'link_index': None, 'link_netnsid': None,
                'info': {}}
        link.update(kw)
        self._links[ifname] = link
        return link

    def _call(self, name, *args):
        self.calls.append((name,) + args)
        if self.fail_on and self.fail_on == name:
            raise NotFound('%s failed (injected)' % name)

    def links(self):
        return list(self._links.values())

    def link(self, ifname=None, index=None):
        if index is not None:
            return next((x for x in self._links.values() if x['index'] == index), None)
        return self._links.get(ifname)

    def name_of(self, index):
        link = self.link(index=index) if index else None
        return link['ifname'] if link else None

    def index_of(self, ifname, what=None):
        if ifname not in self._links:
            raise NotFound("%s '%s' does not exist" % (what or 'interface', ifname))
        return self._links[ifname]['index']

    def add_link(self, ifname, kind, **kw):
        self._call('add_link', ifname, kind, kw)
        self.put(ifname, kind)

    def set_link(self, ifname, **kw):
        self._call('set_link', ifname, kw)

    def del_link(self, ifname):
        self._call('del_link', ifname)
        self._links.pop(ifname, None)

    def addresses(self, index):
        return list(self._addrs.get(index, []))

    def add_address(self, ifname, cidr):
        self._call('add_address', ifname, cidr)

    def del_address(self, ifname, cidr):
        self._call('del_address', ifname, cidr)

    def fdb(self, index):
        return list(self._fdb.get(index, []))

    def fdb_append(self, ifname, mac, dst):
        self._call('fdb_append', ifname, mac, dst)

    def fdb_del(self, ifname, mac, dst):
        self._call('fdb_del', ifname, mac, dst)

    def neighbours(self, index):
        return list(self._neigh.get(index, []))

    def neigh_set(self, ifname, ip, mac):
        self._call('neigh_set', ifname, ip, mac)

    def neigh_del(self, ifname, ip):
        self._call('neigh_del', ifname, ip)

    def apply_batch(self, ifname, requests):
        """Like Netlink.apply_batch: every request tried, one result per request (None or the error)."""
        results = []
        for op, mac, ip in requests:
            try:
                if op in ('fdb_append', 'fdb_del'):
                    getattr(self, op)(ifname, mac, ip)
                elif op == 'neigh_set':
                    self.neigh_set(ifname, ip, mac)
                else:
                    self.neigh_del(ifname, ip)
            except Exception as exc:  # pylint: disable=broad-except
                results.append(exc)
            else:
                results.append(None)
        return results

    def default_gateway(self, family=4):
        return self.gateway

    def set_default_gateway(self, gw):
        self._call('set_default_gateway', gw)

    def del_default_gateway(self, gw):
        self._call('del_default_gateway', gw)

    def view(self, link):
        from ansible_collections.hostnet.fabric.plugins.module_utils._netlink import Netlink
        return Netlink.view(self, link)


class FakeNamespaces:
    def __init__(self, **by_name):
        self.by_name = {None if k == 'root' else k: v for k, v in by_name.items()}

    def __call__(self, name=None):
        if name not in self.by_name:
            raise NamespaceNotFound("network namespace '%s' does not exist" % name)
        return self.by_name[name]
