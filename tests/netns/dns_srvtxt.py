#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# A tiny authoritative DNS server for corp.test (stdlib only), the
# gateway's nameserver in tests/netns/dns_srv.sh: SRV for
# _http._tcp.app.corp.test (0 5 8080 app.corp.test.), TXT for
# app.corp.test ("v=fz-test"), A for app.corp.test (10.99.3.2); NXDOMAIN
# for the rest (firezone.dev too: any answer makes the gateway's probe
# count it as up).  UDP only; each query printed: name, type, source.
import socket
import struct
import sys

addr = sys.argv[1] if len(sys.argv) > 1 else "0.0.0.0"
port = int(sys.argv[2]) if len(sys.argv) > 2 else 53


def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\0"


def rr(qtype, rdata, ttl=60):
    return b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, ttl, len(rdata)) + rdata


s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 12:
        continue
    qid, flags, qd = struct.unpack("!HHH", q[:6])
    i, labels = 12, []
    while i < len(q) and q[i] != 0 and q[i] < 64:
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
        i += 1 + q[i]
    if i + 5 > len(q) or qd != 1 or flags & 0x8000:
        continue
    qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    qname = ".".join(labels).lower()
    print(qname, qtype, peer[0], flush=True)
    ans, rcode = b"", 3
    if qname == "_http._tcp.app.corp.test":
        rcode = 0
        if qtype == 33:
            ans = rr(33, struct.pack("!HHH", 0, 5, 8080) + name("app.corp.test"))
    elif qname == "app.corp.test":
        rcode = 0
        if qtype == 16:
            ans = rr(16, b"\x09v=fz-test")
        elif qtype == 1:
            ans = rr(1, bytes([10, 99, 3, 2]))
    hdr = struct.pack("!HHHHHH", qid, 0x8400 | (flags & 0x0100) | rcode, 1,
                      1 if ans else 0, 0, 0)
    s.sendto(hdr + question + ans, peer)
