/* fact.h - one line per checked fact for the lab's C test programs:
 * "ok: ..." or "FAIL: ...", counted in fact_failures. */
#ifndef SOCKSIFY_TEST_FACT_H
#define SOCKSIFY_TEST_FACT_H

#include <stdarg.h>
#include <stdio.h>

static int fact_failures;

static void fact(int ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fact(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!ok)
		fact_failures++;
}

#endif
