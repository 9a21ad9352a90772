#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Flush the conntrack table of the current network namespace (what
`conntrack -F` does; tests/faults/run, without conntrack-tools)."""
import socket
import struct

s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
s.bind((0, 0))
body = struct.pack("BBH", socket.AF_INET, 0, 0)  # nfgenmsg: AF_INET, v0
# nlmsghdr: CTNETLINK << 8 | IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK
s.send(struct.pack("=IHHII", 16 + len(body), (1 << 8) | 2, 1 | 4, 1, 0) + body)
err = struct.unpack("=i", s.recv(4096)[16:20])[0]
raise SystemExit(0 if err == 0 else 1)
