#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
#
# An unauthenticated TURN Allocate flood for tests/faults/flood_relay.sh.
#
#   flood_allocate.py IP PORT RATE SECONDS SOCKETS
#
# Allocate requests (REQUESTED-TRANSPORT UDP, no credentials, a random
# transaction id) at RATE a second from SOCKETS source ports; counts the
# answers; SIGINT ends it early.  Prints "sent N answers A".
import os
import select
import signal
import socket
import struct
import sys
import time

ip, port, rate, secs, ns = (sys.argv[1], int(sys.argv[2]),
                            float(sys.argv[3]), float(sys.argv[4]),
                            int(sys.argv[5]))
socks = []
for _ in range(ns):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    socks.append(s)
ATTR = struct.pack(">HHI", 0x0019, 4, 17 << 24)


def allocate():
    return struct.pack(">HHI", 0x0003, len(ATTR), 0x2112A442) + \
        os.urandom(12) + ATTR


sent = answers = 0
start = time.monotonic()
end = start + secs


def stop(*_):
    global end
    end = 0


signal.signal(signal.SIGINT, stop)
while True:
    now = time.monotonic()
    if now >= end:
        break
    due = int((now - start) * rate)
    while sent < due:
        try:
            socks[sent % ns].sendto(allocate(), (ip, port))
        except (BlockingIOError, ConnectionRefusedError):
            pass
        sent += 1
    r, _, _ = select.select(socks, [], [], 0.001)
    for s in r:
        while True:
            try:
                s.recv(2048)
                answers += 1
            except (BlockingIOError, ConnectionRefusedError):
                break
print("sent %d answers %d" % (sent, answers))
