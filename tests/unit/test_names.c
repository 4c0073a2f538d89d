/*
 * test_names.c - unit tests for the placeholder-address table
 * (preload/names.c).
 *
 * Every test makes its own table, so the suite also runs with CK_FORK=no.
 * Threads and forked children never call ck_assert (it is neither thread-
 * nor fork-safe): threads count what went wrong and the main thread
 * asserts the count; children report through their exit status or a pipe.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "names.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* 127.192.0.0/10 and 100::/64, the ranges the shim uses by default. */
static struct names_cfg default_cfg(uint32_t capacity)
{
	struct names_cfg c;

	memset(&c, 0, sizeof(c));
	c.v4_base[0] = 127;
	c.v4_base[1] = 192;
	c.v4_prefix = 10;
	c.v6_base[0] = 0x01;
	c.v6_prefix = 64;
	c.capacity = capacity;
	return c;
}

static struct names *make(const struct names_cfg *c)
{
	struct names *t = NULL;

	ck_assert_int_eq(names_create(&t, c), 0);
	ck_assert_ptr_nonnull(t);
	return t;
}

static struct in_addr v4_of(const char *text)
{
	struct in_addr a;

	ck_assert_int_eq(inet_pton(AF_INET, text, &a), 1);
	return a;
}

static struct in6_addr v6_of(const char *text)
{
	struct in6_addr a;

	ck_assert_int_eq(inet_pton(AF_INET6, text, &a), 1);
	return a;
}

/* The v4 address `off` past the start of c's IPv4 range. */
static struct in_addr v4_at(const struct names_cfg *c, uint32_t off)
{
	uint32_t base = (uint32_t)c->v4_base[0] << 24 |
			(uint32_t)c->v4_base[1] << 16 |
			(uint32_t)c->v4_base[2] << 8 | c->v4_base[3];
	struct in_addr a;

	a.s_addr = htonl(base + off);
	return a;
}

/* The v6 address `off` past the start of c's IPv6 range (low 64 bits). */
static struct in6_addr v6_at(const struct names_cfg *c, uint64_t off)
{
	struct in6_addr a;
	uint64_t low = 0;

	memcpy(a.s6_addr, c->v6_base, 16);
	for (int i = 8; i < 16; i++)
		low = low << 8 | a.s6_addr[i];
	low += off;
	for (int i = 15; i >= 8; i--, low >>= 8)
		a.s6_addr[i] = (uint8_t)low;
	return a;
}

static int v4_eq(const struct in_addr *a, const struct in_addr *b)
{
	return a->s_addr == b->s_addr;
}

static int v6_eq(const struct in6_addr *a, const struct in6_addr *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static void get(struct names *t, const char *name, struct in_addr *v4,
		struct in6_addr *v6)
{
	ck_assert_int_eq(names_get(t, name, strlen(name), v4, v6), 0);
}

/* a reverses (both families) to exactly `want`. */
static void assert_reverses(struct names *t, const struct in_addr *v4,
			    const struct in6_addr *v6, const char *want)
{
	char buf[NAMES_MAX_NAME + 1];

	ck_assert_int_eq(names_reverse_v4(t, v4, buf, sizeof(buf)),
			 (int)strlen(want));
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(names_reverse_v6(t, v6, buf, sizeof(buf)),
			 (int)strlen(want));
	ck_assert_str_eq(buf, want);
}

static void assert_unknown(struct names *t, const struct in_addr *v4,
			   const struct in6_addr *v6)
{
	char buf[NAMES_MAX_NAME + 1];

	ck_assert_int_eq(names_reverse_v4(t, v4, buf, sizeof(buf)), -ENOENT);
	ck_assert_int_eq(names_reverse_v6(t, v6, buf, sizeof(buf)), -ENOENT);
}

/* ---- create, lookup, reverse ---- */

START_TEST(test_create_destroy)
{
	struct names_cfg c = default_cfg(65536);
	struct names *t = make(&c);

	ck_assert_uint_eq(names_count(t), 0);
	names_destroy(t);
}
END_TEST

/* The largest capacity the header allows: a big but sparse mapping. */
START_TEST(test_create_max_capacity)
{
	struct names_cfg c = default_cfg(1u << 24);
	struct in_addr a4;
	struct in6_addr a6;
	struct names *t;

	c.v4_base[0] = 8;
	c.v4_base[1] = 0;
	c.v4_prefix = 6;
	t = make(&c);
	get(t, "big.example", &a4, &a6);
	assert_reverses(t, &a4, &a6, "big.example");
	names_destroy(t);
}
END_TEST

START_TEST(test_create_rejects_bad_cfg)
{
	struct names_cfg c = default_cfg(0);
	struct names *t = NULL;

	ck_assert_int_eq(names_create(&t, &c), -EINVAL);
	ck_assert_ptr_null(t);
}
END_TEST

/* Spellings of one name: any case, with or without the trailing dot. */
static const char *const spellings[] = {
    "www.example.com",	"WWW.EXAMPLE.COM", "www.example.com.",
    "Www.Example.Com.", "wWw.eXaMpLe.CoM",
};

START_TEST(test_same_name_same_v4)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct in_addr a, b;

	get(t, "www.example.com", &a, NULL);
	get(t, spellings[_i], &b, NULL);
	ck_assert(v4_eq(&a, &b));
	names_destroy(t);
}
END_TEST

START_TEST(test_same_name_same_v6)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct in6_addr a, b;

	get(t, "www.example.com", NULL, &a);
	get(t, spellings[_i], NULL, &b);
	ck_assert(v6_eq(&a, &b));
	names_destroy(t);
}
END_TEST

START_TEST(test_same_name_one_slot)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);

	get(t, "www.example.com", NULL, NULL);
	get(t, spellings[_i], NULL, NULL);
	ck_assert_uint_eq(names_count(t), 1);
	names_destroy(t);
}
END_TEST

/* The name is stored as first given (minus the trailing dot). */
START_TEST(test_stored_as_first_given)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct in_addr a4;
	struct in6_addr a6;

	get(t, "Www.Example.COM.", &a4, &a6);
	get(t, "www.example.com", NULL, NULL);
	assert_reverses(t, &a4, &a6, "Www.Example.COM");
	names_destroy(t);
}
END_TEST

