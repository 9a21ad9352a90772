/* SPDX-License-Identifier: ISC */
/*
 * The replay window of tunneld/wg/keypair.c on its own (RFC 6479): a
 * sequence of counters with the verdict each must get, covering the
 * window's lower edge, word boundaries, jumps past the whole bitmap and
 * the REJECT_AFTER_MESSAGES limit (the cases Linux WireGuard's counter
 * self-test checks), then fills from either end of the window.
 */
#include <errno.h>
#include <string.h>

#include "wg_int.h"
#include "check_util.h"

#define W	WG_REPLAY_WINDOW		/* 1984 */
#define L	(W + 1)
#define R	REJECT_AFTER_MESSAGES

struct step {
	uint64_t	counter;
	int		rc;		/* 0: fresh, else -EALREADY */
};

static void
run(struct wg_replay *r, const struct step *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(wg_replay_check(r, s[i].counter) == s[i].rc,
		    "step %zu: counter %llu should give %d", i + 1,
		    (unsigned long long)s[i].counter, s[i].rc);
}

START_TEST(test_replay_sequence)
{
	static const struct step seq[] = {
		{ 0, 0 }, { 1, 0 }, { 1, -EALREADY },
		/* Out of order below the top. */
		{ 9, 0 }, { 8, 0 }, { 7, 0 }, { 7, -EALREADY },
		/* The top moves to the window's size: 0..L-1 still fit. */
		{ L, 0 }, { L - 1, 0 }, { L - 1, -EALREADY }, { L - 2, 0 },
		{ 2, 0 }, { 2, -EALREADY },
		/* 16 further: 3 falls out of the window. */
		{ L + 16, 0 }, { 3, -EALREADY }, { L + 16, -EALREADY },
		/* A jump of several windows forgets everything below. */
		{ 4 * L, 0 }, { 4 * L - (L - 1), 0 }, { 10, -EALREADY },
		{ 4 * L - L, -EALREADY }, { 4 * L - (L + 1), -EALREADY },
		{ 4 * L - (L - 2), 0 }, { 4 * L + 1 - L, -EALREADY },
		{ 0, -EALREADY },
		/* Counters at the limit are never accepted. */
		{ R, -EALREADY }, { R - 1, 0 }, { R, -EALREADY },
		{ R - 1, -EALREADY }, { R - 2, 0 }, { R + 1, -EALREADY },
		{ R + 2, -EALREADY }, { R - 2, -EALREADY }, { R - 3, 0 },
		{ 0, -EALREADY },
		{ UINT64_MAX, -EALREADY },
	};
	struct wg_replay r;

	wg_replay_init(&r);
	run(&r, seq, sizeof(seq) / sizeof(seq[0]));
}
END_TEST

/* The lowest counter accepted is exactly WG_REPLAY_WINDOW below the top. */
START_TEST(test_replay_lower_edge)
{
	struct wg_replay r;
	uint64_t top = 3000;

	wg_replay_init(&r);
	ck_assert_int_eq(wg_replay_check(&r, top), 0);
	ck_assert_int_eq(wg_replay_check(&r, top - W - 1), -EALREADY);
	ck_assert_int_eq(wg_replay_check(&r, top - W), 0);
	ck_assert_int_eq(wg_replay_check(&r, top - W), -EALREADY);
	ck_assert_int_eq(wg_replay_check(&r, top - 1), 0);
}
END_TEST

/* Ascending 1..W, then 0 (exactly at the edge) once. */
START_TEST(test_replay_fill_ascending)
{
	struct wg_replay r;
	uint64_t i;

	wg_replay_init(&r);
	for (i = 1; i <= W; i++)
		ck_assert_int_eq(wg_replay_check(&r, i), 0);
	ck_assert_int_eq(wg_replay_check(&r, 0), 0);
	ck_assert_int_eq(wg_replay_check(&r, 0), -EALREADY);

	wg_replay_init(&r);
	for (i = 2; i <= W + 1; i++)
		ck_assert_int_eq(wg_replay_check(&r, i), 0);
	ck_assert_int_eq(wg_replay_check(&r, 1), 0);
	ck_assert_int_eq(wg_replay_check(&r, 0), -EALREADY);
}
END_TEST

/* Descending from the top: every counter of the window once. */
START_TEST(test_replay_fill_descending)
{
	struct wg_replay r;
	uint64_t i;

	wg_replay_init(&r);
	for (i = W + 1; i-- > 0;)
		ck_assert_int_eq(wg_replay_check(&r, i), 0);

	wg_replay_init(&r);
	for (i = W + 2; i-- > 1;)
		ck_assert_int_eq(wg_replay_check(&r, i), 0);
	ck_assert_int_eq(wg_replay_check(&r, 0), -EALREADY);

	wg_replay_init(&r);
	for (i = W + 1; i-- > 1;)
		ck_assert_int_eq(wg_replay_check(&r, i), 0);
	ck_assert_int_eq(wg_replay_check(&r, W + 1), 0);
	ck_assert_int_eq(wg_replay_check(&r, 0), -EALREADY);

	wg_replay_init(&r);
	for (i = W + 1; i-- > 1;)
		ck_assert_int_eq(wg_replay_check(&r, i), 0);
	ck_assert_int_eq(wg_replay_check(&r, 0), 0);
	ck_assert_int_eq(wg_replay_check(&r, W + 1), 0);
}
END_TEST

/*
 * The bitmap is a ring of words: moving the top onto a word used before
 * clears it, so a counter whose bit sat there is fresh again if it is
 * still inside the window.
 */
START_TEST(test_replay_ring_reuse)
{
	struct wg_replay r;
	uint64_t i;

	wg_replay_init(&r);
	/* Bit 0 of word 1 (counter 63), then the same bit one lap later. */
	ck_assert_int_eq(wg_replay_check(&r, 63), 0);
	ck_assert_int_eq(wg_replay_check(&r, 63 + WG_REPLAY_BITS), 0);
	ck_assert_int_eq(wg_replay_check(&r, 63), -EALREADY);	/* too old */
	/* A counter of a cleared word inside the window is fresh, once. */
	ck_assert_int_eq(wg_replay_check(&r, 63 + WG_REPLAY_BITS - W), 0);
	ck_assert_int_eq(wg_replay_check(&r, 63 + WG_REPLAY_BITS - W),
	    -EALREADY);

	/* Step by step over many laps: each counter fresh once. */
	wg_replay_init(&r);
	for (i = 0; i < 4 * WG_REPLAY_BITS; i += 7) {
		ck_assert_int_eq(wg_replay_check(&r, i), 0);
		ck_assert_int_eq(wg_replay_check(&r, i), -EALREADY);
		if (i >= 7)
			ck_assert_int_eq(wg_replay_check(&r, i - 7),
			    -EALREADY);
	}
}
END_TEST

static Suite *
replay_suite(void)
{
	Suite *s = suite_create("wg_replay");
	TCase *tc = tcase_create("window");

	tcase_add_test(tc, test_replay_sequence);
	tcase_add_test(tc, test_replay_lower_edge);
	tcase_add_test(tc, test_replay_fill_ascending);
	tcase_add_test(tc, test_replay_fill_descending);
	tcase_add_test(tc, test_replay_ring_reuse);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(replay_suite)
