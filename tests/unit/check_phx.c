/* SPDX-License-Identifier: ISC */
/*
 * Phoenix frames, V1 and V2: the example frames of firezone-protocols.md
 * §9 and of connlib's phoenix-channel tests decode; our encoder gives
 * them back byte for byte; malformed frames are refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "phx.h"

/* Frames in our encoder's key order: decode -> encode is the identity. */
static const char *const v1_roundtrip[] = {
	"{\"topic\":\"client\",\"event\":\"phx_join\",\"payload\":null,\"ref\":0}",
	"{\"topic\":\"phoenix\",\"event\":\"heartbeat\",\"payload\":{},\"ref\":1}",
	"{\"topic\":\"client\",\"event\":\"set_snownet_capabilities\","
	    "\"payload\":{\"iceless\":false},\"ref\":2}",
	"{\"topic\":\"client\",\"event\":\"request_authorization\",\"payload\":"
	    "{\"resource_id\":\"733e8d14-c18d-4931-af30-3639fa09c0c0\","
	    "\"connected_gateway_ids\":[]},\"ref\":3}",
	"{\"topic\":\"gateway\",\"event\":\"authorization_created\",\"payload\":"
	    "{\"ref\":\"SFMyNTY.g2gDbQAAACQ.abc\"},\"ref\":7}",
	"{\"topic\":\"relay\",\"event\":\"phx_join\",\"payload\":{\"stamp_secret\":"
	    "\"4c98bf59c99b3e467ecd7cf9d6b3e5279645fca59be67bc5bb4af3cf653761ab\"},"
	    "\"ref\":0}",
	"{\"topic\":\"client\",\"event\":\"resource_deleted\",\"payload\":"
	    "\"73037362-715d-4a83-a749-f18eadd970e6\",\"ref\":null}",
	"{\"topic\":\"client\",\"event\":\"x\",\"payload\":[1,\"a\"],\"ref\":\"5\","
	    "\"join_ref\":\"1\"}",
};

START_TEST(v1_examples_roundtrip)
{
	struct phx_frame f;
	char *again;
	size_t i;

	for (i = 0; i < sizeof(v1_roundtrip) / sizeof(v1_roundtrip[0]); i++) {
		const char *t = v1_roundtrip[i];

		ck_assert_int_eq(phx_frame_decode(PHX_V1, t, strlen(t), &f), 0);
		again = phx_frame_encode(PHX_V1, f.topic, f.event, f.payload,
		    f.ref, f.join_ref);
		ck_assert_ptr_nonnull(again);
		ck_assert_str_eq(again, t);
		free(again);
		phx_frame_clear(&f);
		phx_frame_clear(&f);	/* idempotent */
	}
}
END_TEST

START_TEST(v1_portal_replies)
{
	/* connlib's phoenix-channel tests: the portal's key order. */
	static const char reply[] = "{\"event\":\"phx_reply\",\"ref\":0,"
	    "\"topic\":\"test\",\"payload\":{\"status\":\"ok\",\"response\":{}}}";
	static const char push[] = "{\"topic\":\"test\",\"event\":\"foo\","
	    "\"payload\":null}";
	static const char nopayload[] = "{\"topic\":\"test\",\"event\":\"bar\","
	    "\"ref\":1}";
	const json_t *resp;
	struct phx_frame f;
	long long ref;
	bool ok;

	ck_assert_int_eq(phx_frame_decode(PHX_V1, reply, strlen(reply), &f), 0);
	ck_assert_str_eq(f.topic, "test");
	ck_assert_str_eq(f.event, "phx_reply");
	ck_assert_int_eq(phx_ref_int(f.ref, &ref), 0);
	ck_assert_int_eq(ref, 0);
	ck_assert_ptr_null(f.join_ref);
	ck_assert_int_eq(phx_reply_parse(f.payload, &ok, &resp), 0);
	ck_assert(ok);
	ck_assert(json_is_object(resp));
	phx_frame_clear(&f);

	ck_assert_int_eq(phx_frame_decode(PHX_V1, push, strlen(push), &f), 0);
	ck_assert(json_is_null(f.payload));
	ck_assert_ptr_null(f.ref);
	ck_assert_int_eq(phx_ref_int(f.ref, &ref), -EBADMSG);
	ck_assert_int_eq(phx_reply_parse(f.payload, &ok, &resp), -EBADMSG);
	phx_frame_clear(&f);

	ck_assert_int_eq(phx_frame_decode(PHX_V1, nopayload,
	    strlen(nopayload), &f), 0);
	ck_assert(json_is_null(f.payload));
	phx_frame_clear(&f);
}
END_TEST

