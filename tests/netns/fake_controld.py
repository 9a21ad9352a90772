#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
#
# A fake fz-controld for tests/netns/paths.sh: speaks the IPC of
# ipc/ipc_msg.def on fd 3 (CONTROL) and fd 4 (DGRAM) as fz-controld would,
# but takes its orders from files instead of a portal.
#
#   fake_controld.py DIR IPV4 IPV6
#
# DIR/pub          fz-tunneld's public key (from CONFIG)
# DIR/events       one line per message received: LOCAL_SOCKETS <list>,
#                  CONN_WANTED <dst>, DGRAM_UP <sock> <from> <hex payload>,
#                  SIGN_IN, SIGN_OUT
# DIR/cmd/*.json   orders, taken in name order, then removed:
#                  {"peer_set": {peer_id, public_key, psk, allowed_ips,
#                                sock, remote, relay, channel, initiate}}
#                  {"peer_del": "<key>"}
#                  {"dgram_down": {"sock": n, "to": "a:p", "hex": "..."}}
#                  {"turn": {"sock": n, "server": "a:p", "secret": "s",
#                            "peer": "a:p", "channel": n}}
#                    a TURN allocation through fz-tunneld's socket (TURN
#                    REST credentials from the secret: RFC 5389 long-term
#                    auth with the 401 nonce dance), then ChannelBind of
#                    channel to peer; DIR/relayed gets the relayed
#                    address, events "TURN <relayed>" or "TURN failed ..."
#                  {"p2p_down": {"public_key": k, "hex": "..."}}
#                  {"dnsnat_set": {client_id, ipv4, ipv6, public_key,
#                                  resource_id, domain, proxies, resolved,
#                                  "status": "<hex>"}}
#                  {"peer_goodbye": "<key>"}
#                  (events: P2P_UP <key> <hex packet>)
# After SIGN_IN it sends INTERFACE with IPV4 and IPV6.  No msgpack module
# is needed: the few types the catalogue uses are coded here.
import base64
import hashlib
import hmac
import json
import os
import socket
import select
import struct
import sys
import time

T = {"HELLO": 1, "CONFIG": 2, "LOG_FILE": 3, "SIGN_IN": 4, "SIGN_OUT": 5,
     "SET_LOG_FILTER": 6, "STATUS": 7, "SIGNED_OUT": 16, "DGRAM_UP": 17,
     "DGRAM_DOWN": 18, "INTERFACE": 19, "LOCAL_SOCKETS": 21,
     "PEER_SET": 22, "PEER_DEL": 23, "CONN_WANTED": 24,
     "PEER_STATS": 26, "ACCESS_SET": 33,
     "P2P_UP": 37, "P2P_DOWN": 38, "DNSNAT_SET": 39, "PEER_GOODBYE": 40}
NAME = {v: k for k, v in T.items()}


def enc(v):
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        return b"\xce" + struct.pack(">I", v)
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32:
            return bytes([0xa0 | len(b)]) + b
        if len(b) < 256:
            return b"\xd9" + bytes([len(b)]) + b
        return b"\xda" + struct.pack(">H", len(b)) + b
    if isinstance(v, (bytes, bytearray)):
        return b"\xc5" + struct.pack(">H", len(v)) + bytes(v)
    if isinstance(v, list):
        assert len(v) < 16
        return bytes([0x90 | len(v)]) + b"".join(enc(x) for x in v)
    raise TypeError(v)


def dec(b, i=0):
    c = b[i]
    if c <= 0x7f:
        return c, i + 1
    if 0x90 <= c <= 0x9f:
        n, i, out = c & 15, i + 1, []
        for _ in range(n):
            x, i = dec(b, i)
            out.append(x)
        return out, i
    if 0xdc == c:
        n, i, out = struct.unpack(">H", b[i + 1:i + 3])[0], i + 3, []
        for _ in range(n):
            x, i = dec(b, i)
            out.append(x)
        return out, i
    if 0xa0 <= c <= 0xbf:
        n = c & 31
        return b[i + 1:i + 1 + n].decode(), i + 1 + n
    if c in (0xd9, 0xda, 0xdb):
        w = {0xd9: 1, 0xda: 2, 0xdb: 4}[c]
        n = int.from_bytes(b[i + 1:i + 1 + w], "big")
        s = i + 1 + w
        return b[s:s + n].decode(), s + n
    if c in (0xc4, 0xc5, 0xc6):
        w = {0xc4: 1, 0xc5: 2, 0xc6: 4}[c]
        n = int.from_bytes(b[i + 1:i + 1 + w], "big")
        s = i + 1 + w
        return b[s:s + n], s + n
    if c in (0xcc, 0xcd, 0xce, 0xcf):
        w = {0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8}[c]
        return int.from_bytes(b[i + 1:i + 1 + w], "big"), i + 1 + w
    if c in (0xd0, 0xd1, 0xd2, 0xd3):
        w = {0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8}[c]
        return int.from_bytes(b[i + 1:i + 1 + w], "big", signed=True), \
            i + 1 + w
    if c >= 0xe0:
        return c - 256, i + 1
    if c == 0xc0:
        return None, i + 1
    if c in (0xc2, 0xc3):
        return c == 0xc3, i + 1
    raise ValueError("msgpack 0x%02x" % c)


