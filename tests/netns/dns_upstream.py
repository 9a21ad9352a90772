#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# A tiny upstream DNS server for tests/netns/dns.sh (stdlib only): every
# A query is answered 192.0.2.77 (TTL 60), anything else NOERROR/empty.
# Each query's name is printed, one per line.
import socket
import struct
import sys

addr = sys.argv[1] if len(sys.argv) > 1 else "0.0.0.0"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, 53))
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 12:
        continue
    qid, flags, qd = struct.unpack("!HHH", q[:6])
    i, labels = 12, []
    while i < len(q) and q[i] != 0:
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
        i += 1 + q[i]
    if i + 5 > len(q) or qd != 1:
        continue
    qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    print(".".join(labels), qtype, flush=True)
    ans = b""
    if qtype == 1:
        ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 77])
    hdr = struct.pack("!HHHHHH", qid, 0x8180 | (flags & 0x0100), 1,
                      1 if ans else 0, 0, 0)
    s.sendto(hdr + question + ans, peer)