START_TEST(test_different_names_differ)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct in_addr a4, b4;
	struct in6_addr a6, b6;

	get(t, "a.example", &a4, &a6);
	get(t, "b.example", &b4, &b6);
	ck_assert(!v4_eq(&a4, &b4));
	ck_assert(!v6_eq(&a6, &b6));
	names_destroy(t);
}
END_TEST

/* Names that differ only past the case-folded letters are different. */
START_TEST(test_near_names_differ)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct in_addr a4, b4;

	get(t, "a.example", &a4, NULL);
	get(t, "a.example.", NULL, NULL);
	get(t, "a.example..", &b4, NULL);
	ck_assert(!v4_eq(&a4, &b4));
	names_destroy(t);
}
END_TEST

START_TEST(test_placeholders_in_range)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct in_addr a4;
	struct in6_addr a6;

	get(t, "www.example.com", &a4, &a6);
	ck_assert_int_eq(names_in_range_v4(&c, &a4), 1);
	ck_assert_int_eq(names_in_range_v6(&c, &a6), 1);
	names_destroy(t);
}
END_TEST

START_TEST(test_placeholders_reverse)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct in_addr a4;
	struct in6_addr a6;

	get(t, "www.example.com", &a4, &a6);
	assert_reverses(t, &a4, &a6, "www.example.com");
	names_destroy(t);
}
END_TEST

/* The first name goes to slot 0 at epoch 0: offset 1 in both ranges. */
START_TEST(test_first_placeholder)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct in_addr a4, w4 = v4_of("127.192.0.1");
	struct in6_addr a6, w6 = v6_of("100::1");

	get(t, "www.example.com", &a4, &a6);
	ck_assert(v4_eq(&a4, &w4));
	ck_assert(v6_eq(&a6, &w6));
	names_destroy(t);
}
END_TEST

/* The longest name, 255 bytes, with and without its trailing dot. */
START_TEST(test_longest_name)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	char name[NAMES_MAX_NAME + 2];
	struct in_addr a4, b4;
	struct in6_addr a6;

	memset(name, 'x', NAMES_MAX_NAME);
	name[NAMES_MAX_NAME] = '.';
	name[NAMES_MAX_NAME + 1] = '\0';
	ck_assert_int_eq(names_get(t, name, NAMES_MAX_NAME + 1, &a4, &a6), 0);
	ck_assert_int_eq(names_get(t, name, NAMES_MAX_NAME, &b4, NULL), 0);
	ck_assert(v4_eq(&a4, &b4));
	name[NAMES_MAX_NAME] = '\0';
	assert_reverses(t, &a4, &a6, name);
	names_destroy(t);
}
END_TEST

/* ---- reverse errors ---- */

START_TEST(test_reverse_empty_table)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct in_addr a4 = v4_at(&c, 1);
	struct in6_addr a6 = v6_at(&c, 1);

	assert_unknown(t, &a4, &a6);
	names_destroy(t);
}
END_TEST

/* Offsets in range that no name has: the network address, a slot not yet
 * used, the next epoch of a used slot, past the last epoch, the last
 * address of the range. */
static const uint64_t unused_v4_offsets[] = {
    0, 2, 64, 65, 65535 * 64 + 1, (1u << 22) - 1,
};

START_TEST(test_reverse_never_given_v4)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct in_addr a = v4_at(&c, (uint32_t)unused_v4_offsets[_i]);
	char buf[64];

	get(t, "www.example.com", NULL, NULL);
	ck_assert_int_eq(names_reverse_v4(t, &a, buf, sizeof(buf)), -ENOENT);
	names_destroy(t);
}
END_TEST

static const uint64_t unused_v6_offsets[] = {
    0, 2, 64, 65, (UINT64_C(1) << 32) * 64 + 1, UINT64_MAX,
};

START_TEST(test_reverse_never_given_v6)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct in6_addr a = v6_at(&c, unused_v6_offsets[_i]);
	char buf[64];

	get(t, "www.example.com", NULL, NULL);
	ck_assert_int_eq(names_reverse_v6(t, &a, buf, sizeof(buf)), -ENOENT);
	names_destroy(t);
}
END_TEST

/* A /8 IPv6 range: host bits in the high 64 put the address beyond every
 * offset given out. */
START_TEST(test_reverse_v6_high_host_bits)
{
	struct names_cfg c = default_cfg(64);
	struct names *t;
	struct in6_addr a = v6_of("fd00::1"), b = v6_of("fd00:1::1");
	char buf[64];

	memset(c.v6_base, 0, sizeof(c.v6_base));
	c.v6_base[0] = 0xfd;
	c.v6_prefix = 8;
	t = make(&c);
	get(t, "www.example.com", NULL, NULL);
	ck_assert_int_eq(names_reverse_v6(t, &a, buf, sizeof(buf)), 15);
	ck_assert_int_eq(names_reverse_v6(t, &b, buf, sizeof(buf)), -ENOENT);
	names_destroy(t);
}
END_TEST

static const char *const outside_v4[] = {
    "127.0.0.1", "127.191.255.255", "128.0.0.1", "10.0.0.1", "0.0.0.0",
};

START_TEST(test_reverse_out_of_range_v4)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct in_addr a = v4_of(outside_v4[_i]);
	char buf[64];

	get(t, "www.example.com", NULL, NULL);
	ck_assert_int_eq(names_reverse_v4(t, &a, buf, sizeof(buf)),
			 -EAFNOSUPPORT);
	names_destroy(t);
}
END_TEST

static const char *const outside_v6[] = {
    "::1",
    "100:0:0:1::1",
    "101::1",
    "::ffff:127.192.0.1",
};

START_TEST(test_reverse_out_of_range_v6)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct in6_addr a = v6_of(outside_v6[_i]);
	char buf[64];

	get(t, "www.example.com", NULL, NULL);
	ck_assert_int_eq(names_reverse_v6(t, &a, buf, sizeof(buf)),
			 -EAFNOSUPPORT);
	names_destroy(t);
}
END_TEST

START_TEST(test_in_range_v4)
{
	struct names_cfg c = default_cfg(64);
	struct in_addr lo = v4_of("127.192.0.0"), hi = v4_of("127.255.255.255");

	ck_assert_int_eq(names_in_range_v4(&c, &lo), 1);
	ck_assert_int_eq(names_in_range_v4(&c, &hi), 1);
}
END_TEST

