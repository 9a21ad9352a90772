#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""One TCP stream for tests/faults/run, checked by hash at both ends.

  xfer.py recv PORT OUT          accept one connection, read to EOF, write
                                 "BYTES SHA256 MAXGAP_S" to OUT
  xfer.py send HOST PORT SIZE SECS
                                 send SIZE pseudo-random bytes (fixed seed),
                                 paced over SECS seconds (0: as fast as
                                 possible); print "BYTES SHA256 ELAPSED_S"
"""
import hashlib
import random
import socket
import sys
import time

CHUNK = 64 * 1024


def recv(port, out):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(1)
    s, _ = ls.accept()
    h = hashlib.sha256()
    n = 0
    gap = 0.0
    last = time.monotonic()
    while True:
        b = s.recv(1 << 16)
        now = time.monotonic()
        if not b:
            break
        gap = max(gap, now - last)
        last = now
        h.update(b)
        n += len(b)
    with open(out, "w") as f:
        f.write("%d %s %.2f\n" % (n, h.hexdigest(), gap))


def send(host, port, size, secs):
    data = random.Random(15).randbytes(size)
    h = hashlib.sha256(data).hexdigest()
    s = socket.create_connection((host, port), timeout=30)
    s.settimeout(None)
    t0 = time.monotonic()
    off = 0
    while off < size:
        if secs > 0:
            due = t0 + secs * off / size
            d = due - time.monotonic()
            if d > 0:
                time.sleep(d)
        off += s.send(data[off:off + CHUNK])
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # the receiver's EOF: everything was read
    print("%d %s %.2f" % (size, h, time.monotonic() - t0))


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(int(sys.argv[2]), sys.argv[3])
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
             float(sys.argv[5]))
