#!/usr/bin/env python3
"""fd_crowd.py PORT N: N clients of the uppercase echo server on 127.0.0.1:PORT,
for the fd-exhaustion tests. Each connects and sends "x"; the server answers
those it could accept. Then, one command per line on stdin:

  served       prints "served A": A clients got their "X" (once no new reply
               came for 500 ms: the server took all it could)
  echo         sends "y" on every served client; prints "echoed A MS" once
               all A answered (MS: the slowest)
  free K       closes K served clients and prints "resumed MS": the time from
               just before the first close() to the first "X" from a client
               that had waited (the clock starts when the fds are freed),
               then "taken T": how many waiting clients were answered within
               2 s of that
EOF on stdin closes every client. Deadlines (5 s) scale with CW_TEST_SLACK;
a missed one prints "timeout WHAT" and exits 1."""
import os
import select
import socket
import sys
import time

SLACK = int(os.environ.get("CW_TEST_SLACK", "1"))


def now_ms():
    return time.monotonic() * 1000.0


def fail(what):
    print("timeout " + what, flush=True)
    sys.exit(1)


def main():
    port, n = int(sys.argv[1]), int(sys.argv[2])
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"x")
        socks.append(s)
    served = set()
    poller = select.poll()
    by_fd = {s.fileno(): s for s in socks}
    for s in socks:
        poller.register(s, select.POLLIN)

    def pump(timeout_ms):
        """Reads what arrived within timeout_ms; returns the clients that answered."""
        got = []
        for fd, _ in poller.poll(timeout_ms):
            s = by_fd[fd]
            data = s.recv(64)
            if data:
                got.append(s)
            else:
                poller.unregister(s)
        return got

    for line in sys.stdin:
        cmd = line.split()
        if cmd == ["served"]:
            deadline, quiet_since = now_ms() + 5000 * SLACK, now_ms()
            while now_ms() - quiet_since < 500:
                if now_ms() > deadline:
                    fail("served")
                got = pump(50)
                if got:
                    served.update(got)
                    quiet_since = now_ms()
            print("served %d" % len(served), flush=True)
        elif cmd == ["echo"]:
            start, waiting, slowest = now_ms(), set(served), 0.0
            for s in waiting:
                s.sendall(b"y")
            while waiting:
                if now_ms() - start > 5000 * SLACK:
                    fail("echo")
                for s in pump(50):
                    if s in waiting:
                        waiting.discard(s)
                        slowest = now_ms() - start
            print("echoed %d %d" % (len(served), slowest), flush=True)
        elif cmd and cmd[0] == "free":
            k = int(cmd[1])
            victims = list(served)[:k]
            t0 = now_ms()
            for s in victims:
                poller.unregister(s)
                del by_fd[s.fileno()]
                served.discard(s)
                s.close()
            first, taken = None, 0
            while True:
                if first is None and now_ms() - t0 > 5000 * SLACK:
                    fail("free")
                if first is not None and now_ms() - first > 2000:
                    break
                for s in pump(5):
                    if s not in served:
                        served.add(s)
                        taken += 1
                        if first is None:
                            first = now_ms()
                            print("resumed %d" % (first - t0), flush=True)
            print("taken %d" % taken, flush=True)
    for s in by_fd.values():
        s.close()


main()
