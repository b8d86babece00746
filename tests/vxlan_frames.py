"""Send and receive VXLAN test frames (standalone, stdlib only: the lab test copies it onto the lab hosts).

  send SRC DST VNI MARKER [PORT]   one VXLAN packet from underlay address SRC to DST:PORT (default 4789) carrying
                                   an Ethernet broadcast of ethertype 0x88b5 (local experimental) whose payload is
                                   MARKER
  listen IFNAME                    print "ready", then the MARKER of every such frame IFNAME receives, one per line,
                                   until stdin closes (and one more second for what is still on its way)

The frames tell the tests which VXLAN packets the kernel decapsulated: a frame a firewall dropped never shows up
on the VXLAN device. Used by tests/integration/test_fabric_firewall.py and tests/lab/test_fabric_firewall.py, which
import delivered() (the listener's protocol, from the controller) from here."""
import select
import socket
import struct
import subprocess
import sys

ETHERTYPE = 0x88b5
ETH_P_ALL = 0x0003
INNER_SRC = b'\x02\x00\x5e\x10\x00\x01'


def frame(vni, marker):
    inner = b'\xff' * 6 + INNER_SRC + struct.pack('!H', ETHERTYPE) + marker.encode().ljust(46, b'\0')
    return struct.pack('!B3xI', 0x08, vni << 8) + inner


def send(src, dst, vni, marker, port=4789):
    family = socket.AF_INET6 if ':' in dst else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind((src, 0))
        sock.sendto(frame(int(vni), marker), (dst, int(port)))
    finally:
        sock.close()


def markers(data):
    if len(data) < 14 or struct.unpack('!H', data[12:14])[0] != ETHERTYPE or data[6:12] != INNER_SRC:
        return None
    return data[14:].rstrip(b'\0').decode(errors='replace')


def listen(ifname):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((ifname, 0))
    print('ready', flush=True)
    closing = False
    while True:
        ready = select.select([sock] + ([] if closing else [sys.stdin]), [], [], 1.0 if closing else None)[0]
        if not ready:
            return
        if sock in ready:
            seen = markers(sock.recv(65535))
            if seen is not None:
                print(seen, flush=True)
        if sys.stdin in ready and not sys.stdin.readline():
            closing = True


def delivered(listen_cmd, send_all, timeout):
    """Run the listener protocol from the controller: start LISTEN_CMD (a `listen IFNAME` run, in whatever
    namespace or lab host it runs), wait for its "ready", call SEND_ALL() (which sends the test frames), close the
    listener's stdin and return the sorted distinct markers it received. Raises AssertionError, with what the
    listener printed, if it does not start or fails."""
    listener = subprocess.Popen(listen_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    try:
        if listener.stdout.readline().strip() != 'ready':
            raise AssertionError('the frame listener did not start (%s): %s'
                                 % (' '.join(listen_cmd), listener.stderr.read()))
        send_all()
        out, err = listener.communicate(timeout=timeout)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.communicate()
    if listener.returncode != 0:
        raise AssertionError('the frame listener failed (exit %s): %s' % (listener.returncode, err))
    return sorted(set(out.split()))


def main(argv):
    if len(argv) >= 5 and argv[1] == 'send':
        send(*argv[2:7])
    elif len(argv) == 3 and argv[1] == 'listen':
        listen(argv[2])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main(sys.argv)