START_TEST(test_out_of_range_v4)
{
	struct names_cfg c = default_cfg(64);
	struct in_addr a = v4_of(outside_v4[_i]);

	ck_assert_int_eq(names_in_range_v4(&c, &a), 0);
}
END_TEST

START_TEST(test_in_range_v6)
{
	struct names_cfg c = default_cfg(64);
	struct in6_addr lo = v6_of("100::"),
			hi = v6_of("100::ffff:ffff:ffff:ffff");

	ck_assert_int_eq(names_in_range_v6(&c, &lo), 1);
	ck_assert_int_eq(names_in_range_v6(&c, &hi), 1);
}
END_TEST

START_TEST(test_out_of_range_v6)
{
	struct names_cfg c = default_cfg(64);
	struct in6_addr a = v6_of(outside_v6[_i]);

	ck_assert_int_eq(names_in_range_v6(&c, &a), 0);
}
END_TEST

START_TEST(test_reverse_small_buffer)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct in_addr a4;
	struct in6_addr a6;
	char buf[16];

	get(t, "abcdef", &a4, &a6);
	ck_assert_int_eq(names_reverse_v4(t, &a4, buf, 6), -ERANGE);
	ck_assert_int_eq(names_reverse_v6(t, &a6, buf, 6), -ERANGE);
	ck_assert_int_eq(names_reverse_v4(t, &a4, NULL, 0), -ERANGE);
	names_destroy(t);
}
END_TEST

START_TEST(test_reverse_exact_buffer)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct in_addr a4;
	char buf[7];

	get(t, "abcdef", &a4, NULL);
	ck_assert_int_eq(names_reverse_v4(t, &a4, buf, sizeof(buf)), 6);
	ck_assert_str_eq(buf, "abcdef");
	names_destroy(t);
}
END_TEST

/* ---- bad names ---- */

struct bad_name {
	const char *name;
	size_t len;
};

static const char long_name[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    ".";

static const struct bad_name bad_names[] = {
    {"", 0},	      {".", 1},		{"a\0b", 3}, {"ab\0", 3},
    {"\0.", 2},	      {long_name, 256}, /* 256 bytes, no trailing dot */
    {long_name, 257},			/* 256 + dot */
    {NULL, 3},
};

START_TEST(test_bad_name)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct in_addr a4;

	ck_assert_int_eq(
	    names_get(t, bad_names[_i].name, bad_names[_i].len, &a4, NULL),
	    -EINVAL);
	ck_assert_uint_eq(names_count(t), 0);
	names_destroy(t);
}
END_TEST

/* ---- the bound, CLOCK, reuse, epochs ---- */

START_TEST(test_bound)
{
	struct names_cfg c = default_cfg(8);
	struct names *t = make(&c);
	char name[32];
	uint32_t most = 0;

	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		get(t, name, NULL, NULL);
		if (names_count(t) > most)
			most = names_count(t);
	}
	ck_assert_uint_eq(most, 8);
	ck_assert_uint_eq(names_count(t), 8);
	names_destroy(t);
}
END_TEST

/* The newest names stay: with capacity 8, the last 8 distinct names added
 * (none touched again) are all there. */
START_TEST(test_bound_keeps_newest)
{
	struct names_cfg c = default_cfg(8);
	struct names *t = make(&c);
	struct in_addr a4[100];
	struct in6_addr a6[100];
	char name[32];

	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		get(t, name, &a4[i], &a6[i]);
	}
	for (int i = 92; i < 100; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		assert_reverses(t, &a4[i], &a6[i], name);
	}
	names_destroy(t);
}
END_TEST

/* Fills a capacity-8 table with k0..k7, then adds 50 new names, touching
 * k3 (via the `touch` way) after each.  Returns k3's first placeholders in
 * *k3_4, *k3_6 and k0's in *k0_4, *k0_6. */
enum touch { TOUCH_GET, TOUCH_REVERSE_V4, TOUCH_REVERSE_V6 };

static struct names *clock_run(const struct names_cfg *c, enum touch how,
			       struct in_addr *k3_4, struct in6_addr *k3_6,
			       struct in_addr *k0_4, struct in6_addr *k0_6)
{
	struct names *t = make(c);
	char name[32], buf[64];
	struct in_addr a4;
	struct in6_addr a6;

	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "k%d.example", i);
		get(t, name, &a4, &a6);
		if (i == 0) {
			*k0_4 = a4;
			*k0_6 = a6;
		}
		if (i == 3) {
			*k3_4 = a4;
			*k3_6 = a6;
		}
	}
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "new%d.example", i);
		get(t, name, NULL, NULL);
		if (how == TOUCH_GET)
			get(t, "K3.example", NULL, NULL);
		else if (how == TOUCH_REVERSE_V4)
			names_reverse_v4(t, k3_4, buf, sizeof(buf));
		else
			names_reverse_v6(t, k3_6, buf, sizeof(buf));
	}
	return t;
}

START_TEST(test_clock_touched_survives)
{
	struct names_cfg c = default_cfg(8);
	struct in_addr k3_4, k0_4;
	struct in6_addr k3_6, k0_6;
	struct names *t =
	    clock_run(&c, (enum touch)_i, &k3_4, &k3_6, &k0_4, &k0_6);

	assert_reverses(t, &k3_4, &k3_6, "k3.example");
	names_destroy(t);
}
END_TEST

START_TEST(test_clock_touched_same_placeholder)
{
	struct names_cfg c = default_cfg(8);
	struct in_addr k3_4, k0_4, now4;
	struct in6_addr k3_6, k0_6, now6;
	struct names *t =
	    clock_run(&c, (enum touch)_i, &k3_4, &k3_6, &k0_4, &k0_6);

	get(t, "k3.example", &now4, &now6);
	ck_assert(v4_eq(&now4, &k3_4));
	ck_assert(v6_eq(&now6, &k3_6));
	names_destroy(t);
}
END_TEST

START_TEST(test_clock_untouched_evicted)
{
	struct names_cfg c = default_cfg(8);
	struct in_addr k3_4, k0_4;
	struct in6_addr k3_6, k0_6;
	struct names *t =
	    clock_run(&c, (enum touch)_i, &k3_4, &k3_6, &k0_4, &k0_6);

	assert_unknown(t, &k0_4, &k0_6);
	names_destroy(t);
}
END_TEST

