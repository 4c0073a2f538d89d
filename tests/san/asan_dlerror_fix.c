/*
 * tests/san/asan_dlerror_fix.c - preloaded by tests/sanitize.sh beside the
 * ASan runtime into programs that are not built with ASan (curl, python3).
 *
 * Preloaded, the ASan runtime initialises at the first call it intercepts,
 * not before every constructor as in a program linked with it.  In curl
 * that call is malloc() inside newlocale(), from libp11-kit's constructor,
 * with glibc's locale lock held for writing.  ASan's initialisation ends
 * with dlsym(RTLD_DEFAULT, "swift_demangle") and, when that fails,
 * dlerror(), whose message translation takes the same lock for reading and
 * releases it: the lock is corrupted and curl's own setlocale() later waits
 * on it forever (no sanitizer report, just a hang).
 *
 * With this symbol in the global scope the dlsym succeeds and dlerror()
 * has nothing to translate.  ASan calls it only to demangle Swift names
 * (none here); NULL makes it fall back to its usual demangling.
 */
#include <stddef.h>

char *swift_demangle(const char *name, size_t len, char *out, size_t *outlen,
		     unsigned flags);

char *swift_demangle(const char *name, size_t len, char *out, size_t *outlen,
		     unsigned flags)
{
	(void)name;
	(void)len;
	(void)out;
	(void)outlen;
	(void)flags;
	return NULL;
}