# --- a minimal TURN client (RFC 8656 over RFC 8489) ---------------------
COOKIE = 0x2112A442


def addr_split(a):
    h, p = a.rsplit(":", 1)
    return h.strip("[]"), int(p)


def xor_addr(host, port, txid):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    raw = socket.inet_pton(fam, host)
    key = struct.pack(">I", COOKIE) + txid
    x = bytes(b ^ key[i] for i, b in enumerate(raw))
    return struct.pack(">BBH", 0, 1 if fam == socket.AF_INET else 2,
                       port ^ (COOKIE >> 16)) + x


def unxor_addr(v, txid):
    fam, port = v[1], struct.unpack(">H", v[2:4])[0] ^ (COOKIE >> 16)
    key = struct.pack(">I", COOKIE) + txid
    raw = bytes(b ^ key[i] for i, b in enumerate(v[4:]))
    if fam == 1:
        return "%s:%d" % (socket.inet_ntop(socket.AF_INET, raw), port)
    return "[%s]:%d" % (socket.inet_ntop(socket.AF_INET6, raw), port)


def attr(t, v):
    pad = (4 - len(v) % 4) % 4
    return struct.pack(">HH", t, len(v)) + v + b"\0" * pad


def stun(mtype, txid, attrs, key=None):
    body = b"".join(attr(t, v) for t, v in attrs)
    if key is not None:
        hdr = struct.pack(">HHI", mtype, len(body) + 24, COOKIE) + txid
        mi = hmac.new(key, hdr + body, hashlib.sha1).digest()
        body += attr(0x0008, mi)
    return struct.pack(">HHI", mtype, len(body), COOKIE) + txid + body


def parse(b):
    mtype, ln = struct.unpack(">HH", b[:4])
    txid, attrs, i = b[8:20], {}, 20
    while i + 4 <= 20 + ln:
        t, l = struct.unpack(">HH", b[i:i + 4])
        attrs.setdefault(t, b[i + 4:i + 4 + l])
        i += 4 + l + (4 - l % 4) % 4
    return mtype, txid, attrs


def send(fd, name, fields):
    b = enc([T[name], fields])
    os.write(fd, struct.pack(">I", len(b)) + b)


class Reader:
    def __init__(self, fd):
        self.fd, self.buf = fd, b""

    def read(self):
        d = os.read(self.fd, 1 << 20)
        if not d:
            sys.exit(0)
        self.buf += d
        out = []
        while len(self.buf) >= 4:
            n = struct.unpack(">I", self.buf[:4])[0]
            if len(self.buf) < 4 + n:
                break
            m, _ = dec(self.buf[4:4 + n])
            self.buf = self.buf[4 + n:]
            out.append((NAME.get(m[0], str(m[0])), m[1]))
        return out