START_TEST(v2_arrays)
{
	/* phoenix.js with vsn=2.0.0. */
	static const char join[] = "[\"3\",\"3\",\"client\",\"phx_join\",{}]";
	static const char hb[] = "[null,\"4\",\"phoenix\",\"heartbeat\",{}]";
	struct phx_frame f;
	json_t *resp;
	char *t;

	ck_assert_int_eq(phx_frame_decode(PHX_V2, join, strlen(join), &f), 0);
	ck_assert_str_eq(f.topic, "client");
	ck_assert_str_eq(f.event, "phx_join");
	ck_assert_str_eq(json_string_value(f.ref), "3");
	ck_assert_str_eq(json_string_value(f.join_ref), "3");
	/* The reply echoes join_ref and ref as given. */
	resp = phx_reply_payload(true, NULL);
	t = phx_frame_encode(PHX_V2, f.topic, "phx_reply", resp, f.ref,
	    f.join_ref);
	ck_assert_str_eq(t, "[\"3\",\"3\",\"client\",\"phx_reply\","
	    "{\"status\":\"ok\",\"response\":{}}]");
	free(t);
	json_decref(resp);
	phx_frame_clear(&f);

	ck_assert_int_eq(phx_frame_decode(PHX_V2, hb, strlen(hb), &f), 0);
	ck_assert_ptr_null(f.join_ref);
	t = phx_frame_encode(PHX_V2, f.topic, f.event, f.payload, f.ref,
	    f.join_ref);
	ck_assert_str_eq(t, hb);
	free(t);
	phx_frame_clear(&f);

	/* An object is not a V2 frame, an array not a V1 frame. */
	ck_assert_int_eq(phx_frame_decode(PHX_V2, v1_roundtrip[0],
	    strlen(v1_roundtrip[0]), &f), -EBADMSG);
	ck_assert_int_eq(phx_frame_decode(PHX_V1, hb, strlen(hb), &f),
	    -EBADMSG);
}
END_TEST

START_TEST(reply_payloads)
{
	json_t *p = phx_reply_payload(false, json_pack("{s:s}", "reason",
	    "unmatched topic"));
	const json_t *resp;
	char *t;
	bool ok = true;

	t = phx_frame_encode(PHX_V1, "client", "phx_reply", p, NULL, NULL);
	ck_assert_str_eq(t, "{\"topic\":\"client\",\"event\":\"phx_reply\","
	    "\"payload\":{\"status\":\"error\",\"response\":{\"reason\":"
	    "\"unmatched topic\"}},\"ref\":null}");
	free(t);
	ck_assert_int_eq(phx_reply_parse(p, &ok, &resp), 0);
	ck_assert(!ok);
	ck_assert_str_eq(json_string_value(json_object_get(resp, "reason")),
	    "unmatched topic");
	json_decref(p);
}
END_TEST

