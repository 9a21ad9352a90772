#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
#
# A WireGuard handshake-initiation flooder for tests/faults/flood_hs.sh.
#
#   flood_hs.py TARGET_IP PORT PUBKEY_B64 RATE SECONDS SRC_IP...
#
# Sends valid-looking initiations (random sender index, ephemeral,
# encrypted static and timestamp; a correct MAC1 for PUBKEY, so they pass
# the first check; no MAC2) at RATE a second, spread over one socket per
# SRC_IP, and counts what comes back.  Prints "sent N cookies C other O".
import base64
import hashlib
import os
import select
import socket
import struct
import sys
import time

ip, port, pub, rate, secs = (sys.argv[1], int(sys.argv[2]),
                             base64.b64decode(sys.argv[3]),
                             float(sys.argv[4]), float(sys.argv[5]))
mac1key = hashlib.blake2s(b"mac1----" + pub).digest()
socks = []
for src in sys.argv[6:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.setblocking(False)
    socks.append(s)


def initiation():
    body = (struct.pack("<I", 1) + os.urandom(4) + os.urandom(32 + 48 + 28))
    mac1 = hashlib.blake2s(body, key=mac1key, digest_size=16).digest()
    return body + mac1 + bytes(16)


sent = cookies = other = 0
start = time.monotonic()
end = start + secs
batch = max(1, int(rate / 1000))
while True:
    now = time.monotonic()
    if now >= end:
        break
    due = int((now - start) * rate)
    while sent < due:
        for _ in range(batch):
            try:
                socks[sent % len(socks)].sendto(initiation(), (ip, port))
            except BlockingIOError:
                pass
            sent += 1
    r, _, _ = select.select(socks, [], [], 0.001)
    for s in r:
        while True:
            try:
                d = s.recv(2048)
            except BlockingIOError:
                break
            if d[:1] == b"\x03":
                cookies += 1
            else:
                other += 1
print("sent %d cookies %d other %d" % (sent, cookies, other))
