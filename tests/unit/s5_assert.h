/* s5_assert.h - Check assertions on SOCKS5 addresses, shared by the codec
 * and handshake unit tests. */
#ifndef SOCKSIFY_TEST_S5_ASSERT_H
#define SOCKSIFY_TEST_S5_ASSERT_H

#include <check.h>

#include "socks5.h"

/* got equals want: ATYP, port, and the address bytes for that ATYP. */
static void assert_addr_eq(const struct s5_addr *got,
			   const struct s5_addr *want)
{
	ck_assert_uint_eq(got->atyp, want->atyp);
	ck_assert_uint_eq(got->port, want->port);
	switch (want->atyp) {
	case S5_ATYP_IPV4:
		ck_assert_mem_eq(got->u.v4, want->u.v4, 4);
		break;
	case S5_ATYP_IPV6:
		ck_assert_mem_eq(got->u.v6, want->u.v6, 16);
		break;
	default:
		ck_assert_uint_eq(got->u.domain.len, want->u.domain.len);
		ck_assert_mem_eq(got->u.domain.name, want->u.domain.name,
				 want->u.domain.len);
		break;
	}
}

#endif
