#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
#
# A hostile fz-controld for tests/faults/flood_ipc.sh.  It imports the
# msgpack coder of tests/netns/fake_controld.py (copied next to it).
#
#   flood_controld.py DIR FLOOD_SECONDS
#
# DIR/corpus/*   raw IPC messages (a fuzz corpus), sent one by one as
#                frames (4-byte length, then the bytes) on the CONTROL
#                channel, each after the previous one was survived for
#                0.3 s; DIR/idx keeps the next one across restarts (a
#                frame that is a violation gets this process killed)
# DIR/go         made by the test once it has its "before" figures
# DIR/events     READY, SEND i NAME, SURVIVED i, CORPUS_DONE, FLOOD_START,
#                FLOOD n (valid frames sent), each on its own line
# After the corpus: valid STATUS and RELAYS frames as fast as fz-tunneld
# takes them, for FLOOD_SECONDS, then idle (reading what comes).
import os
import select
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_controld import T, enc  # noqa: E402
T = dict(T, RELAYS=20)

D = sys.argv[1]
FLOOD = float(sys.argv[2])
EV = open(D + "/events", "a", buffering=1)


def event(s):
    EV.write(s + "\n")


def frame(b):
    return struct.pack(">I", len(b)) + b


def drain(secs):
    end = time.monotonic() + secs
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        r, _, _ = select.select([3, 4], [], [], left)
        for fd in r:
            if not os.read(fd, 1 << 20):
                sys.exit(0)


def main():
    for fd in (3, 4):
        os.write(fd, frame(enc([T["HELLO"], [1, "fz-controld",
                                              os.getpid()]])))
    drain(0.3)
    event("READY")
    while not os.path.exists(D + "/go"):
        drain(0.1)
    files = sorted(os.listdir(D + "/corpus"))
    try:
        with open(D + "/idx") as f:
            idx = int(f.read())
    except (OSError, ValueError):
        idx = 0
    while idx < len(files):
        with open(D + "/idx.tmp", "w") as f:
            f.write(str(idx + 1))
        os.rename(D + "/idx.tmp", D + "/idx")
        with open(D + "/corpus/" + files[idx], "rb") as f:
            data = f.read()
        event("SEND %d %s" % (idx, files[idx]))
        os.write(3, frame(data))
        drain(0.3)
        event("SURVIVED %d" % idx)
        idx += 1
    event("CORPUS_DONE")
    if FLOOD > 0 and not os.path.exists(D + "/flooded"):
        open(D + "/flooded", "w").close()
        event("FLOOD_START")
        os.set_blocking(3, False)
        msgs = [frame(enc([T["STATUS"], ["online", "flood"]])),
                frame(enc([T["STATUS"], ["connecting", "flood"]])),
                frame(enc([T["RELAYS"], [1, "r1"]])),
                frame(enc([T["RELAYS"], [2, "r1,r2"]]))]
        batch = b"".join(msgs) * 64
        n, end = 0, time.monotonic() + FLOOD
        pend = b""
        while time.monotonic() < end:
            r, w, _ = select.select([3, 4], [3], [], 0.1)
            for fd in r:
                if not os.read(fd, 1 << 20):
                    sys.exit(0)
            if w:
                if not pend:
                    pend = batch
                    n += 4 * 64
                try:
                    k = os.write(3, pend)
                    pend = pend[k:]
                except BlockingIOError:
                    pass
        os.set_blocking(3, True)
        if pend:
            os.write(3, pend)
        event("FLOOD %d" % n)
    while True:
        drain(3600)


if __name__ == "__main__":
    main()
