#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A scripted stand-in for the portal's relay socket (firezone-protocols.md
§1.2, §1.3, §1.9), written from the protocol notes with the standard
library only, to test fz-relayd's side without fz-portald:

  - GET /relay/websocket?...: the token in X-Authorization must be TOKEN,
    else 401 problem+json {"code":"invalid_token"}; a User-Agent without a
    relay/ component gets 400, as the portal answers;
  - the upgrade (RFC 6455), then Phoenix V1 frames: phx_join on topic
    "relay" with {"stamp_secret": <64 hex>} -> phx_reply ok, then init {};
    heartbeats -> phx_reply ok; anything else from the relay ->
    phx_reply error unknown_message.

Every connection is recorded as JSON lines in DIR/log (query, user agent,
whether the token matched, the join payload; each heartbeat), and
the last stamp_secret in DIR/stamp: the portal knows it, which is how it
mints credentials for clients (§3.3).

With PORTAL_TLS_CERT and PORTAL_TLS_KEY (PEM files) it speaks TLS (wss://).

usage: fake_portal.py ADDR PORT TOKEN DIR
"""
import asyncio
import base64
import hashlib
import json
import os
import ssl
import struct
import sys
import urllib.parse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def record(d, entry):
    with open(os.path.join(d, "log"), "a") as f:
        f.write(json.dumps(entry) + "\n")


async def read_frame(r):
    """One message: (opcode, payload); control frames returned as they come."""
    h = await r.readexactly(2)
    op, ln = h[0] & 0x0F, h[1] & 0x7F
    masked = h[1] & 0x80
    if ln == 126:
        ln = struct.unpack("!H", await r.readexactly(2))[0]
    elif ln == 127:
        ln = struct.unpack("!Q", await r.readexactly(8))[0]
    if not masked:
        raise ValueError("client frame not masked")
    key = await r.readexactly(4)
    data = bytearray(await r.readexactly(ln))
    for i in range(ln):
        data[i] ^= key[i % 4]
    if not h[0] & 0x80:
        raise ValueError("fragmented frames not expected here")
    return op, bytes(data)


def frame(op, data):
    n = len(data)
    if n < 126:
        h = struct.pack("!BB", 0x80 | op, n)
    elif n < 65536:
        h = struct.pack("!BBH", 0x80 | op, 126, n)
    else:
        h = struct.pack("!BBQ", 0x80 | op, 127, n)
    return h + data


def send(w, obj):
    w.write(frame(1, json.dumps(obj).encode()))


def http(w, status, reason, body=b"", ctype="application/problem+json"):
    w.write(("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
             "Connection: close\r\n\r\n" % (status, reason, ctype, len(body))
             ).encode() + body)


async def serve(r, w, token, d):
    entry = {}
    try:
        head = await r.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        hdr = {}
        for l in lines[1:]:
            if ":" in l:
                k, v = l.split(":", 1)
                hdr[k.strip().lower()] = v.strip()
        url = urllib.parse.urlsplit(target)
        entry = {"path": url.path, "query": url.query,
                 "params": urllib.parse.parse_qs(url.query),
                 "user_agent": hdr.get("user-agent", ""),
                 "token_ok": hdr.get("x-authorization", "") ==
                 "Bearer " + token, "heartbeats": 0}
        if url.path != "/relay/websocket":
            http(w, 404, "Not Found")
            return
        if not entry["token_ok"]:
            http(w, 401, "Unauthorized", json.dumps({
                "type": "about:blank", "title": "Unauthorized",
                "status": 401, "detail": "invalid token",
                "code": "invalid_token"}).encode())
            return
        if " relay/" not in " " + entry["user_agent"]:
            http(w, 400, "Bad Request", json.dumps({
                "status": 400, "code": "invalid_connect_params"}).encode())
            return
        accept = base64.b64encode(hashlib.sha1(
            hdr["sec-websocket-key"].encode() + GUID).digest()).decode()
        w.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                 % accept).encode())
        while True:
            op, data = await read_frame(r)
            if op == 8:
                if len(data) >= 2:
                    entry["close_code"] = struct.unpack("!H", data[:2])[0]
                w.write(frame(8, data[:2]))
                return
            if op == 9:
                w.write(frame(10, data))
                continue
            if op != 1:
                continue
            m = json.loads(data)
            topic, event, ref = m.get("topic"), m.get("event"), m.get("ref")
            if topic == "phoenix" and event == "heartbeat":
                entry["heartbeats"] += 1
                record(d, {"event": "heartbeat", "ref": ref,
                           "payload": m.get("payload")})
                send(w, {"topic": "phoenix", "event": "phx_reply",
                         "ref": ref, "payload": {"status": "ok",
                                                 "response": {}}})
            elif topic == "relay" and event == "phx_join":
                entry["join"] = m.get("payload")
                entry["join_ref"] = ref
                with open(os.path.join(d, "stamp"), "w") as f:
                    f.write(m["payload"]["stamp_secret"])
                send(w, {"topic": "relay", "event": "phx_reply", "ref": ref,
                         "payload": {"status": "ok", "response": {}}})
                send(w, {"topic": "relay", "event": "init", "ref": None,
                         "payload": {}})
                record(d, dict(entry, event="joined"))
            else:
                send(w, {"topic": topic, "event": "phx_reply", "ref": ref,
                         "payload": {"status": "error", "response": {
                             "reason": "unknown_message"}}})
            await w.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        if entry:
            record(d, dict(entry, event="closed"))
        w.close()


async def main():
    addr, port, token, d = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
        sys.argv[4]
    ctx = None
    if os.environ.get("PORTAL_TLS_CERT"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.environ["PORTAL_TLS_CERT"],
                            os.environ["PORTAL_TLS_KEY"])
    srv = await asyncio.start_server(
        lambda r, w: serve(r, w, token, d), addr, port, reuse_address=True,
        ssl=ctx)
    async with srv:
        await srv.serve_forever()


asyncio.run(main())
