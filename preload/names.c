/*
 * names.c - the placeholder-address table for remote name resolution.
 *
 * Layout of the one shared mapping (all offsets from the header, so the
 * table means the same to every process that shares it):
 *
 *   struct names         header: config, lock, CLOCK hand, sizes
 *   struct slot_meta[]   per slot: epoch, hash, chain link, len, ref bit
 *   char[256][]          per slot: the name, NUL-terminated
 *   uint32_t[]           hash buckets: slot number + 1 of a chain's head
 *
 * Metadata and names are kept apart so that a chain walk and a CLOCK sweep
 * touch 24-byte records, not 280-byte ones, and so that untouched slots
 * cost no memory (mmap gives zeroed pages on first touch).
 *
 * Slots are numbered from 0; chain links and bucket heads store slot + 1
 * so that zero (what mmap gives) means "empty".
 *
 * Crash safety: every change under the lock is ordered so that a process
 * killed at any instruction leaves a table that later holders can use as
 * is (see names_lock and fill_slot); the worst outcome is one slot that is
 * unreachable until CLOCK reuses it.
 */
#include "names.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#define NAME_BYTES  256u /* NAMES_MAX_NAME + NUL */
#define MAX_CAP	    (1u << 24)
#define EPOCHS_MAX  (UINT64_C(1) << 32)
#define HEADER_SIZE 256u

struct slot_meta {
	uint64_t epoch; /* times the slot was (re)filled, minus one */
	uint32_t hash;	/* of the lower-cased name; valid while linked */
	uint32_t next;	/* next slot + 1 in the chain, 0 = end */
	uint8_t len;	/* name length; 0 = no valid name (never/being set) */
	uint8_t ref;	/* CLOCK reference bit */
};

struct names {
	pthread_mutex_t lock;
	struct names_cfg cfg;
	size_t map_size;
	size_t meta_off, name_off, bucket_off;
	uint64_t e4, e6;   /* epochs each range holds */
	uint32_t capacity; /* copy of cfg.capacity */
	uint32_t mask;	   /* buckets - 1 */
	uint32_t seed;	   /* hash seed */
	uint32_t hand;	   /* CLOCK hand, < capacity */
	/* Slots ever claimed (0..capacity).  Claimed slots are never given
	 * back, so this is also the count; atomic so names_count needs no
	 * lock. */
	_Atomic uint32_t used;
};

_Static_assert(sizeof(struct names) <= HEADER_SIZE, "header too big");

/* A compiler barrier: a process can die between any two instructions, and
 * its stores so far stay in the shared pages in program order; this keeps
 * the compiler from reordering the steps that crash safety depends on. */
#define STEP() atomic_signal_fence(memory_order_seq_cst)

static struct slot_meta *metas(struct names *t)
{
	return (struct slot_meta *)(void *)((char *)t + t->meta_off);
}

static char *slot_name(struct names *t, uint32_t s)
{
	return (char *)t + t->name_off + (size_t)s * NAME_BYTES;
}