class Fake:
    def __init__(self, d, ipv4, ipv6):
        self.d, self.ipv4, self.ipv6 = d, ipv4, ipv6
        self.ev = open(d + "/events", "a", buffering=1)
        self.ctl, self.dg = Reader(3), Reader(4)
        self.signed_in = False
        self.inbox = []		# STUN answers for the TURN client

    def event(self, s):
        self.ev.write(s + "\n")

    def pump(self, timeout):
        r, _, _ = select.select([3, 4], [], [], timeout)
        for fd in r:
            for name, f in (self.ctl if fd == 3 else self.dg).read():
                self.handle(name, f)

    def handle(self, name, f):
        if name == "CONFIG":
            with open(self.d + "/pub.new", "w") as p:
                p.write(f[8] + "\n")
            os.rename(self.d + "/pub.new", self.d + "/pub")
        elif name == "SIGN_IN":
            self.event("SIGN_IN")
            self.signed_in = True
            send(3, "INTERFACE", [self.ipv4, self.ipv6, "", ""])
        elif name == "SIGN_OUT":
            self.event("SIGN_OUT")
            self.signed_in = False
            send(3, "SIGNED_OUT", [])
        elif name == "LOCAL_SOCKETS":
            self.event("LOCAL_SOCKETS " + f[0])
        elif name == "CONN_WANTED":
            self.event("CONN_WANTED " + f[0])
        elif name == "PEER_STATS":
            self.event("PEER_STATS " + f[0])
        elif name == "P2P_UP":
            self.event("P2P_UP %s %s" % (f[0], f[1].hex()))
        elif name == "DGRAM_UP":
            self.event("DGRAM_UP %d %s %s" % (f[0], f[1], f[3].hex()))
            self.inbox.append(f[3])

    def transact(self, sock, server, msg):
        txid = msg[8:20]
        for _ in range(3):
            send(4, "DGRAM_DOWN", [sock, server, msg])
            end = time.time() + 1
            while time.time() < end:
                for m in self.inbox:
                    if len(m) >= 20 and m[8:20] == txid:
                        self.inbox.remove(m)
                        return parse(m)
                self.pump(0.05)
        raise TimeoutError("no answer from " + server)

    def turn(self, o):
        sock, server = o["sock"], o["server"]
        user = "%d:fake" % (int(time.time()) + 3600)
        pw = base64.b64encode(hmac.new(o["secret"].encode(), user.encode(),
                                       hashlib.sha1).digest()).decode()
        transport = (0x0019, bytes([17, 0, 0, 0]))
        t, _, a = self.transact(sock, server,
                                stun(0x0003, os.urandom(12), [transport]))
        if t != 0x0113 or 0x0015 not in a or 0x0014 not in a:
            raise ValueError("Allocate: no 401 with a nonce (0x%04x)" % t)
        nonce, realm = a[0x0015], a[0x0014]
        key = hashlib.md5(("%s:%s:%s" % (user, realm.decode(), pw))
                          .encode()).digest()
        auth = [(0x0006, user.encode()), (0x0014, realm), (0x0015, nonce)]
        txid = os.urandom(12)
        t, _, a = self.transact(sock, server,
                                stun(0x0003, txid, [transport] + auth, key))
        if t != 0x0103 or 0x0016 not in a:
            raise ValueError("Allocate failed (0x%04x, %r)" %
                             (t, a.get(0x0009)))
        relayed = unxor_addr(a[0x0016], txid)
        host, port = addr_split(o["peer"])
        txid = os.urandom(12)
        t, _, a = self.transact(sock, server, stun(0x0009, txid, [
            (0x000c, struct.pack(">HH", o["channel"], 0)),
            (0x0012, xor_addr(host, port, txid))] + auth, key))
        if t != 0x0109:
            raise ValueError("ChannelBind failed (0x%04x, %r)" %
                             (t, a.get(0x0009)))
        with open(self.d + "/relayed", "w") as f:
            f.write(relayed + "\n")
        return relayed

    def order(self, o):
        if "peer_set" in o and self.signed_in:
            p = o["peer_set"]
            send(3, "PEER_SET", [p.get("peer_id", "peer"),
                                 p["public_key"], p.get("psk", ""),
                                 p.get("allowed_ips", ""), p["sock"],
                                 p.get("remote", ""), p.get("relay", ""),
                                 p.get("channel", 0),
                                 p.get("initiate", False)])
        elif "access_set" in o and self.signed_in:
            a = o["access_set"]
            send(3, "ACCESS_SET", [a["client_id"], a.get("ipv4", ""),
                                   a.get("ipv6", ""), a["resource_id"],
                                   a.get("type", "cidr"),
                                   a.get("address", ""),
                                   a.get("filters", ""),
                                   a.get("expires_at", 0)])
        elif "p2p_down" in o:
            g = o["p2p_down"]
            send(4, "P2P_DOWN", [g["public_key"], bytes.fromhex(g["hex"])])
        elif "dnsnat_set" in o and self.signed_in:
            d = o["dnsnat_set"]
            send(3, "DNSNAT_SET", [d["client_id"], d.get("ipv4", ""),
                                   d.get("ipv6", ""), d["public_key"],
                                   d["resource_id"], d["domain"],
                                   d["proxies"], d.get("resolved", ""),
                                   bytes.fromhex(d["status"])])
        elif "peer_goodbye" in o and self.signed_in:
            send(3, "PEER_GOODBYE", [o["peer_goodbye"]])
        elif "peer_del" in o and self.signed_in:
            send(3, "PEER_DEL", [o["peer_del"]])
        elif "dgram_down" in o:
            g = o["dgram_down"]
            send(4, "DGRAM_DOWN", [g["sock"], g["to"],
                                   bytes.fromhex(g["hex"])])
        elif "turn" in o:
            try:
                self.event("TURN " + self.turn(o["turn"]))
            except (ValueError, TimeoutError) as e:
                self.event("TURN failed: %s" % e)

    def run(self):
        os.makedirs(self.d + "/cmd", exist_ok=True)
        for fd in (3, 4):
            send(fd, "HELLO", [1, "fz-controld", os.getpid()])
        while True:
            self.pump(0.1)
            for c in sorted(os.listdir(self.d + "/cmd")):
                if not c.endswith(".json"):
                    continue
                path = self.d + "/cmd/" + c
                with open(path) as fh:
                    o = json.load(fh)
                os.unlink(path)
                self.order(o)
                self.event("DONE " + c)


if __name__ == "__main__":
    Fake(*sys.argv[1:4]).run()
