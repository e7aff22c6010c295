#!/usr/bin/env python3
"""cwt_pyleak.py PORT eof|never [THREAD]: the classic leaky server in Python.

eof    reads and answers until the peer's EOF, never closes: CLOSE_WAIT,
       EOF read;
never  answers the first message only: CLOSE_WAIT, EOF never read.
Every connection stays referenced in `conns` (CPython closes a socket
object nobody refers to). Listens on 127.0.0.1:PORT, prints "ready",
serves until killed. With THREAD, it accepts and serves in a thread of
that name (the kernel's, which CPython does not set itself).
"""
import ctypes
import socket
import sys
import threading

conns = []


def serve_until_eof(c):
    while True:
        data = c.recv(4096)
        if not data:
            return  # the bug: no c.close()
        c.sendall(data.upper())


def serve_first(c):
    data = c.recv(4096)
    if data:
        c.sendall(data.upper())


def serve_forever(lst, serve, name=None):
    if name:
        PR_SET_NAME = 15
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NAME, name.encode(), 0, 0, 0)
    while True:
        c, _ = lst.accept()
        conns.append(c)
        serve(c)


def main():
    if len(sys.argv) not in (3, 4) or sys.argv[2] not in ("eof", "never"):
        sys.exit("usage: cwt_pyleak.py PORT eof|never [THREAD]")
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", int(sys.argv[1])))
    lst.listen(128)
    print("ready", flush=True)
    serve = serve_first if sys.argv[2] == "never" else serve_until_eof
    if len(sys.argv) == 4:
        t = threading.Thread(target=serve_forever, args=(lst, serve, sys.argv[3]))
        t.start()
        t.join()
    else:
        serve_forever(lst, serve)


main()