static uint32_t *buckets(struct names *t)
{
	return (uint32_t *)(void *)((char *)t + t->bucket_off);
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* FNV-1a over the lower-cased bytes, then murmur3's finaliser so the low
 * bits (the bucket index) depend on every byte.  The seed comes from the
 * mapping's address: weak (ASLR) but free, and equal in fork children. */
static uint32_t name_hash(uint32_t seed, const char *name, size_t len)
{
	uint32_t h = 2166136261u ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= lower((unsigned char)name[i]);
		h *= 16777619u;
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static int name_eq(const char *a, const char *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/* Takes the lock.  When its holder died (EOWNERDEAD), the table is still
 * usable: every update is ordered so that any prefix of it leaves the
 * chains acyclic, every linked slot's hash matching its bucket, and every
 * slot with len != 0 holding a whole name whose epoch matches it.  What a
 * dead holder can leave behind is a claimed slot that is in no chain (it
 * is lost for lookups until CLOCK reuses it, and names_count still counts
 * it) or a CLOCK hand/reference bits in any state (only eviction order
 * suffers).  So marking the mutex consistent is enough.  Returns 0 or a
 * negative errno (ENOTRECOVERABLE cannot happen unless a holder unlocks
 * without marking consistent, which this file never does). */
static int names_lock(struct names *t)
{
	int rc = pthread_mutex_lock(&t->lock);

	if (rc == EOWNERDEAD)
		rc = pthread_mutex_consistent(&t->lock);
	return -rc;
}

static void names_unlock(struct names *t)
{
	pthread_mutex_unlock(&t->lock);
}

/* Host bits of a range with prefix p of a b-bit family. */
static unsigned int host_bits(unsigned int bits, unsigned int prefix)
{
	return bits - prefix;
}

/* Epochs a range with h host bits holds for cap slots: offsets 1..E*cap
 * must fit in the range's 2^h - 1 non-zero offsets.  Capped at 2^32 so
 * that E * cap (<= 2^56) and offsets fit in 64 bits. */
static uint64_t epochs(unsigned int h, uint32_t cap)
{
	uint64_t last = h >= 64 ? UINT64_MAX : (UINT64_C(1) << h) - 1;
	uint64_t e = last / cap;

	return e < EPOCHS_MAX ? e : EPOCHS_MAX;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* Whether the first `prefix` bits of a and b agree. */
static int prefix_eq(const uint8_t *a, const uint8_t *b, unsigned int prefix)
{
	unsigned int whole = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[whole] ^ b[whole]) & (0xffu << (8 - rest)) & 0xffu) == 0;
}

/* Whether every bit of p after the first `prefix` (of n bytes) is zero. */
static int host_zero(const uint8_t *p, size_t n, unsigned int prefix)
{
	for (size_t i = prefix / 8; i < n; i++) {
		unsigned int keep = 0;

		if (i == prefix / 8 && prefix % 8)
			keep = 0xffu << (8 - prefix % 8);
		if (p[i] & ~keep & 0xffu)
			return 0;
	}
	return 1;
}

/* Whether a range with h host bits has at least 2 * cap + 1 addresses. */
static int holds(unsigned int h, uint32_t cap)
{
	return h >= 34 || ((UINT64_C(1) << h) - 1) >= 2 * (uint64_t)cap;
}

/* Contract in names.h.  The 2 * capacity + 1 rule makes E >= 2 in both
 * ranges, so a reused slot always moves to new addresses; offset 0 (the
 * network address) is never given out. */
int names_check_cfg(const struct names_cfg *cfg)
{
	if (!cfg || cfg->capacity < 1 || cfg->capacity > MAX_CAP)
		return -EINVAL;
	if (cfg->v4_prefix < 1 || cfg->v4_prefix > 30 || cfg->v6_prefix < 1 ||
	    cfg->v6_prefix > 120)
		return -EINVAL;
	if (!holds(host_bits(32, cfg->v4_prefix), cfg->capacity) ||
	    !holds(host_bits(128, cfg->v6_prefix), cfg->capacity))
		return -EINVAL;
	if (!host_zero(cfg->v4_base, 4, cfg->v4_prefix) ||
	    !host_zero(cfg->v6_base, 16, cfg->v6_prefix))
		return -EINVAL;
	return 0;
}

/* Rounds x up to a multiple of 64 (a cache line). */
static uint64_t line_up(uint64_t x)
{
	return (x + 63) & ~UINT64_C(63);
}

/* Contract in names.h.  The one mmap of this file; the kernel's zero pages
 * are the empty state (no chains, no slots used, all epochs 0). */
int names_create(struct names **out, const struct names_cfg *cfg)
{
	pthread_mutexattr_t attr;
	struct names *t;
	uint64_t cap, nb, meta_off, name_off, bucket_off, size;
	void *p;
	int rc;

	if (!out)
		return -EINVAL;
	rc = names_check_cfg(cfg);
	if (rc)
		return rc;
	cap = cfg->capacity;
	/* Twice as many buckets as slots keeps chains around half a slot. */
	for (nb = 1; nb < 2 * cap; nb <<= 1)
		;
	meta_off = HEADER_SIZE;
	name_off = line_up(meta_off + cap * sizeof(struct slot_meta));
	bucket_off = line_up(name_off + cap * NAME_BYTES);
	size = bucket_off + nb * sizeof(uint32_t);
	if (size > SIZE_MAX)
		return -ENOMEM; /* a 32-bit process asking for 2^24 names */

	/* Not MAP_NORESERVE: better to fail here than to SIGBUS on first
	 * touch of a slot when memory is short. */
	p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	t = p;
	t->cfg = *cfg;
	t->map_size = (size_t)size;
	t->meta_off = (size_t)meta_off;
	t->name_off = (size_t)name_off;
	t->bucket_off = (size_t)bucket_off;
	t->capacity = cfg->capacity;
	t->mask = (uint32_t)(nb - 1);
	t->e4 = epochs(host_bits(32, cfg->v4_prefix), cfg->capacity);
	t->e6 = epochs(host_bits(128, cfg->v6_prefix), cfg->capacity);
	t->seed = name_hash(0, (const char *)&p, sizeof(p));
	t->hand = 0;
	atomic_init(&t->used, 0);

	rc = pthread_mutexattr_init(&attr);
	if (rc == 0) {
		rc =
		    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
		if (rc == 0)
			rc = pthread_mutexattr_setrobust(&attr,
							 PTHREAD_MUTEX_ROBUST);
		if (rc == 0)
			rc = pthread_mutex_init(&t->lock, &attr);
		pthread_mutexattr_destroy(&attr);
	}
	if (rc) {
		munmap(p, (size_t)size);
		return -rc;
	}
	*out = t;
	return 0;
}

/* Contract in names.h.  Only when no other process or thread uses t. */
void names_destroy(struct names *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	munmap(t, t->map_size);
}

/* Placeholder offset (1-based within the range) of slot s at epoch e in a
 * range holding E epochs. */
static uint64_t offset_of(const struct names *t, uint32_t s, uint64_t epoch,
			  uint64_t e_count)
{
	return 1 + (epoch % e_count) * t->capacity + s;
}

/* Writes both placeholders of slot s at epoch e (outputs may be NULL). */
static void placeholders(const struct names *t, uint32_t s, uint64_t epoch,
			 struct in_addr *v4, struct in6_addr *v6)
{
	if (v4) {
		/* E4 * capacity < 2^(32 - prefix): no carry out of the host
		 * bits, which are zero in the base. */
		uint32_t a = get_be32(t->cfg.v4_base) +
			     (uint32_t)offset_of(t, s, epoch, t->e4);
		uint8_t b[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16),
				(uint8_t)(a >> 8), (uint8_t)a};

		memcpy(&v4->s_addr, b, 4);
	}
	if (v6) {
		uint8_t b[16];

		/* Offsets are below 2^56 and below 2^(128 - prefix): adding
		 * them into the low 64 bits never carries into the high
		 * ones nor into the network bits. */
		memcpy(b, t->cfg.v6_base, 16);
		put_be64(b + 8,
			 get_be64(b + 8) + offset_of(t, s, epoch, t->e6));
		memcpy(v6->s6_addr, b, 16);
	}
}

/* Removes slot s (0-based) from the chain of bucket b, if it is there (a
 * slot left unlinked by a dead holder is not).  One store does it, so a
 * crash leaves it either linked or not. */
static void unlink_slot(struct names *t, uint32_t b, uint32_t s)
{
	struct slot_meta *m = metas(t);
	uint32_t *link = &buckets(t)[b];

	for (uint32_t steps = 0; *link && steps < t->capacity; steps++) {
		if (*link == s + 1) {
			*link = m[s].next;
			return;
		}
		link = &m[*link - 1].next;
	}
}

/* Chooses a victim among claimed slots: the first one at or after the
 * hand whose reference bit is clear, clearing bits on the way.  Ends
 * within two sweeps because the first sweep clears every bit. */
static uint32_t clock_victim(struct names *t)
{
	struct slot_meta *m = metas(t);
	uint32_t s = t->hand;

	while (m[s].ref) {
		m[s].ref = 0;
		s = s + 1 == t->capacity ? 0 : s + 1;
	}
	t->hand = s + 1 == t->capacity ? 0 : s + 1;
	return s;
}

/* Puts name into slot s, which is claimed but in no chain, and links it
 * into bucket b.  Order matters for crash safety: the slot is marked
 * invalid (len 0) before its epoch and name change, so a placeholder for
 * it never reverses to half a name; it is linked last, after its hash is
 * set, so a chain never holds a slot whose hash is of another bucket. */
static void fill_slot(struct names *t, uint32_t s, uint32_t b, uint32_t hash,
		      const char *name, size_t len, int reuse)
{
	struct slot_meta *m = &metas(t)[s];
	uint32_t *head = &buckets(t)[b];
	char *dst = slot_name(t, s);

	m->len = 0;
	STEP();
	if (reuse)
		m->epoch++;
	memcpy(dst, name, len);
	dst[len] = '\0';
	m->hash = hash;
	m->ref = 0;
	m->next = *head;
	STEP();
	m->len = (uint8_t)len;
	STEP();
	*head = s + 1;
}

/* Contract in names.h.  Also returns a negative errno if the lock cannot
 * be taken (not expected; see names_lock).  The hash is computed and the
 * addresses written outside the lock. */
int names_get(struct names *t, const char *name, size_t len, struct in_addr *v4,
	      struct in6_addr *v6)
{
	struct slot_meta *m;
	uint32_t hash, b, s, link, steps;
	uint64_t epoch;
	int rc;

	if (!t || !name)
		return -EINVAL;
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > NAMES_MAX_NAME || memchr(name, '\0', len))
		return -EINVAL;
	hash = name_hash(t->seed, name, len);
	b = hash & t->mask;

	rc = names_lock(t);
	if (rc)
		return rc;
	m = metas(t);
	/* The step bound only matters if the chains were corrupted by
	 * something other than a crash; it turns a loop into a miss. */
	for (link = buckets(t)[b], steps = 0; link && steps < t->capacity;
	     link = m[link - 1].next, steps++) {
		s = link - 1;
		if (m[s].hash == hash && m[s].len == len &&
		    name_eq(slot_name(t, s), name, len)) {
			m[s].ref = 1;
			epoch = m[s].epoch;
			goto found;
		}
	}

	s = atomic_load_explicit(&t->used, memory_order_relaxed);
	if (s < t->capacity) {
		/* Claim before filling: a crash in between leaves a claimed,
		 * unlinked, len-0 slot, which CLOCK reuses in time. */
		atomic_store_explicit(&t->used, s + 1, memory_order_relaxed);
		STEP();
		fill_slot(t, s, b, hash, name, len, 0);
	} else {
		s = clock_victim(t);
		unlink_slot(t, m[s].hash & t->mask, s);
		STEP();
		fill_slot(t, s, b, hash, name, len, 1);
	}
	epoch = m[s].epoch;
found:
	names_unlock(t);
	placeholders(t, s, epoch, v4, v6);
	return 0;
}

