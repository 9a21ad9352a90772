#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# A small DNS load generator for tests/netns/dns.sh (FZ_DNS_BENCH=1):
# SERVER NAME [SECONDS] - A queries for NAME, 32 outstanding over UDP,
# for SECONDS (default 3); prints "answers/s lost".
import os
import select
import socket
import struct
import sys
import time

server, name = sys.argv[1], sys.argv[2]
secs = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
fam = socket.AF_INET6 if ":" in server else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.connect((server, 53))
s.setblocking(False)
qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
out, answers, sent, qid = {}, 0, 0, 0
end = time.monotonic() + secs
while time.monotonic() < end:
    while len(out) < 32:
        qid = (qid + 1) & 0xffff
        s.send(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + b"\0\1\0\1")
        out[qid] = time.monotonic()
        sent += 1
    r, _, _ = select.select([s], [], [], 0.2)
    if not r:
        now = time.monotonic()
        for k in [k for k, t in out.items() if now - t > 1.0]:
            del out[k]
        continue
    while True:
        try:
            a = s.recv(4096)
        except BlockingIOError:
            break
        k = struct.unpack("!H", a[:2])[0]
        if out.pop(k, None) is not None:
            answers += 1
print("%.0f %d" % (answers / secs, sent - answers - len(out)))