/* Every k but k3 is gone: each untouched k gets a placeholder it did not
 * have (a fresh slot or epoch) when asked for again. */
START_TEST(test_clock_all_untouched_evicted)
{
	struct names_cfg c = default_cfg(8);
	struct in_addr k3_4, k0_4;
	struct in6_addr k3_6, k0_6;
	struct names *t = clock_run(&c, TOUCH_GET, &k3_4, &k3_6, &k0_4, &k0_6);
	char name[32], buf[64];
	int left = 0;

	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "k%d.example", i);
		/* Reverse lookups of the current table: k_i is held iff some
		 * slot's current placeholder reverses to it; checking all 8
		 * slots' current epochs finds that. */
		for (uint32_t s = 0; s < 8; s++) {
			for (uint32_t e = 0; e < 60; e++) {
				struct in_addr a = v4_at(&c, 1 + e * 8 + s);

				if (names_reverse_v4(t, &a, buf, sizeof(buf)) >
					0 &&
				    strcmp(buf, name) == 0)
					left |= 1 << i;
			}
		}
	}
	ck_assert_int_eq(left, 1 << 3);
	names_destroy(t);
}
END_TEST

START_TEST(test_reuse_old_placeholder_unknown)
{
	struct names_cfg c = default_cfg(1);
	struct names *t = make(&c);
	struct in_addr a4;
	struct in6_addr a6;

	get(t, "old.example", &a4, &a6);
	get(t, "new.example", NULL, NULL);
	assert_unknown(t, &a4, &a6);
	names_destroy(t);
}
END_TEST

START_TEST(test_reuse_new_placeholder_differs)
{
	struct names_cfg c = default_cfg(1);
	struct names *t = make(&c);
	struct in_addr a4, b4;
	struct in6_addr a6, b6;

	get(t, "old.example", &a4, &a6);
	get(t, "new.example", &b4, &b6);
	ck_assert(!v4_eq(&a4, &b4));
	ck_assert(!v6_eq(&a6, &b6));
	assert_reverses(t, &b4, &b6, "new.example");
	names_destroy(t);
}
END_TEST

/* The old name, asked for again, gets neither its old placeholder nor the
 * one the new name holds (capacity 2: it takes the other slot). */
START_TEST(test_reuse_old_name_comes_back_fresh)
{
	struct names_cfg c = default_cfg(2);
	struct names *t = make(&c);
	struct in_addr a4, b4, again4;

	get(t, "a.example", &a4, NULL);
	get(t, "b.example", NULL, NULL);
	get(t, "c.example", &b4, NULL); /* evicts a */
	get(t, "a.example", &again4, NULL);
	ck_assert(!v4_eq(&again4, &a4));
	ck_assert(!v4_eq(&again4, &b4));
	names_destroy(t);
}
END_TEST

/*
 * Epochs of a small IPv4 range: 127.192.0.0/30 has 4 addresses, so with
 * capacity 1 it holds floor((4 - 1) / 1) = 3 epochs: the k-th name added
 * gets offset 1 + (k mod 3).  The 4th name gets the 1st's address again;
 * that old placeholder then stands for the 4th name (v4 addresses repeat
 * after E reuses of a slot).  The IPv6 range holds many more epochs, so
 * the IPv6 placeholder does not repeat.
 */
static const char *const wrap_names[] = {"w0", "w1", "w2", "w3", "w4"};

static struct names *wrap_run(struct names_cfg *c, struct in_addr *a4,
			      struct in6_addr *a6)
{
	struct names *t;

	*c = default_cfg(1);
	c->v4_prefix = 30;
	t = make(c);
	for (size_t i = 0; i < ARRAY_SIZE(wrap_names); i++)
		get(t, wrap_names[i], &a4[i], &a6[i]);
	return t;
}

START_TEST(test_epoch_wrap_v4_offsets)
{
	struct names_cfg c;
	struct in_addr a4[ARRAY_SIZE(wrap_names)];
	struct in6_addr a6[ARRAY_SIZE(wrap_names)];
	struct names *t = wrap_run(&c, a4, a6);
	struct in_addr want = v4_at(&c, (uint32_t)(1 + _i % 3));

	ck_assert(v4_eq(&a4[_i], &want));
	names_destroy(t);
}
END_TEST

START_TEST(test_epoch_wrap_v4_repeats)
{
	struct names_cfg c;
	struct in_addr a4[ARRAY_SIZE(wrap_names)];
	struct in6_addr a6[ARRAY_SIZE(wrap_names)];
	struct names *t = wrap_run(&c, a4, a6);
	char buf[16];

	/* w1's address now stands for w4, the current name. */
	ck_assert_int_eq(names_reverse_v4(t, &a4[1], buf, sizeof(buf)), 2);
	ck_assert_str_eq(buf, "w4");
	names_destroy(t);
}
END_TEST

START_TEST(test_epoch_wrap_v4_others_unknown)
{
	struct names_cfg c;
	struct in_addr a4[ARRAY_SIZE(wrap_names)];
	struct in6_addr a6[ARRAY_SIZE(wrap_names)];
	struct names *t = wrap_run(&c, a4, a6);
	char buf[16];

	/* w0/w3 (offset 1) and w2 (offset 3) are not the current epoch. */
	ck_assert_int_eq(names_reverse_v4(t, &a4[0], buf, sizeof(buf)),
			 -ENOENT);
	ck_assert_int_eq(names_reverse_v4(t, &a4[2], buf, sizeof(buf)),
			 -ENOENT);
	names_destroy(t);
}
END_TEST

START_TEST(test_epoch_wrap_v6_distinct)
{
	struct names_cfg c;
	struct in_addr a4[ARRAY_SIZE(wrap_names)];
	struct in6_addr a6[ARRAY_SIZE(wrap_names)];
	struct names *t = wrap_run(&c, a4, a6);

	for (size_t i = 0; i < ARRAY_SIZE(wrap_names); i++)
		for (size_t j = i + 1; j < ARRAY_SIZE(wrap_names); j++)
			ck_assert(!v6_eq(&a6[i], &a6[j]));
	/* w0's IPv6 placeholder stays unknown although its v4 one came
	 * back. */
	ck_assert_int_eq(names_reverse_v6(t, &a6[0], NULL, 0), -ENOENT);
	names_destroy(t);
}
END_TEST

/* Range shapes: for each, add 3 * capacity names; the last `capacity`
 * are all held, in range, and reverse (both families). */