/* Contract in names.h: reads only cfg and a. */
int names_in_range_v4(const struct names_cfg *cfg, const struct in_addr *a)
{
	uint8_t b[4];

	memcpy(b, &a->s_addr, 4);
	return prefix_eq(b, cfg->v4_base,
			 cfg->v4_prefix > 32 ? 32 : cfg->v4_prefix);
}

/* Contract in names.h: reads only cfg and a. */
int names_in_range_v6(const struct names_cfg *cfg, const struct in6_addr *a)
{
	return prefix_eq(a->s6_addr, cfg->v6_base,
			 cfg->v6_prefix > 128 ? 128 : cfg->v6_prefix);
}

/* The common half of the reverse lookups: o is the offset of the address
 * in its range (UINT64_MAX when it is beyond 64 bits), e_count the range's
 * epochs. */
static int reverse(struct names *t, uint64_t o, uint64_t e_count, char *buf,
		   size_t cap)
{
	struct slot_meta *m;
	uint32_t s;
	uint64_t e;
	int rc;

	if (o == 0 || o > e_count * t->capacity)
		return -ENOENT;
	s = (uint32_t)((o - 1) % t->capacity);
	e = (o - 1) / t->capacity;

	rc = names_lock(t);
	if (rc)
		return rc;
	m = &metas(t)[s];
	if (s >= atomic_load_explicit(&t->used, memory_order_relaxed) ||
	    m->len == 0 || m->epoch % e_count != e) {
		rc = -ENOENT;
	} else if (!buf || cap <= m->len) {
		rc = -ERANGE;
	} else {
		memcpy(buf, slot_name(t, s), (size_t)m->len + 1);
		m->ref = 1;
		rc = m->len;
	}
	names_unlock(t);
	return rc;
}

