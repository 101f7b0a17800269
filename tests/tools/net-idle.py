#!/usr/bin/env python3
"""net-idle.py HOST:PORT CLIENTS: CLIENTS connections to HOST:PORT, each
sending the line "c<client> first", then kept open, idle; prints
"connected" once all have sent. Each line read from standard input then
has every client send its next line "c<client> second" (then "third",
...) and prints "sent"; at the end of standard input all are closed."""
import socket
import sys

WORDS = ["first", "second", "third", "fourth"]


def send_all(socks, k):
    for c, s in enumerate(socks):
        s.sendall(b"c%d %s\n" % (c, WORDS[k % len(WORDS)].encode()))


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    socks = [socket.create_connection((host, int(port)))
             for _ in range(int(sys.argv[2]))]
    send_all(socks, 0)
    print("connected", flush=True)
    k = 1
    for _ in sys.stdin:
        send_all(socks, k)
        k += 1
        print("sent", flush=True)
    for s in socks:
        s.close()


main()
