#!/usr/bin/env python3
"""net-clients.py ADDR CLIENTS MESSAGES: CLIENTS concurrent clients, each
sending MESSAGES lines "c<client> m<message>" over its own connection to
ADDR (HOST:PORT for tcp, or a path for a unix socket), in chunks that cut
lines at random places. All connect first, then all send at once. Exits
0 once every client has sent everything and closed."""
import random
import socket
import sys
import threading


def connect(addr):
    if addr.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(addr)
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
    return s


def client(s, c, n, go, errors):
    data = "".join("c%d m%d\n" % (c, m) for m in range(n)).encode()
    rnd = random.Random(c)
    go.wait()
    try:
        i = 0
        while i < len(data):
            k = rnd.randint(1, 4096)
            s.sendall(data[i:i + k])
            i += k
        s.close()
    except OSError as e:
        errors.append("client %d: %s" % (c, e))


def main():
    addr, nc, nm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    socks = [connect(addr) for _ in range(nc)]
    go = threading.Event()
    errors = []
    ts = [threading.Thread(target=client, args=(socks[c], c, nm, go, errors))
          for c in range(nc)]
    for t in ts:
        t.start()
    go.set()
    for t in ts:
        t.join()
    for e in errors:
        print(e, file=sys.stderr)
    sys.exit(1 if errors else 0)


main()
