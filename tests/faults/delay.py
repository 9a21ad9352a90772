#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
#
# A delay line without sch_netem (this kernel has none): opens the TUN
# device NAME (IFF_TUN | IFF_NO_PI) and writes every packet it reads back
# into the same device DELAY_MS later, so the kernel receives it again with
# iif NAME.  Policy routing sends the packets to be delayed into NAME
# (tests/faults/run, row_loss).  The queue is FIFO (one delay for all, so
# the deque stays ordered by due time) and bounded: packets beyond LIMIT
# are dropped and counted.  On SIGTERM/SIGINT prints one line of counts
# and exits; the device goes with the file descriptor.
#
#   delay.py NAME DELAY_MS [LIMIT]
import collections
import fcntl
import os
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


class Stop(Exception):
    pass


def stop(*_):
    raise Stop()


def run(fd, q, n, p, delay, limit):
    while True:
        now = time.monotonic()
        while q and q[0][0] <= now:
            try:
                os.write(fd, q.popleft()[1])
                n["out"] += 1
            except OSError:
                n["wfail"] += 1
        timeout = -1 if not q else max(0, int((q[0][0] - now) * 1000) + 1)
        if not p.poll(timeout):
            continue
        due = time.monotonic() + delay
        for _ in range(256):
            try:
                pkt = os.read(fd, 65536)
            except BlockingIOError:
                break
            n["in"] += 1
            if len(q) >= limit:
                n["drop"] += 1
                continue
            q.append((due, pkt))
        n["maxq"] = max(n["maxq"], len(q))


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: delay.py NAME DELAY_MS [LIMIT]")
    name = sys.argv[1].encode()
    delay = int(sys.argv[2]) / 1000.0
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    if len(name) >= 16:
        sys.exit("delay.py: interface name too long")
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name, IFF_TUN | IFF_NO_PI))
    q = collections.deque()
    n = {"in": 0, "out": 0, "drop": 0, "wfail": 0, "maxq": 0}
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    p = select.poll()
    p.register(fd, select.POLLIN)
    print("ready %s %d ms" % (name.decode(), delay * 1000), flush=True)
    try:
        run(fd, q, n, p, delay, limit)
    except Stop:
        pass
    print("delayed %d of %d packets by %d ms; %d dropped (queue > %d), "
          "%d write errors, longest queue %d" %
          (n["out"], n["in"], delay * 1000, n["drop"], limit, n["wfail"],
           n["maxq"]), flush=True)


if __name__ == "__main__":
    main()