struct shape {
	uint8_t v4[4];
	uint8_t v4_prefix;
	const char *v6;
	uint8_t v6_prefix;
	uint32_t capacity;
};

static const struct shape shapes[] = {
    {{10, 0, 0, 0}, 8, "fd00::", 8, 100},
    {{127, 192, 0, 0}, 10, "100::", 64, 100},
    {{192, 168, 1, 0}, 24, "fd00:1:2:3::", 65, 100},
    {{192, 168, 1, 4}, 30, "fd00::100", 120, 1},
    {{192, 168, 1, 0}, 24, "fd00::100", 120, 127},
    {{192, 168, 1, 0}, 24, "::", 1, 127},
    {{128, 0, 0, 0}, 1, "8000::", 1, 1000},
};

START_TEST(test_shapes)
{
	const struct shape *sh = &shapes[_i];
	struct names_cfg c;
	uint32_t n = sh->capacity;
	struct in_addr *a4 = calloc(3 * n, sizeof(*a4));
	struct in6_addr *a6 = calloc(3 * n, sizeof(*a6));
	struct in6_addr base = v6_of(sh->v6);
	struct names *t;
	char name[32];
	int bad_range = 0;

	ck_assert_ptr_nonnull(a4);
	ck_assert_ptr_nonnull(a6);
	memset(&c, 0, sizeof(c));
	memcpy(c.v4_base, sh->v4, 4);
	c.v4_prefix = sh->v4_prefix;
	memcpy(c.v6_base, base.s6_addr, 16);
	c.v6_prefix = sh->v6_prefix;
	c.capacity = n;
	t = make(&c);
	for (uint32_t i = 0; i < 3 * n; i++) {
		snprintf(name, sizeof(name), "s%u.example", i);
		get(t, name, &a4[i], &a6[i]);
		if (!names_in_range_v4(&c, &a4[i]) ||
		    !names_in_range_v6(&c, &a6[i]))
			bad_range++;
	}
	ck_assert_int_eq(bad_range, 0);
	for (uint32_t i = 2 * n; i < 3 * n; i++) {
		snprintf(name, sizeof(name), "s%u.example", i);
		assert_reverses(t, &a4[i], &a6[i], name);
	}
	names_destroy(t);
	free(a4);
	free(a6);
}
END_TEST

/* ---- names_check_cfg ---- */

static void cfg_zero_cap(struct names_cfg *c)
{
	c->capacity = 0;
}

static void cfg_huge_cap(struct names_cfg *c)
{
	c->capacity = (1u << 24) + 1;
}

static void cfg_v4_prefix_0(struct names_cfg *c)
{
	c->v4_prefix = 0;
	memset(c->v4_base, 0, 4);
}

static void cfg_v4_prefix_31(struct names_cfg *c)
{
	c->v4_prefix = 31;
	c->capacity = 1;
}

static void cfg_v4_prefix_32(struct names_cfg *c)
{
	c->v4_prefix = 32;
	c->capacity = 1;
}

static void cfg_v6_prefix_0(struct names_cfg *c)
{
	c->v6_prefix = 0;
	memset(c->v6_base, 0, 16);
}

static void cfg_v6_prefix_121(struct names_cfg *c)
{
	c->v6_prefix = 121;
	c->capacity = 1;
}

static void cfg_v6_prefix_128(struct names_cfg *c)
{
	c->v6_prefix = 128;
	c->capacity = 1;
}

/* 127.192.0.0/24: 256 addresses, 255 usable, capacity 256. */
static void cfg_v4_too_small(struct names_cfg *c)
{
	c->v4_prefix = 24;
	c->capacity = 256;
}

static void cfg_v6_too_small(struct names_cfg *c)
{
	c->v6_prefix = 120;
	c->capacity = 256;
}

/* Capacity 2^24 needs more than a /8. */
static void cfg_v4_too_small_max(struct names_cfg *c)
{
	c->v4_base[1] = 0;
	c->v4_prefix = 8;
	c->capacity = 1u << 24;
}

static void cfg_v4_host_bit_last(struct names_cfg *c)
{
	c->v4_base[3] = 1;
}

/* 127.193.0.0/10: a host bit in the byte the prefix splits. */
static void cfg_v4_host_bit_split(struct names_cfg *c)
{
	c->v4_base[1] = 193;
}

static void cfg_v6_host_bit_last(struct names_cfg *c)
{
	c->v6_base[15] = 1;
}

static void cfg_v6_host_bit_low_half(struct names_cfg *c)
{
	c->v6_base[8] = 0x80;
}

/* fd00::/7 written as fd00::: the 8th bit is a host bit. */
static void cfg_v6_host_bit_split(struct names_cfg *c)
{
	memset(c->v6_base, 0, 16);
	c->v6_base[0] = 0xfd;
	c->v6_prefix = 7;
}

/* One name too many for two epochs. */
static void cfg_v4_one_epoch(struct names_cfg *c)
{
	c->v4_prefix = 24;
	c->capacity = 128;
}

static void (*const bad_cfgs[])(struct names_cfg *) = {
    cfg_zero_cap,	   cfg_huge_cap,	 cfg_v4_prefix_0,
    cfg_v4_prefix_31,	   cfg_v4_prefix_32,	 cfg_v6_prefix_0,
    cfg_v6_prefix_121,	   cfg_v6_prefix_128,	 cfg_v4_too_small,
    cfg_v6_too_small,	   cfg_v4_too_small_max, cfg_v4_host_bit_last,
    cfg_v4_host_bit_split, cfg_v6_host_bit_last, cfg_v6_host_bit_low_half,
    cfg_v6_host_bit_split, cfg_v4_one_epoch,
};

START_TEST(test_check_cfg_rejects)
{
	struct names_cfg c = default_cfg(64);

	bad_cfgs[_i](&c);
	ck_assert_int_eq(names_check_cfg(&c), -EINVAL);
}
END_TEST

static void cfg_default(struct names_cfg *c)
{
	(void)c;
}

/* The edges that still fit: 2 * capacity + 1 addresses (two epochs). */
static void cfg_v4_just_fits(struct names_cfg *c)
{
	c->v4_prefix = 24;
	c->capacity = 127;
}

static void cfg_v6_just_fits(struct names_cfg *c)
{
	c->v6_prefix = 120;
	c->capacity = 127;
}

