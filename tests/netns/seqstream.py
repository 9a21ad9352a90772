#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""A UDP stream that counts loss and reordering inside one flow.

  seqstream.py recv ADDR PORT            prints one JSON line at the end
  seqstream.py send ADDR PORT BYTES PPS  prints one JSON line at the end

Every datagram: an 8-byte sequence number (network order) and 1200 bytes
of payload from a seeded generator.  The sender hashes the payload in
sequence order; the receiver hashes it in arrival order, so the two
sha256 agree only if nothing was lost, duplicated or reordered.  The
receiver also counts: received, lost (sequence numbers never seen),
duplicates, and reordered (a datagram whose number is below the highest
seen before it).  The end: a datagram with the number 2^64-1 carrying the
count and the sender's hash, sent a few times; the receiver also stops
after 5 s without anything.
"""
import errno
import hashlib
import json
import random
import socket
import struct
import sys
import time

PAYLOAD = 1200
SO_RCVBUFFORCE = 33
END = (1 << 64) - 1


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def socket_drops(s):
    """The kernel's drop count for s (/proc/net/udp*, last column)."""
    port = s.getsockname()[1]
    for f in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            for line in open(f).readlines()[1:]:
                c = line.split()
                if int(c[1].split(":")[1], 16) == port:
                    return int(c[-1])
        except OSError:
            pass
    return None


def recv(addr, port):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    try:    # root: past net.core.rmem_max (a slow receiver is not loss)
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
    s.bind((addr, port))
    print("listening", flush=True)
    h = hashlib.sha256()
    seen = set()
    got = dup = reord = 0
    highest = -1
    total = None
    sender_hash = None
    s.settimeout(30)
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        s.settimeout(5)
        (seq,) = struct.unpack_from("!Q", d)
        if seq == END:
            total, sender_hash = json.loads(d[8:].decode())
            break
        got += 1
        if seq in seen:
            dup += 1
            continue
        seen.add(seq)
        if seq < highest:
            reord += 1
        highest = max(highest, seq)
        h.update(d[8:])
    n = total if total is not None else highest + 1
    print(json.dumps({"socket_drops": socket_drops(s), "received": got, "unique": len(seen),
                      "expected": total, "lost": n - len(seen),
                      "duplicates": dup, "reordered": reord,
                      "bytes": len(seen) * PAYLOAD,
                      "sha256": h.hexdigest(), "sender_sha256": sender_hash}))


def send(addr, port, nbytes, pps):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.connect((addr, port))
    rng = random.Random(2021)
    h = hashlib.sha256()
    n = (nbytes + PAYLOAD - 1) // PAYLOAD
    t0 = time.monotonic()
    burst = 50
    for i in range(n):
        p = rng.randbytes(PAYLOAD)
        h.update(p)
        while True:
            try:
                s.send(struct.pack("!Q", i) + p)
                break
            except OSError as e:
                if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                    raise
                time.sleep(0.001)
        if i % burst == burst - 1:
            due = t0 + (i + 1) / pps
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    dt = time.monotonic() - t0
    time.sleep(0.5)
    end = struct.pack("!Q", END) + json.dumps([n, h.hexdigest()]).encode()
    for _ in range(5):
        try:
            s.send(end)
        except ConnectionRefusedError:
            break   # the receiver got one and closed (ICMP unreachable)
        time.sleep(0.2)
    print(json.dumps({"sent": n, "bytes": n * PAYLOAD, "seconds": round(dt, 3),
                      "sha256": h.hexdigest()}))


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(sys.argv[2], int(sys.argv[3]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
