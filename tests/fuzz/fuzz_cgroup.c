/* The cgroup text parsers (lib/census/census_cgroup.c), pure functions:
 * cgroup_path_from_proc on /proc/PID/cgroup text, cgroup_attr_parse on the
 * path it picks and on the whole input as a path (unit, runtime, container,
 * pod), and cgroup2_mount_parse on the input as /proc/self/mountinfo text.
 * Every field comes back NUL-terminated within its array; a container id
 * is 12 to 64 lowercase hex digits; a pod uid has 36 characters. */
#include "fuzz.h"

#include <errno.h>
#include <limits.h>

#include "census/census_cgroup.h"

#define TERMINATED(f) memchr((f), '\0', sizeof(f))

static void attrs(const char *path)
{
	struct cgroup_attr a;
	size_t n;

	memset(&a, 0x55, sizeof(a));
	cgroup_attr_parse(path, &a);
	FUZZ_CHECK(TERMINATED(a.unit) && TERMINATED(a.runtime) && TERMINATED(a.container_id) &&
		   TERMINATED(a.pod_uid) && TERMINATED(a.pod_qos));
	n = strlen(a.container_id);
	FUZZ_CHECK(n == 0 || (n >= 12 && n <= 64 && strspn(a.container_id, "0123456789abcdef") == n));
	FUZZ_CHECK(!a.pod_uid[0] || strlen(a.pod_uid) == 36);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), path[PATH_MAX], small[8];
	char *text = malloc(size ? size : 1); /* exactly size bytes: ASan sees past the end */
	int err;

	FUZZ_CHECK(text);
	memcpy(text, data, size);
	err = cgroup_path_from_proc(text, size, path, sizeof(path));
	FUZZ_CHECK(err == 0 || err == -ENOENT || err == -ENOSPC);
	if (!err) {
		FUZZ_CHECK(path[0] == '/' && strlen(path) < sizeof(path));
		attrs(path);
	}
	err = cgroup_path_from_proc(text, size, small, sizeof(small));
	FUZZ_CHECK(err == 0 || err == -ENOENT || err == -ENOSPC);
	attrs(s);
	err = cgroup2_mount_parse(text, size, path, sizeof(path));
	FUZZ_CHECK(err == 0 || err == -ENOENT || err == -ENOSPC);
	if (!err)
		FUZZ_CHECK(strlen(path) < sizeof(path));
	err = cgroup2_mount_parse(text, size, small, sizeof(small));
	FUZZ_CHECK(err == 0 || err == -ENOENT || err == -ENOSPC);
	free(text);
	free(s);
	return 0;
}
