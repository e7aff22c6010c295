#!/usr/bin/env python3
"""owners_iter_holder.py MODE PORT N: holds N CLOSE_WAIT sockets for the
owner pass tests (owners_iter.bats): listens on 127.0.0.1:PORT, connects N
clients, accepts them, closes the clients and waits for their FINs, so the
accepted ends sit in CLOSE_WAIT. Then prints "ready PID [PID...]" (the
processes holding them, as its /proc names them) and waits until killed
(a child it forked ends with it: PR_SET_PDEATHSIG).
MODE:
  plain    the N sockets, one fd each
  dup      each socket twice (os.dup)
  threads  three idle threads share the fd table; a fourth unshares its own
           (CLONE_FILES) and holds one more socket there, which /proc/PID/fd
           (the leader's table) does not show
  fork     a child forked after the N sockets holds them too; one more
           socket, made after the fork, is passed to the child (SCM_RIGHTS)
           and closed here: only the child holds it"""
import array
import ctypes
import os
import select
import signal
import socket
import sys
import threading
import time

CLONE_FILES = 0x400
PR_SET_PDEATHSIG = 1
SLACK = int(os.environ.get("CW_TEST_SLACK", "1"))


def close_wait(lst, port, n):
    """n accepted ends in CLOSE_WAIT (their clients closed, FINs arrived)."""
    clients, ends = [], []
    for _ in range(n):
        clients.append(socket.create_connection(("127.0.0.1", port)))
        ends.append(lst.accept()[0])
    for c in clients:
        c.close()
    deadline = time.monotonic() + 5 * SLACK
    waiting = list(ends)
    while waiting:  # readable: the FIN is there (nothing is read)
        left = deadline - time.monotonic()
        if left <= 0:
            sys.exit("owners_iter_holder: the FINs did not arrive")
        ready, _, _ = select.select(waiting, [], [], left)
        waiting = [s for s in waiting if s not in ready]
    return ends


def main():
    # SIGTERM ends it even as the first process of a pid namespace, where
    # a signal without a handler would be ignored
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    mode, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", port))
    lst.listen(64)
    keep = close_wait(lst, port, n)
    pids = [os.getpid()]
    if mode == "dup":
        keep += [os.dup(s.fileno()) for s in keep]
    elif mode == "threads":
        stop = threading.Event()
        own = []

        def alone():
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(CLONE_FILES):
                own.append(None)
            else:
                own.extend(close_wait(lst, port, 1))
            stop.wait()

        for _ in range(3):
            threading.Thread(target=stop.wait, daemon=True).start()
        t = threading.Thread(target=alone, daemon=True)
        t.start()
        while not own:
            time.sleep(0.01)
        if own[0] is None:
            sys.exit("owners_iter_holder: unshare(CLONE_FILES) failed")
    elif mode == "fork":
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        child = os.fork()
        if child == 0:
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, 9)
            a.close()
            msg, anc, _, _ = b.recvmsg(1, socket.CMSG_SPACE(4))
            fds = array.array("i")
            fds.frombytes(anc[0][2][:4])
            b.send(b"k")
            while True:
                time.sleep(3600)
        b.close()
        passed = close_wait(lst, port, 1)[0]
        a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [passed.fileno()]))])
        a.recv(1)
        passed.close()
        pids.append(child)
    print("ready " + " ".join(str(p) for p in pids), flush=True)
    while True:
        time.sleep(3600)


main()
