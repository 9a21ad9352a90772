#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""aioice's TURN client against a TURN server with shared-secret (TURN REST)
credentials: allocate, exchange datagrams both ways with a plain UDP peer,
and check every byte.  Exit 0 on success.

usage: aioice_turn.py SERVER_IP SERVER_PORT SECRET PEER_IP [COUNT]

With TURN_USERNAME and TURN_PASSWORD in the environment those long-term
credentials are used as given (e.g. Firezone's, minted by a portal) and
SECRET is ignored.
"""
import asyncio
import base64
import hashlib
import hmac
import os
import sys
import time

from aioice import turn


class Client(asyncio.DatagramProtocol):
    def __init__(self):
        self.got = asyncio.Queue()

    def datagram_received(self, data, addr):
        self.got.put_nowait((data, addr))


class Peer(asyncio.DatagramProtocol):
    def __init__(self):
        self.got = asyncio.Queue()
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.got.put_nowait((data, addr))
        self.transport.sendto(b"echo:" + data, addr)


async def main():
    server = (sys.argv[1], int(sys.argv[2]))
    secret = sys.argv[3].encode()
    peer_ip = sys.argv[4]
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 50
    username = "%d:aioice" % (int(time.time()) + 3600)
    password = base64.b64encode(
        hmac.new(secret, username.encode(), hashlib.sha1).digest()).decode()
    if os.environ.get("TURN_USERNAME"):
        username = os.environ["TURN_USERNAME"]
        password = os.environ["TURN_PASSWORD"]

    loop = asyncio.get_running_loop()
    peer_t, peer = await loop.create_datagram_endpoint(
        Peer, local_addr=(peer_ip, 0))
    peer_addr = peer_t.get_extra_info("sockname")[:2]

    transport, client = await turn.create_turn_endpoint(
        Client, server_addr=server, username=username, password=password)
    relayed = transport.get_extra_info("sockname")
    print("aioice: relayed address %s:%d" % relayed[:2])

    for i in range(count):
        payload = os.urandom(100 + i)
        transport.sendto(payload, peer_addr)
        data, addr = await asyncio.wait_for(peer.got.get(), 5)
        assert data == payload, "peer got different bytes"
        assert addr[0] == relayed[0] and addr[1] == relayed[1], \
            "peer saw %r, not the relayed address %r" % (addr, relayed)
        data, addr = await asyncio.wait_for(client.got.get(), 5)
        assert data == b"echo:" + payload, "client got different bytes"
        assert tuple(addr[:2]) == tuple(peer_addr), "from %r" % (addr,)
    print("aioice: %d datagrams each way, byte-exact" % count)
    transport.close()
    peer_t.close()
    await asyncio.sleep(0.2)


asyncio.run(main())
