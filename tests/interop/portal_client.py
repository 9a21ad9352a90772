#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A bare portal client (firezone-protocols.md §1.2, §1.3), standard library
only: connects to /client/v2/websocket as a headless client, joins `client`
(Phoenix V1 frames), answers nothing but heartbeats every 10 s, and prints
every event of its topic as one JSON line {"event":..., "payload":...} on
standard output, flushed, until SECONDS have passed.  Used to read the relay
credentials a portal hands a client (`init`, `relays_presence`).

usage: portal_client.py HOST PORT TOKEN EXTERNAL_ID PUBLIC_KEY SECONDS
"""
import base64
import json
import os
import select
import socket
import struct
import sys
import time
import urllib.parse


def ws_frame(op, data):
    mask = os.urandom(4)
    n = len(data)
    if n < 126:
        h = struct.pack("!BB", 0x80 | op, 0x80 | n)
    elif n < 65536:
        h = struct.pack("!BBH", 0x80 | op, 0x80 | 126, n)
    else:
        h = struct.pack("!BBQ", 0x80 | op, 0x80 | 127, n)
    return h + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


class Conn:
    def __init__(self, sock):
        self.s = sock
        self.buf = b""
        self.msg = b""

    def need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def message(self):
        """The next complete text message (control frames handled)."""
        while True:
            b0, b1 = self.need(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self.need(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.need(8))[0]
            data = self.need(n)
            op = b0 & 0x0F
            if op == 8:
                raise EOFError
            if op == 9:
                self.s.sendall(ws_frame(10, data))
                continue
            if op in (0, 1):
                self.msg += data
                if b0 & 0x80:
                    m, self.msg = self.msg, b""
                    return m.decode()


def main():
    host, port, token, ext, pub, secs = sys.argv[1:7]
    q = urllib.parse.urlencode([("external_id", ext), ("name", "e2e-client"),
                                ("public_key", pub)])
    s = socket.create_connection((host, int(port)), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /client/v2/websocket?%s HTTP/1.1\r\nHost: %s:%s\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "X-Authorization: Bearer %s\r\n"
               "User-Agent: Debian/12 headless-client/1.5.12 (x86_64; 6.1)\r\n"
               "\r\n" % (q, host, port, key, token)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        if not d:
            sys.exit("closed during the upgrade")
        head += d
    if not head.startswith(b"HTTP/1.1 101"):
        sys.exit("upgrade refused: %s" % head.split(b"\r\n")[0].decode())
    c = Conn(s)
    ref = 0

    def send(topic, event, payload):
        nonlocal ref
        s.sendall(ws_frame(1, json.dumps({"topic": topic, "event": event,
                                          "payload": payload,
                                          "ref": ref}).encode()))
        ref += 1

    send("client", "phx_join", None)
    end = time.time() + float(secs)
    next_hb = time.time() + 10
    while time.time() < end:
        if not c.buf:
            r, _, _ = select.select([s], [], [],
                                    max(0, min(end, next_hb) - time.time()))
        if time.time() >= next_hb:
            send("phoenix", "heartbeat", {})
            next_hb += 10
        if not c.buf and not r:
            continue
        try:
            m = json.loads(c.message())
        except EOFError:
            sys.exit("closed by the portal")
        if m.get("topic") == "client" and m.get("event") != "phx_reply":
            print(json.dumps({"event": m["event"], "payload": m["payload"]}),
                  flush=True)


main()