static void cfg_v4_30(struct names_cfg *c)
{
	c->v4_prefix = 30;
	c->capacity = 1;
}

static void cfg_max_cap(struct names_cfg *c)
{
	c->v4_base[0] = 8;
	c->v4_base[1] = 0;
	c->v4_prefix = 6;
	c->capacity = 1u << 24;
}

static void cfg_prefix_1(struct names_cfg *c)
{
	memset(c->v4_base, 0, 4);
	c->v4_prefix = 1;
	memset(c->v6_base, 0, 16);
	c->v6_prefix = 1;
}

static void cfg_v6_split_ok(struct names_cfg *c)
{
	memset(c->v6_base, 0, 16);
	c->v6_base[0] = 0xfc;
	c->v6_prefix = 7;
}

static void (*const good_cfgs[])(struct names_cfg *) = {
    cfg_default, cfg_v4_just_fits, cfg_v6_just_fits, cfg_v4_30,
    cfg_max_cap, cfg_prefix_1,	   cfg_v6_split_ok,
};

START_TEST(test_check_cfg_accepts)
{
	struct names_cfg c = default_cfg(64);

	good_cfgs[_i](&c);
	ck_assert_int_eq(names_check_cfg(&c), 0);
}
END_TEST

START_TEST(test_check_cfg_null)
{
	ck_assert_int_eq(names_check_cfg(NULL), -EINVAL);
}
END_TEST

/* ---- fork ---- */

struct shared_addrs {
	struct in_addr v4;
	struct in6_addr v6;
};

static void write_all(int fd, const void *p, size_t n)
{
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
}

static void read_all(int fd, void *p, size_t n)
{
	ck_assert_int_eq(read(fd, p, n), (ssize_t)n);
}

static int wait_exit(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(test_fork_child_adds)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct shared_addrs child, mine;
	int fds[2];
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	get(t, "before.example", NULL, NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct shared_addrs a;

		if (names_get(t, "child.example", 13, &a.v4, &a.v6) != 0)
			_exit(1);
		if (write(fds[1], &a, sizeof(a)) != (ssize_t)sizeof(a))
			_exit(2);
		_exit(0);
	}
	ck_assert_int_eq(wait_exit(pid), 0);
	read_all(fds[0], &child, sizeof(child));
	get(t, "Child.Example.", &mine.v4, &mine.v6);
	ck_assert(v4_eq(&mine.v4, &child.v4));
	ck_assert(v6_eq(&mine.v6, &child.v6));
	assert_reverses(t, &child.v4, &child.v6, "child.example");
	ck_assert_uint_eq(names_count(t), 2);
	close(fds[0]);
	close(fds[1]);
	names_destroy(t);
}
END_TEST

/* The child waits for the parent to add a name after the fork, then
 * checks (exit status) that it sees the same placeholders and that they
 * reverse. */
START_TEST(test_fork_parent_adds)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	struct shared_addrs mine;
	int fds[2];
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct shared_addrs p, a;
		char buf[64];

		if (read(fds[0], &p, sizeof(p)) != (ssize_t)sizeof(p))
			_exit(1);
		if (names_reverse_v4(t, &p.v4, buf, sizeof(buf)) != 14 ||
		    strcmp(buf, "parent.example") != 0)
			_exit(2);
		if (names_reverse_v6(t, &p.v6, buf, sizeof(buf)) != 14 ||
		    strcmp(buf, "parent.example") != 0)
			_exit(3);
		if (names_get(t, "PARENT.example", 14, &a.v4, &a.v6) != 0)
			_exit(4);
		if (!v4_eq(&a.v4, &p.v4) || !v6_eq(&a.v6, &p.v6))
			_exit(5);
		_exit(0);
	}
	get(t, "parent.example", &mine.v4, &mine.v6);
	write_all(fds[1], &mine, sizeof(mine));
	ck_assert_int_eq(wait_exit(pid), 0);
	ck_assert_uint_eq(names_count(t), 1);
	close(fds[0]);
	close(fds[1]);
	names_destroy(t);
}
END_TEST

/*
 * A child killed while it may hold the lock: children loop names_get over
 * ever new names (so nearly all their time is spent filling slots under
 * the lock) and are SIGKILLed after a random delay.  After each kill the
 * parent must be able to add a name and reverse it (no deadlock: the
 * robust mutex hands it EOWNERDEAD) and no placeholder may stand for a
 * torn name (the update order).  A child's names carry a check value of
 * their number and the child's pid, so a name mixed from two shows.
 */
#define KILL_ROUNDS 300

static uint32_t check_value(unsigned int i, int pid)
{
	uint32_t h = i * 2654435761u ^ (uint32_t)pid * 40503u;

	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return h;
}

static int churn_name(char *buf, size_t cap, unsigned int i, int pid)
{
	return snprintf(buf, cap, "c%u.%d-%08x.example", i, pid,
			check_value(i, pid));
}

/* Whether name is one churn_name makes (whole, not torn). */
static int whole_churn_name(const char *name)
{
	char again[64];
	unsigned int i;
	int pid;

	if (sscanf(name, "c%u.%d-", &i, &pid) != 2)
		return 0;
	churn_name(again, sizeof(again), i, pid);
	return strcmp(again, name) == 0;
}

static _Noreturn void churn(struct names *t, int ready_fd)
{
	char name[64];
	int pid = (int)getpid();

	for (unsigned int i = 0;; i++) {
		int n = churn_name(name, sizeof(name), i, pid);

		names_get(t, name, (size_t)n, NULL, NULL);
		if (i == 0 && write(ready_fd, "x", 1) != 1)
			_exit(1);
	}
}

/* Forks a churning child, lets it run a random while (up to 2 ms) after
 * its first name, and SIGKILLs it.  Returns the child's pid (reaped). */
static pid_t kill_one(struct names *t, unsigned int *seed)
{
	char x;
	int fds[2];
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		churn(t, fds[1]);
	}
	close(fds[1]);
	read_all(fds[0], &x, 1);
	close(fds[0]);
	usleep((useconds_t)(rand_r(seed) % 2000));
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(wait_exit(pid), 128 + SIGKILL);
	return pid;
}