START_TEST(malformed_frames)
{
	static const char *const v1_bad[] = {
		"", "{", "null", "[]", "\"x\"", "{}",
		"{\"event\":\"e\",\"payload\":{}}",
		"{\"topic\":\"t\",\"payload\":{}}",
		"{\"topic\":1,\"event\":\"e\",\"payload\":{}}",
		"{\"topic\":\"t\",\"event\":null,\"payload\":{}}",
		"{\"topic\":\"\",\"event\":\"e\",\"payload\":{}}",
		"{\"topic\":\"t\",\"event\":\"e\",\"payload\":{},\"ref\":true}",
		"{\"topic\":\"t\",\"event\":\"e\",\"payload\":{},\"ref\":1.5}",
		"{\"topic\":\"t\",\"event\":\"e\",\"payload\":{},\"ref\":{}}",
		"{\"topic\":\"t\",\"event\":\"e\",\"payload\":{},\"join_ref\":[]}",
		/* duplicate keys, trailing bytes, NUL */
		"{\"topic\":\"t\",\"topic\":\"u\",\"event\":\"e\",\"payload\":1}",
		"{\"topic\":\"t\",\"event\":\"e\",\"payload\":{\"a\":1,\"a\":2}}",
		"{\"topic\":\"t\",\"event\":\"e\",\"payload\":1} x",
		"{\"topic\":\"t\\u0000\",\"event\":\"e\",\"payload\":1}",
	};
	static const char *const v2_bad[] = {
		"[null,null,\"t\",\"e\"]",
		"[null,null,\"t\",\"e\",{},1]",
		"[null,null,1,\"e\",{}]",
		"[true,null,\"t\",\"e\",{}]",
		"[null,null,\"t\",\"\",{}]",
	};
	static const char v1_small[] = "{\"topic\":\"t\",\"event\":\"e\","
	    "\"payload\":1}";
	struct phx_frame f;
	char *big;
	size_t i;

	for (i = 0; i < sizeof(v1_bad) / sizeof(v1_bad[0]); i++)
		ck_assert_msg(phx_frame_decode(PHX_V1, v1_bad[i],
		    strlen(v1_bad[i]), &f) == -EBADMSG, "%s", v1_bad[i]);
	for (i = 0; i < sizeof(v2_bad) / sizeof(v2_bad[0]); i++)
		ck_assert_msg(phx_frame_decode(PHX_V2, v2_bad[i],
		    strlen(v2_bad[i]), &f) == -EBADMSG, "%s", v2_bad[i]);
	/* Over 1 MiB: refused before parsing. */
	big = malloc(PHX_MAX_FRAME + 2);
	memset(big, ' ', PHX_MAX_FRAME + 1);
	memcpy(big, v1_small, strlen(v1_small));
	ck_assert_int_eq(phx_frame_decode(PHX_V1, big, PHX_MAX_FRAME + 1, &f),
	    -EBADMSG);
	/* Exactly 1 MiB (trailing whitespace is JSON) is fine. */
	ck_assert_int_eq(phx_frame_decode(PHX_V1, big, PHX_MAX_FRAME, &f), 0);
	phx_frame_clear(&f);
	free(big);
	/* An overlong topic and string ref. */
	big = malloc(PHX_MAX_TOPIC + 64);
	memset(big, 'a', PHX_MAX_TOPIC + 64);
	memcpy(big, "[null,\"", 7);
	memcpy(big + PHX_MAX_REF + 8, "\",\"t\",\"e\",1]", 12);
	ck_assert_int_eq(phx_frame_decode(PHX_V2, big, PHX_MAX_REF + 20, &f),
	    -EBADMSG);
	free(big);
	ck_assert_ptr_null(phx_frame_encode(PHX_V1, NULL, "e", NULL, NULL,
	    NULL));
}
END_TEST

static Suite *
phx_suite(void)
{
	Suite *s = suite_create("phx");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, v1_examples_roundtrip);
	tcase_add_test(tc, v1_portal_replies);
	tcase_add_test(tc, v2_arrays);
	tcase_add_test(tc, reply_payloads);
	tcase_add_test(tc, malformed_frames);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(phx_suite)
