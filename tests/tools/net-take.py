"""A server that takes N lines and goes away, for the sink tests.

    net-take.py tcp HOST PORT OUT N
    net-take.py unix PATH OUT N

Listens, accepts one client, appends what it receives to OUT as it
comes (written before the next read), and once OUT has N newlines closes
the connection and exits: what the kernel holds unread then is reset
(RST), never read and dropped. Unlike a server killed by a signal, it
never loses bytes it has read, so a test can ask that every message
arrives.
"""
import os
import socket
import sys


def main():
    if sys.argv[1] == "tcp":
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((sys.argv[2], int(sys.argv[3])))
        out, n = sys.argv[4], int(sys.argv[5])
    else:
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(sys.argv[2])
        out, n = sys.argv[3], int(sys.argv[4])
    srv.listen(1)
    conn, _ = srv.accept()
    seen = 0
    with open(out, "ab", buffering=0) as f:
        while seen < n:
            data = conn.recv(65536)
            if not data:
                break
            f.write(data)
            seen += data.count(b"\n")
    conn.close()
    srv.close()
    if sys.argv[1] == "unix":
        os.unlink(sys.argv[2])


main()