/* Contract in names.h. */
int names_reverse_v4(struct names *t, const struct in_addr *a, char *buf,
		     size_t cap)
{
	uint8_t b[4];

	if (!t || !a)
		return -EINVAL;
	if (!names_in_range_v4(&t->cfg, a))
		return -EAFNOSUPPORT;
	memcpy(b, &a->s_addr, 4);
	return reverse(t, get_be32(b) - get_be32(t->cfg.v4_base), t->e4, buf,
		       cap);
}

/* Contract in names.h. */
int names_reverse_v6(struct names *t, const struct in6_addr *a, char *buf,
		     size_t cap)
{
	uint64_t o = UINT64_MAX;

	if (!t || !a)
		return -EINVAL;
	if (!names_in_range_v6(&t->cfg, a))
		return -EAFNOSUPPORT;
	/* With more than 64 host bits, any set in the high half puts the
	 * address beyond every offset handed out. */
	if (memcmp(a->s6_addr, t->cfg.v6_base, 8) == 0)
		o = get_be64(a->s6_addr + 8) - get_be64(t->cfg.v6_base + 8);
	return reverse(t, o, t->e6, buf, cap);
}

/* Contract in names.h.  Lock-free; a slot claimed by a holder that died
 * before filling it still counts. */
uint32_t names_count(struct names *t)
{
	return t ? atomic_load_explicit(&t->used, memory_order_relaxed) : 0;
}