/* Whether a new name can be added, reversed and found again. */
static int usable(struct names *t, int round)
{
	char name[32], buf[64];
	struct in_addr a4, b4;
	struct in6_addr a6;
	int n = snprintf(name, sizeof(name), "after%d.example", round);

	return names_get(t, name, (size_t)n, &a4, &a6) == 0 &&
	       names_reverse_v4(t, &a4, buf, sizeof(buf)) == n &&
	       strcmp(buf, name) == 0 &&
	       names_reverse_v6(t, &a6, buf, sizeof(buf)) == n &&
	       names_get(t, name, (size_t)n, &b4, NULL) == 0 && v4_eq(&a4, &b4);
}

/* What a scan of every placeholder of a small table found. */
struct scan {
	int torn;     /* names no churn made */
	int held;     /* placeholders that reverse */
	int not_held; /* 1 when a name did not look up to its placeholder */
};

/* Reverses every placeholder of c's IPv4 range (E * capacity of them),
 * then looks the names found up again until one misses.  A crash may leave
 * one slot unfinished: unknown (len 0), or holding a name but in no chain
 * (the old name, just unlinked, or the new one, not yet linked). */
static struct scan scan_all(struct names *t, const struct names_cfg *c,
			    uint32_t e_count)
{
	uint32_t last = e_count * c->capacity;
	char(*names)[64] = calloc(c->capacity, sizeof(*names));
	struct in_addr *addrs = calloc(c->capacity, sizeof(*addrs));
	struct scan r = {0, 0, 0};

	ck_assert_ptr_nonnull(names);
	ck_assert_ptr_nonnull(addrs);
	for (uint32_t o = 1; o <= last; o++) {
		struct in_addr a = v4_at(c, o);
		char buf[64];

		if (names_reverse_v4(t, &a, buf, sizeof(buf)) < 0)
			continue;
		if (!whole_churn_name(buf))
			r.torn++;
		/* One epoch per slot is live; held stays <= capacity. */
		if ((uint32_t)r.held < c->capacity) {
			strcpy(names[r.held], buf);
			addrs[r.held] = a;
		}
		r.held++;
	}
	for (int i = 0; i < r.held && (uint32_t)i < c->capacity; i++) {
		struct in_addr b;

		/* A miss adds the name, evicting another: stop there. */
		if (names_get(t, names[i], strlen(names[i]), &b, NULL) != 0 ||
		    !v4_eq(&b, &addrs[i])) {
			r.not_held++;
			break;
		}
	}
	free(names);
	free(addrs);
	return r;
}

/* A small full table, fresh each round: the children die while evicting
 * and refilling slots.  127.192.0.0/20 with capacity 64 holds 63 epochs,
 * few enough to reverse every placeholder after each kill. */
START_TEST(test_sigkill_while_evicting)
{
	struct names_cfg c = default_cfg(64);
	unsigned int seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
	int torn = 0, too_many = 0, lost = 0, unusable = 0;

	c.v4_prefix = 20;
	for (int round = 0; round < KILL_ROUNDS; round++) {
		struct names *t = make(&c);
		struct scan r;

		kill_one(t, &seed);
		r = scan_all(t, &c, 63);
		torn += r.torn;
		too_many += r.held > 64;
		lost += r.held < (int)names_count(t) - 1;
		if (!usable(t, round))
			unusable++;
		names_destroy(t);
	}
	ck_assert_int_eq(torn, 0);
	ck_assert_int_eq(too_many, 0);
	ck_assert_int_eq(lost, 0);
	ck_assert_int_eq(unusable, 0);
}
END_TEST

/*
 * A fresh, roomy table each round: the child dies while claiming never-used
 * slots, which it fills in order (name i in slot i, epoch 0).  Every slot
 * but the last claimed must hold its whole name and be found by lookup;
 * the last may be unfinished (unknown, or held but unlinked) but never
 * stands for a wrong or torn name.
 */
START_TEST(test_sigkill_while_claiming)
{
	struct names_cfg c = default_cfg(1u << 20);
	unsigned int seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
	int wrong = 0, unusable = 0;

	for (int round = 0; round < KILL_ROUNDS / 3; round++) {
		struct names *t = make(&c);
		pid_t pid = kill_one(t, &seed);
		uint32_t used = names_count(t);

		for (uint32_t s = 0; s < used; s++) {
			char want[64], buf[64];
			struct in_addr a = v4_at(&c, s + 1), b;
			int n = churn_name(want, sizeof(want), s, (int)pid);
			int rc = names_reverse_v4(t, &a, buf, sizeof(buf));

			if (s + 1 == used) {
				if (rc != -ENOENT &&
				    (rc != n || strcmp(buf, want) != 0))
					wrong++;
				continue;
			}
			if (rc != n || strcmp(buf, want) != 0 ||
			    names_get(t, want, (size_t)n, &b, NULL) != 0 ||
			    !v4_eq(&a, &b))
				wrong++;
		}
		if (!usable(t, round))
			unusable++;
		names_destroy(t);
	}
	ck_assert_int_eq(wrong, 0);
	ck_assert_int_eq(unusable, 0);
}
END_TEST

/* After many kills, a full round of new names is held and found. */
START_TEST(test_sigkill_then_full_round)
{
	struct names_cfg c = default_cfg(64);
	struct names *t = make(&c);
	unsigned int seed = (unsigned int)getpid();
	struct in_addr a4[64];
	struct in6_addr a6[64];
	char name[32];
	int wrong = 0;

	for (int round = 0; round < KILL_ROUNDS / 3; round++)
		kill_one(t, &seed);
	/* 3 rounds of CLOCK: every slot, lost ones too, is refilled. */
	for (int r = 0; r < 3; r++) {
		for (int i = 0; i < 64; i++) {
			snprintf(name, sizeof(name), "full%d.%d.example", r, i);
			get(t, name, &a4[i], &a6[i]);
		}
	}
	for (int i = 0; i < 64; i++) {
		char buf[64];

		snprintf(name, sizeof(name), "full2.%d.example", i);
		if (names_reverse_v4(t, &a4[i], buf, sizeof(buf)) < 0 ||
		    strcmp(buf, name) != 0)
			wrong++;
	}
	ck_assert_int_eq(wrong, 0);
	ck_assert_uint_eq(names_count(t), 64);
	names_destroy(t);
}
END_TEST

/* ---- threads ---- */

#define THREADS		 32
#define NAMES_PER_THREAD 2000

