/*
 * names.h - the placeholder-address table for remote name resolution.
 *
 * When names are resolved by the proxy, a lookup hands the program a
 * placeholder address instead of a real one: one from a configurable IPv4
 * range and one from a configurable IPv6 range, both standing for the same
 * name.  A later connect() to a placeholder sends the name itself to the
 * proxy.  This table is the mapping both ways.
 *
 * - It lives in one MAP_SHARED anonymous mapping, so a child of fork()
 *   shares it with its parent (a name resolved in either is known to both)
 *   with no thread or process serving it; a process-shared robust mutex in
 *   the mapping guards it.
 * - It is bounded: at most `capacity` names (slots).  A new name takes a
 *   free slot or, when full, the least recently used one (CLOCK).
 * - A reused slot gets a fresh pair of addresses (the slot's epoch is part
 *   of the address), so a program still holding the old placeholder gets
 *   "unknown placeholder" (fail closed) rather than another name.  A range
 *   holds E = floor((range_size - 1) / capacity) epochs (at least 2, see
 *   names_check_cfg); a slot's addresses repeat after E reuses of it (63
 *   with the default IPv4 range and capacity).
 *
 * Names are compared case-insensitively and without a trailing dot, and
 * stored with their case as first given, without the trailing dot.  Lookup
 * functions may also return another -errno if the process-shared lock
 * cannot be taken (not expected: a dead owner's lock is recovered).
 */
#ifndef SOCKSIFY_NAMES_H
#define SOCKSIFY_NAMES_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define NAMES_MAX_NAME 255

struct names_cfg {
	uint8_t v4_base[4];  /* network address of the IPv4 range */
	uint8_t v4_prefix;   /* its prefix length, 1..30 */
	uint8_t v6_base[16]; /* network address of the IPv6 range */
	uint8_t v6_prefix;   /* its prefix length, 1..120 */
	uint32_t capacity;   /* names held at most, 1..2^24 */
};

struct names; /* opaque; lives in the shared mapping */

/* Checks that the ranges can hold capacity names in at least two epochs
 * (each range needs at least 2 * capacity + 1 addresses).  Returns 0 or
 * -EINVAL. */
int names_check_cfg(const struct names_cfg *cfg);

/* Creates the table in a new MAP_SHARED anonymous mapping.  Returns 0 with
 * *out set, or -errno (-EINVAL for a bad cfg, -ENOMEM when mmap fails). */
int names_create(struct names **out, const struct names_cfg *cfg);

/* Unmaps the table (tests; the shim keeps its table for the process's
 * life). */
void names_destroy(struct names *t);

/* Returns the placeholders for name (len 1..255 bytes, no NUL inside; a
 * trailing dot is ignored), adding the name if it is new.  Either output
 * may be NULL.  Returns 0, or -EINVAL for a bad name. */
int names_get(struct names *t, const char *name, size_t len, struct in_addr *v4,
	      struct in6_addr *v6);

/* 1 when the address lies in the configured range (live or not), else 0.
 * Pure: no lock, usable on every connect. */
int names_in_range_v4(const struct names_cfg *cfg, const struct in_addr *a);
int names_in_range_v6(const struct names_cfg *cfg, const struct in6_addr *a);

/* The name a placeholder stands for, copied NUL-terminated into buf.
 * Returns its length, -ENOENT when the address is in range but stands for
 * no name (never given out, or its slot was reused since), -EAFNOSUPPORT
 * when it is not in range, -ERANGE when cap is too small.  Marks the name
 * as recently used. */
int names_reverse_v4(struct names *t, const struct in_addr *a, char *buf,
		     size_t cap);
int names_reverse_v6(struct names *t, const struct in6_addr *a, char *buf,
		     size_t cap);

/* Names currently held (tests and debugging). */
uint32_t names_count(struct names *t);

#endif
