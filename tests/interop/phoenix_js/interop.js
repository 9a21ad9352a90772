// SPDX-License-Identifier: ISC
//
// The official Phoenix JavaScript client (npm "phoenix", over the "ws"
// package) against fz-portald: joins the relay, gateway and client sockets
// with the default V2 serializer (vsn 2.0.0) and a client once more with V1
// (vsn 1.0.0 + JSON objects), receives init on each, and runs
// request_authorization -> create_authorization -> authorization_created,
// including a tampered ref that must get invalid_ref.
//
// usage: node interop.js ws://127.0.0.1:PORT
"use strict";

const { Socket } = require("phoenix");
const WebSocket = require("ws");

const base = process.argv[2];
const PK_C = "fiAjSBWDgQfD1CFJkTwOf4zg+1QhH0eTT+oLaVIMpH8=";
const PK_C2 = "AYlDZtTGEucn4Vzjdi9A2kXpjO4LJUqZNAssv/JqYRA=";
const PK_G = "uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYWY=";
const SECRET = "4c98bf59c99b3e467ecd7cf9d6b3e5279645fca59be67bc5bb4af3cf653761ab";
const RELAY_ID = "aa93cc3a-23e1-4e3b-93b9-0b7bb3c0a369"; // §9

let failed = false;
const ok = (what) => console.log("ok - " + what);
function fail(what) {
	console.log("not ok - " + what);
	failed = true;
	process.exit(1);
}
function check(cond, what) {
	if (!cond)
		fail(what);
	ok(what);
}
setTimeout(() => fail("timed out"), 20000).unref();

// A ws transport that sends the headers connlib sends (§1.2).
function transport(token, ua) {
	return class extends WebSocket {
		constructor(url, protocols) {
			super(url, protocols, { headers: {
				"X-Authorization": "Bearer " + token,
				"User-Agent": ua } });
		}
	};
}

const v1 = {
	vsn: "1.0.0",
	encode: (msg, cb) => cb(JSON.stringify({ topic: msg.topic,
	    event: msg.event, payload: msg.payload, ref: msg.ref,
	    join_ref: msg.join_ref })),
	decode: (raw, cb) => cb(JSON.parse(raw)),
};

function socket(path, token, ua, params, extra) {
	const s = new Socket(base + path, Object.assign({
		transport: transport(token, ua), params: params,
		heartbeatIntervalMs: 1000, reconnectAfterMs: () => 60000,
	}, extra || {}));
	s.onError((e) => fail(path + ": socket error " + (e && e.message)));
	s.connect();
	return s;
}

// Joins topic on socket; resolves with the init payload.
function join(sock, topic, payload) {
	return new Promise((resolve) => {
		const ch = sock.channel(topic, payload || {});
		ch.on("init", (init) => resolve({ ch, init }));
		ch.join()
		    .receive("ok", () => ok(topic + ": joined"))
		    .receive("error", (e) => fail(topic + ": join refused " +
			JSON.stringify(e)));
	});
}

function once(ch, event) {
	return new Promise((resolve) => {
		const ref = ch.on(event, (p) => {
			ch.off(event, ref);
			resolve(p);
		});
	});
}

function pushError(ch, event, payload) {
	return new Promise((resolve) => {
		ch.push(event, payload)
		    .receive("error", (e) => resolve(e))
		    .receive("ok", () => fail(event + ": unexpected ok"));
	});
}

async function authorize(client, gw, resourceId, gwTag) {
	const created = once(gw, "create_authorization");
	client.push("request_authorization", { resource_id: resourceId,
	    connected_gateway_ids: [] });
	const ca = await created;
	check(typeof ca.ref === "string" && ca.resource.id === resourceId,
	    gwTag + ": create_authorization for the resource");
	check(ca.client.preshared_key.length === 44 &&
	    ca.gateway_ice_credentials.username.length === 4 &&
	    ca.client_ice_credentials.password.length === 22,
	    gwTag + ": PSK and ICE credentials");
	const tampered = ca.ref.slice(0, -2) +
	    (ca.ref.slice(-2) === "AA" ? "BB" : "AA");
	const e = await pushError(gw, "authorization_created",
	    { ref: tampered });
	check(e.reason === "invalid_ref", gwTag + ": tampered ref refused");
	const done = once(client, "authorization_created");
	gw.push("authorization_created", { ref: ca.ref });
	const ac = await done;
	check(ac.resource_id === resourceId && ac.gateway_public_key === PK_G &&
	    ac.preshared_key === ca.client.preshared_key &&
	    ac.client_ice_credentials.username ===
	    ca.client_ice_credentials.username,
	    gwTag + ": authorization_created at the client");
	return ac;
}

(async () => {
	// relay (vsn 2.0.0 default)
	const rs = socket("/relay", "relay-token", "Debian/12 relay/1.0.0",
	    { name: "r1", ipv4: "203.0.113.10", port: "3478" });
	const relay = await join(rs, "relay", { stamp_secret: SECRET });
	check(Object.keys(relay.init).length === 0, "relay: init {}");
	const e = await pushError(relay.ch, "hello", {});
	check(e.reason === "unknown_message", "relay: unknown_message");

	// gateway
	const gs = socket("/gateway/v2", "gw-token",
	    "Debian/12 gateway/1.4.19 (x86_64; 6.1.0)",
	    { external_id: "gw-1", name: "gw", public_key: PK_G });
	const gw = await join(gs, "gateway");
	check(/^100\.(6[4-9]|[7-8][0-9]|9[0-5])\./.test(
	    gw.init.interface.ipv4) && gw.init.account_slug === "acme" &&
	    Array.isArray(gw.init.authorizations) &&
	    gw.init.relays.some((r) => r.id === RELAY_ID),
	    "gateway: init (interface, slug, relays)");

	// client, V2
	const cs = socket("/client/v2", "alice-token",
	    "Debian/12 headless-client/1.5.12 (x86_64; 6.1.0)",
	    { external_id: "c-1", name: "alice", public_key: PK_C });
	const cl = await join(cs, "client");
	const lan = cl.init.resources.find((r) => r.name === "lan");
	check(lan && cl.init.resources.length === 1 &&
	    cl.init.interface.search_domain === "corp.test" &&
	    cl.init.flow_logs.upload_interval_secs === 0 &&
	    cl.init.relays.some((r) => r.id === RELAY_ID &&
	    r.addr === "203.0.113.10:3478"),
	    "client (V2): init (resources allowed, relays)");
	const u = await pushError(cl.ch, "what_is_this", {});
	check(u.reason === "unknown_message", "client: unknown_message");
	await authorize(cl.ch, gw.ch, lan.id, "V2");

	// client, V1 object serializer
	const cs1 = socket("/client/v2", "alice-token",
	    "Debian/12 headless-client/1.5.12 (x86_64; 6.1.0)",
	    { external_id: "c-2", name: "alice2", public_key: PK_C2 }, v1);
	const cl1 = await join(cs1, "client");
	check(cl1.init.resources.length === 1 &&
	    cl1.init.interface.ipv4 !== cl.init.interface.ipv4,
	    "client (V1): init with its own address");
	await authorize(cl1.ch, gw.ch, lan.id, "V1");

	for (const s of [cs1, cs, gs, rs])
		s.disconnect();
	if (!failed)
		console.log("all ok");
	setTimeout(() => process.exit(failed ? 1 : 0), 100);
})().catch((err) => fail("exception " + err.stack));
