#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# A tiny upstream DNS server for tests/netns/dns.sh (stdlib only): every
# A query is answered 192.0.2.77 (TTL 60), anything else NOERROR/empty.
# Further arguments NAME=IP (tests/netns/dnsres.sh) answer NAME's A or
# AAAA with IP instead (several allowed; a name with only an IPv6 address
# answers A empty).  Each query's name is printed, one per line.
import ipaddress
import socket
import struct
import sys

addr = sys.argv[1] if len(sys.argv) > 1 else "0.0.0.0"
names = {}
for arg in sys.argv[2:]:
    n, ip = arg.split("=", 1)
    names.setdefault(n.lower(), []).append(ipaddress.ip_address(ip))
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
    ans, nans = b"", 0
    name = ".".join(labels).lower()
    if name in names:
        for ip in names[name]:
            if (qtype, ip.version) in ((1, 4), (28, 6)):
                ans += b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 60,
                                                 len(ip.packed)) + ip.packed
                nans += 1
    elif qtype == 1:
        ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 77])
        nans = 1
    hdr = struct.pack("!HHHHHH", qid, 0x8180 | (flags & 0x0100), 1,
                      nans, 0, 0)
    s.sendto(hdr + question + ans, peer)
