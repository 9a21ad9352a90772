#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
#
# Front-end clients that connect and vanish, for tests/faults/flood_fe.sh.
#
#   flood_fe.py SOCKET N CONCURRENT
#
# N connections to fz-tunneld's front-end socket, at most CONCURRENT open
# at once, each closing at a random point: at once, after half a length
# prefix, after a whole frame's prefix and half its body, after a whole
# request (STATUS_GET) without reading the answer, after garbage, or held
# open a random while (up to 1 s) first.  Prints the count done.
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "netns"))
from fake_controld import T, enc  # noqa: E402

SOCK, N, CONC = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
STATUS_GET = enc([10, []])
HELLO = enc([T["HELLO"], [1, "flood", os.getpid()]])


def frame(b):
    return struct.pack(">I", len(b)) + b


ACTS = [
    lambda s: None,
    lambda s: s.send(frame(HELLO)[:2]),
    lambda s: s.send(frame(STATUS_GET)[:6]),
    lambda s: s.send(frame(STATUS_GET)),
    lambda s: s.send(frame(HELLO) + frame(STATUS_GET)),
    lambda s: s.send(os.urandom(random.randint(1, 64))),
    lambda s: s.send(struct.pack(">I", 0xffffffff) + b"x"),
]
held = []
done = 0
rnd = random.Random(int(os.environ.get("SEED", "15")))
random.seed(rnd.random())
while done < N:
    now = time.monotonic()
    for h in [h for h in held if h[0] <= now]:
        h[1].close()
        held.remove(h)
    if len(held) >= CONC:
        time.sleep(0.005)
        continue
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(SOCK)
        random.choice(ACTS)(s)
    except OSError:
        pass
    done += 1
    if random.random() < 0.3:
        held.append((now + random.random(), s))
    else:
        s.close()
for h in held:
    h[1].close()
print(done)