struct worker {
	struct names *t;
	int id;
	atomic_int *errors;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct in_addr *a4 = calloc(NAMES_PER_THREAD, sizeof(*a4));
	struct in6_addr *a6 = calloc(NAMES_PER_THREAD, sizeof(*a6));
	char name[64], buf[64];
	int bad = 0;

	if (!a4 || !a6) {
		atomic_fetch_add(w->errors, 1);
		free(a4);
		free(a6);
		return NULL;
	}
	for (int i = 0; i < NAMES_PER_THREAD; i++) {
		int n = snprintf(name, sizeof(name), "t%d-n%d.example.org",
				 w->id, i);

		if (names_get(w->t, name, (size_t)n, &a4[i], &a6[i]) != 0)
			bad++;
	}
	for (int i = 0; i < NAMES_PER_THREAD; i++) {
		int n = snprintf(name, sizeof(name), "t%d-n%d.example.org",
				 w->id, i);

		if (names_reverse_v4(w->t, &a4[i], buf, sizeof(buf)) != n ||
		    strcmp(buf, name) != 0)
			bad++;
		if (names_reverse_v6(w->t, &a6[i], buf, sizeof(buf)) != n ||
		    strcmp(buf, name) != 0)
			bad++;
	}
	atomic_fetch_add(w->errors, bad);
	free(a4);
	free(a6);
	return NULL;
}

START_TEST(test_threads)
{
	struct names_cfg c = default_cfg(65536);
	struct names *t = make(&c);
	pthread_t th[THREADS];
	struct worker w[THREADS];
	atomic_int errors = 0;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){t, i, &errors};
		ck_assert_int_eq(
		    pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (getenv("NAMES_TIMING"))
		fprintf(stderr, "threads: %.1f ms\n",
			(double)(t1.tv_sec - t0.tv_sec) * 1e3 +
			    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	ck_assert_int_eq(atomic_load(&errors), 0);
	ck_assert_uint_eq(names_count(t), THREADS * NAMES_PER_THREAD);
	names_destroy(t);
}
END_TEST

static Suite *names_suite(void)
{
	Suite *s = suite_create("names");
	TCase *tc;

	tc = tcase_create("basic");
	tcase_add_test(tc, test_create_destroy);
	tcase_add_test(tc, test_create_max_capacity);
	tcase_add_test(tc, test_create_rejects_bad_cfg);
	tcase_add_loop_test(tc, test_same_name_same_v4, 0,
			    ARRAY_SIZE(spellings));
	tcase_add_loop_test(tc, test_same_name_same_v6, 0,
			    ARRAY_SIZE(spellings));
	tcase_add_loop_test(tc, test_same_name_one_slot, 0,
			    ARRAY_SIZE(spellings));
	tcase_add_test(tc, test_stored_as_first_given);
	tcase_add_test(tc, test_different_names_differ);
	tcase_add_test(tc, test_near_names_differ);
	tcase_add_test(tc, test_placeholders_in_range);
	tcase_add_test(tc, test_placeholders_reverse);
	tcase_add_test(tc, test_first_placeholder);
	tcase_add_test(tc, test_longest_name);
	tcase_add_loop_test(tc, test_bad_name, 0, ARRAY_SIZE(bad_names));
	suite_add_tcase(s, tc);

	tc = tcase_create("reverse");
	tcase_add_test(tc, test_reverse_empty_table);
	tcase_add_loop_test(tc, test_reverse_never_given_v4, 0,
			    ARRAY_SIZE(unused_v4_offsets));
	tcase_add_loop_test(tc, test_reverse_never_given_v6, 0,
			    ARRAY_SIZE(unused_v6_offsets));
	tcase_add_test(tc, test_reverse_v6_high_host_bits);
	tcase_add_loop_test(tc, test_reverse_out_of_range_v4, 0,
			    ARRAY_SIZE(outside_v4));
	tcase_add_loop_test(tc, test_reverse_out_of_range_v6, 0,
			    ARRAY_SIZE(outside_v6));
	tcase_add_test(tc, test_in_range_v4);
	tcase_add_loop_test(tc, test_out_of_range_v4, 0,
			    ARRAY_SIZE(outside_v4));
	tcase_add_test(tc, test_in_range_v6);
	tcase_add_loop_test(tc, test_out_of_range_v6, 0,
			    ARRAY_SIZE(outside_v6));
	tcase_add_test(tc, test_reverse_small_buffer);
	tcase_add_test(tc, test_reverse_exact_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("bound");
	tcase_add_test(tc, test_bound);
	tcase_add_test(tc, test_bound_keeps_newest);
	tcase_add_loop_test(tc, test_clock_touched_survives, 0, 3);
	tcase_add_loop_test(tc, test_clock_touched_same_placeholder, 0, 3);
	tcase_add_loop_test(tc, test_clock_untouched_evicted, 0, 3);
	tcase_add_test(tc, test_clock_all_untouched_evicted);
	tcase_add_test(tc, test_reuse_old_placeholder_unknown);
	tcase_add_test(tc, test_reuse_new_placeholder_differs);
	tcase_add_test(tc, test_reuse_old_name_comes_back_fresh);
	tcase_add_loop_test(tc, test_epoch_wrap_v4_offsets, 0,
			    ARRAY_SIZE(wrap_names));
	tcase_add_test(tc, test_epoch_wrap_v4_repeats);
	tcase_add_test(tc, test_epoch_wrap_v4_others_unknown);
	tcase_add_test(tc, test_epoch_wrap_v6_distinct);
	tcase_add_loop_test(tc, test_shapes, 0, ARRAY_SIZE(shapes));
	suite_add_tcase(s, tc);

	tc = tcase_create("cfg");
	tcase_add_loop_test(tc, test_check_cfg_rejects, 0,
			    ARRAY_SIZE(bad_cfgs));
	tcase_add_loop_test(tc, test_check_cfg_accepts, 0,
			    ARRAY_SIZE(good_cfgs));
	tcase_add_test(tc, test_check_cfg_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("fork");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fork_child_adds);
	tcase_add_test(tc, test_fork_parent_adds);
	suite_add_tcase(s, tc);

	/* Its own case so slow runs (valgrind) can leave it out with
	 * CK_EXCLUDE_TCASE=robust. */
	tc = tcase_create("robust");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_sigkill_while_evicting);
	tcase_add_test(tc, test_sigkill_while_claiming);
	tcase_add_test(tc, test_sigkill_then_full_round);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(names_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
