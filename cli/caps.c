#include "caps.h"
#include "closewait/census.h"

#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

bool caps_have(int cap)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d))
		return false;
	return d[cap / 32].effective & (1u << (cap % 32));
}

/* Listing /proc/PID/fd is a permission check on a directory only its owner
 * may read; reading its links is a ptrace check. */
size_t caps_missing_read_fds(const char *names[CAPS_READ_FDS])
{
	static const struct { int cap; const char *name; } want[CAPS_READ_FDS] = {
		{ CAP_SYS_PTRACE, "CAP_SYS_PTRACE" },
		{ CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH" },
	};
	size_t n = 0;

	for (size_t k = 0; k < CAPS_READ_FDS; k++)
		if (!caps_have(want[k].cap))
			names[n++] = want[k].name;
	return n;
}

void caps_unreadable_note(unsigned n, char *buf, size_t len)
{
	const char *caps[CAPS_READ_FDS];
	size_t k = caps_missing_read_fds(caps);
	int w = snprintf(buf, len, "%u process%s could not be read (permissions): their sockets "
			 "show (unknown).", n, n == 1 ? "" : "es");

	if (k && w > 0 && (size_t)w < len)
		snprintf(buf + w, len - (size_t)w, " Reading other users' processes needs "
			 "CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: closewait lacks %s%s%s.", caps[0],
			 k > 1 ? " and " : "", k > 1 ? caps[1] : "");
}

bool caps_unreadable_first(const struct cw_census *c, bool *said, char *buf, size_t len)
{
	const char *caps[CAPS_READ_FDS];

	/* with nothing lacking there is nothing to do about it: the count is
	 * in the output (a process no one may read, as pid 1 of some sandboxes) */
	if (*said || !c || !cw_census_unreadable(c) || !caps_missing_read_fds(caps))
		return false;
	*said = true;
	caps_unreadable_note(cw_census_unreadable(c), buf, len);
	return true;
}
