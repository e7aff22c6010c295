/* What a process's cgroup says (census_cgroup.c), from fixtures of
 * /proc/PID/cgroup and /proc/self/mountinfo text as the kernel writes them
 * on the layouts the issue lists (S19: systemd, Docker, containerd, CRI-O,
 * Podman, cgroupfs pods, kind, cgroup namespaces), and from broken input. */
#include "cwtest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "census/census_cgroup.h"

#define FIX CW_TESTS_DIR "/unit/fixtures/cgroup/"

/* The ids the fixtures use. */
#define D1 "4f3a2b1c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"
#define D2 "9c1b7e2d4f6a8b0c2d4e6f8a0b1c3d5e7f9a1b3c5d7e9f0a2b4c6d8e0f1a3b5c"
#define CT "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define N1 "5a2f7c9e1b3d4a6c8e0f2b4d6a8c0e2f4b6d8a0c2e4f6b8d0a2c4e6f8b0d2a4c"
#define P "0f5d1c1e-6b3a-4c6e-9a0e-4b1d2c3e4f50"
#define P_ "0f5d1c1e_6b3a_4c6e_9a0e_4b1d2c3e4f50"
#define Q "7d2e4a61-93bc-4f0a-8e5d-c1b2a3f4e5d6"
#define Q_ "7d2e4a61_93bc_4f0a_8e5d_c1b2a3f4e5d6"
#define BURST "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"

/* One fixture: the path reported and what it says ("" where nothing). */
struct want {
	const char *file;
	const char *path;
	const char *unit, *runtime, *id, *pod, *qos;
};

static const struct want cases[] = {
	{ "v2-service", "/system.slice/nginx.service", "nginx.service", "", "", "", "" },
	{ "hybrid-service", "/system.slice/nginx.service", "nginx.service", "", "", "", "" },
	/* systemd not pid 1: every process at the v2 root, its tree in v1. */
	{ "hybrid-v2-root", "/system.slice/cron.service", "cron.service", "", "", "", "" },
	{ "hybrid-v2-says-more", "/user.slice/user-1000.slice/session-7.scope", "session-7.scope", "",
	  "", "", "" },
	{ "hybrid-root", "/", "", "", "", "", "" },
	{ "v1-only", "/system.slice/nginx.service", "nginx.service", "", "", "", "" },
	{ "docker-systemd", "/system.slice/docker-" D1 ".scope", "", "docker", D1, "", "" },
	{ "docker-cgroupfs", "/docker/" D1, "", "docker", D1, "", "" },
	{ "docker-cgroupfs-v1", "/docker/" D1, "", "docker", D1, "", "" },
	{ "docker-systemd-inside", "/docker/" D1 "/system.slice/nginx.service", "nginx.service",
	  "docker", D1, "", "" },
	{ "containerd-burstable", BURST P_ ".slice/cri-containerd-" CT ".scope", "", "containerd", CT,
	  P, "burstable" },
	{ "containerd-besteffort",
	  "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" Q_
	  ".slice/cri-containerd-" CT ".scope",
	  "", "containerd", CT, Q, "besteffort" },
	{ "containerd-guaranteed", "/kubepods.slice/kubepods-pod" P_ ".slice/cri-containerd-" CT ".scope",
	  "", "containerd", CT, P, "guaranteed" },
	{ "cgroupfs-pod-burstable", "/kubepods/burstable/pod" P "/" CT, "", "", CT, P, "burstable" },
	{ "cgroupfs-pod-guaranteed", "/kubepods/pod" Q "/" CT, "", "", CT, Q, "guaranteed" },
	{ "cgroupfs-pod-v1", "/kubepods/besteffort/pod" P "/" CT, "", "", CT, P, "besteffort" },
	{ "crio", BURST P_ ".slice/crio-" CT ".scope", "", "cri-o", CT, P, "burstable" },
	/* The runtime's monitor: in the pod, but neither the container nor a unit. */
	{ "crio-conmon", BURST P_ ".slice/crio-conmon-" CT ".scope", "", "", "", P, "burstable" },
	{ "podman", "/machine.slice/libpod-" D2 ".scope", "", "podman", D2, "", "" },
	{ "podman-split", "/machine.slice/libpod-" D2 ".scope/container", "", "podman", D2, "", "" },
	{ "podman-conmon", "/machine.slice/libpod-conmon-" D2 ".scope", "", "", "", "", "" },
	/* Not user@1000.service: the container is not the user's manager. */
	{ "podman-rootless",
	  "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" D2 ".scope", "", "podman",
	  D2, "", "" },
	/* kind: the innermost container, not the node's. */
	{ "kind-systemd",
	  "/system.slice/docker-" N1 ".scope/kubelet.slice/kubelet-kubepods.slice/"
	  "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" Q_
	  ".slice/cri-containerd-" CT ".scope",
	  "", "containerd", CT, Q, "besteffort" },
	{ "kind-cgroupfs", "/docker/" N1 "/kubepods/burstable/pod" P "/" CT, "", "", CT, P,
	  "burstable" },
	{ "kind-node-containerd", "/system.slice/docker-" N1 ".scope/system.slice/containerd.service",
	  "containerd.service", "docker", N1, "", "" },
	{ "user-session", "/user.slice/user-1000.slice/session-3.scope", "session-3.scope", "", "", "",
	  "" },
	{ "user-app", "/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-2817.scope",
	  "app-firefox-2817.scope", "", "", "", "" },
	{ "cgroupns-relative", "/../.." BURST P_ ".slice/cri-containerd-" CT ".scope", "",
	  "containerd", CT, P, "burstable" },
	{ "unknown", "/lxc.payload.web01/batch/job42", "", "", "", "", "" },
	{ "docker-not-an-id", "/docker/foo", "", "", "", "", "" },
	{ "runtime-scope-no-id", "/system.slice/docker-compose.scope", "", "", "", "", "" },
	/* systemd would read dashes in a slice name as nesting: not a pod. */
	{ "pod-uid-dashes-in-slice", BURST P ".slice/cri-containerd-" CT ".scope", "", "containerd", CT,
	  "", "" },
	{ "cgroupfs-pod-underscores", "/kubepods/burstable/pod" P_ "/" CT, "", "", "", "", "" },
	{ "cgroupfs-pod-bad-uid", "/kubepods/burstable/podnot-a-uid/" CT, "", "", "", "", "" },
	{ "trunc-no-newline", "/system.slice/nginx.serv", "", "", "", "", "" },
	/* A v2 path with a NUL in it is none: name=systemd's instead. */
	{ "nul-in-path", "/system.slice/x.service", "x.service", "", "", "", "" },
};

/* Broken input: no usable line. */
static const char *const unusable[] = {
	"trunc-no-path", "trunc-one-colon", "empty", "garbage", "not-absolute",
};

static char proc[64];

/* A /proc laid out like the kernel's: pid i + 1 has the cgroup file of
 * fixture i (a symlink to it). */
static int setup(void **state)
{
	char p[256], f[256];
	size_t n = sizeof(cases) / sizeof(cases[0]);

	(void)state;
	strcpy(proc, "/tmp/cw-cgroup-XXXXXX");
	assert_non_null(mkdtemp(proc));
	for (size_t i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/%zu", proc, i + 1);
		assert_int_equal(mkdir(p, 0755), 0);
		snprintf(p, sizeof(p), "%s/%zu/cgroup", proc, i + 1);
		snprintf(f, sizeof(f), FIX "%s.cgroup", cases[i].file);
		assert_int_equal(symlink(f, p), 0);
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", proc);
	return system(cmd);
}

static void check_attr(const struct want *w, const struct cgroup_attr *a)
{
	if (strcmp(a->unit, w->unit) || strcmp(a->runtime, w->runtime) ||
	    strcmp(a->container_id, w->id) || strcmp(a->pod_uid, w->pod) || strcmp(a->pod_qos, w->qos))
		fail_msg("%s: got unit '%s' runtime '%s' id '%s' pod '%s' qos '%s'", w->file, a->unit,
			 a->runtime, a->container_id, a->pod_uid, a->pod_qos);
}

/* Every fixture: its path through the one read of proc/PID/cgroup, and what
 * the path says. */
static void test_fixtures(void **state)
{
	char path[8192];
	struct cgroup_attr a;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = cgroup_path_of_pid(proc, (pid_t)(i + 1), path, sizeof(path));

		if (ret)
			fail_msg("%s: %d", cases[i].file, ret);
		if (strcmp(path, cases[i].path))
			fail_msg("%s: path '%s'", cases[i].file, path);
		cgroup_attr_parse(path, &a);
		check_attr(&cases[i], &a);
	}
}

/* Reads a fixture into a buffer of exactly its size (so that ASan sees a
 * read past its end). */
static char *fixture(const char *name, size_t *len)
{
	char p[256];
	FILE *f;
	char *buf;
	long n;

	snprintf(p, sizeof(p), FIX "%s", name);
	f = fopen(p, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc(n ? (size_t)n : 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void test_unusable(void **state)
{
	char path[256], name[64];

	(void)state;
	for (size_t i = 0; i < sizeof(unusable) / sizeof(unusable[0]); i++) {
		size_t len;
		char *t;

		snprintf(name, sizeof(name), "%s.cgroup", unusable[i]);
		t = fixture(name, &len);
		if (cgroup_path_from_proc(t, len, path, sizeof(path)) != -ENOENT)
			fail_msg("%s: a path from unusable text", unusable[i]);
		free(t);
	}
	assert_int_equal(cgroup_path_of_pid(proc, 99999, path, sizeof(path)), -ENOENT);
}

/* A path longer than the buffer is refused, never cut; every prefix of a
 * real file (a short read) parses without reading past its end. */
static void test_overlong_and_prefixes(void **state)
{
	char path[8192], small[64];
	size_t len;
	char *t = fixture("overlong.cgroup", &len);

	(void)state;
	assert_int_equal(cgroup_path_from_proc(t, len, small, sizeof(small)), -ENOSPC);
	assert_int_equal(cgroup_path_from_proc(t, len, path, sizeof(path)), 0);
	assert_int_equal(strlen(path), 6001);
	free(t);
	t = fixture("hybrid-v2-root.cgroup", &len);
	for (size_t n = 0; n <= len; n++) {
		char *cut = malloc(n ? n : 1);

		memcpy(cut, t, n);
		(void)cgroup_path_from_proc(cut, n, small, sizeof(small));
		free(cut);
	}
	/* "/" and its NUL need two bytes. */
	assert_int_equal(cgroup_path_from_proc("0::/\n", 5, small, 1), -ENOSPC);
	assert_int_equal(cgroup_path_from_proc("0::/\n", 5, small, 2), 0);
	free(t);
}

/* Ids: 12 to 64 hex digits; the innermost container of nested ones. */
static void test_ids_and_nesting(void **state)
{
	struct cgroup_attr a;

	(void)state;
	cgroup_attr_parse("/docker/0123456789ab", &a);
	assert_string_equal(a.container_id, "0123456789ab");
	cgroup_attr_parse("/docker/0123456789a", &a);
	assert_string_equal(a.container_id, "");
	cgroup_attr_parse("/docker/" D1 "0", &a);
	assert_string_equal(a.container_id, "");
	cgroup_attr_parse("/docker/0123456789AB", &a);
	assert_string_equal(a.container_id, "");
	cgroup_attr_parse("/system.slice/docker-" D1 ".scope/docker/" D2, &a);
	assert_string_equal(a.container_id, D2);
	assert_string_equal(a.runtime, "docker");
	cgroup_attr_parse("/machine.slice/libpod-" D2 ".scope/system.slice/docker-" D1 ".scope", &a);
	assert_string_equal(a.container_id, D1);
	assert_string_equal(a.runtime, "docker");
	/* CRI-O's and Podman's cgroupfs names have no ".scope". */
	cgroup_attr_parse("/kubepods/burstable/pod" P "/crio-" CT, &a);
	assert_string_equal(a.runtime, "cri-o");
	assert_string_equal(a.container_id, CT);
	assert_string_equal(a.pod_uid, P);
	cgroup_attr_parse("/kubepods/burstable/pod" P "/crio-conmon-" CT, &a);
	assert_string_equal(a.container_id, "");
	assert_string_equal(a.pod_uid, P);
	/* A container under a unit's subtree (Podman's cgroupfs manager run
	 * from a user's session) is not that unit. */
	cgroup_attr_parse("/user.slice/user-1000.slice/user@1000.service/libpod_parent/libpod-" D2, &a);
	assert_string_equal(a.unit, "");
	assert_string_equal(a.container_id, D2);
	/* A conmon scope in a container: the process is in that container. */
	cgroup_attr_parse("/docker/" N1 "/machine.slice/libpod-conmon-" D2 ".scope", &a);
	assert_string_equal(a.container_id, N1);
	assert_string_equal(a.unit, "");
	/* The innermost pod. */
	cgroup_attr_parse(BURST P_ ".slice/cri-containerd-" CT ".scope/kubepods/pod" Q "/" D1, &a);
	assert_string_equal(a.pod_uid, Q);
	assert_string_equal(a.pod_qos, "guaranteed");
	assert_string_equal(a.container_id, D1);
	assert_string_equal(a.runtime, "");
	/* A prefix that does not end in '-' is no kubelet's. */
	cgroup_attr_parse("/kubepods.slice/xkubepods-pod" P_ ".slice", &a);
	assert_string_equal(a.pod_uid, "");
	/* A delegated subtree of a service is still that service. */
	cgroup_attr_parse("/system.slice/nginx.service/workers/w1", &a);
	assert_string_equal(a.unit, "nginx.service");
	cgroup_attr_parse("//system.slice//nginx.service//", &a);
	assert_string_equal(a.unit, "nginx.service");
	cgroup_attr_parse("/system.slice/.service", &a);
	assert_string_equal(a.unit, "");
	cgroup_attr_parse("/system.slice/ng inx.service", &a);
	assert_string_equal(a.unit, "");
	cgroup_attr_parse("/system.slice/systemd-fsck@dev-disk-by\\x2duuid-1234.service", &a);
	assert_string_equal(a.unit, "systemd-fsck@dev-disk-by\\x2duuid-1234.service");
	cgroup_attr_parse("", &a);
	assert_string_equal(a.unit, "");
	cgroup_attr_parse("/", &a);
	assert_string_equal(a.container_id, "");
}

/* A unit name of 255 characters fits; one of 256 is none (systemd's limit). */
static void test_long_components(void **state)
{
	char path[1024];
	struct cgroup_attr a;

	(void)state;
	strcpy(path, "/system.slice/");
	memset(path + 14, 'u', 255 - strlen(".service"));
	strcpy(path + 14 + 255 - strlen(".service"), ".service");
	cgroup_attr_parse(path, &a);
	assert_int_equal(strlen(a.unit), 255);
	strcpy(path, "/system.slice/");
	memset(path + 14, 'u', 256 - strlen(".service"));
	strcpy(path + 14 + 256 - strlen(".service"), ".service");
	cgroup_attr_parse(path, &a);
	assert_string_equal(a.unit, "");
	memset(path, '/', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	cgroup_attr_parse(path, &a);
	assert_string_equal(a.unit, "");
}

static void mount_of(const char *file, int want, const char *mnt)
{
	char got[256];
	size_t len;
	char *t = fixture(file, &len);
	int ret = cgroup2_mount_parse(t, len, got, sizeof(got));

	free(t);
	if (ret != want)
		fail_msg("%s: %d", file, ret);
	if (mnt && strcmp(got, mnt))
		fail_msg("%s: mount '%s'", file, got);
}

static void test_mountinfo(void **state)
{
	char small[8];
	size_t len;
	char *t;

	(void)state;
	mount_of("v2.mountinfo", 0, "/sys/fs/cgroup");
	mount_of("hybrid.mountinfo", 0, "/sys/fs/cgroup/unified");
	mount_of("none.mountinfo", -ENOENT, NULL);
	/* The whole hierarchy, not a subtree mounted before it. */
	mount_of("subtree-first.mountinfo", 0, "/sys/fs/cgroup");
	mount_of("subtree-only.mountinfo", 0, "/host/cgroup");
	mount_of("escaped.mountinfo", 0, "/mnt/my cgroup\ttab\\back\nnl");
	mount_of("escaped-nul.mountinfo", 0, "/mnt/x\\000y 1");
	mount_of("malformed.mountinfo", 0, "/sys/fs/cgroup");
	mount_of("no-newline.mountinfo", 0, "/sys/fs/cgroup");
	t = fixture("v2.mountinfo", &len);
	assert_int_equal(cgroup2_mount_parse(t, len, small, sizeof(small)), -ENOSPC);
	for (size_t n = 0; n < len; n++) {
		char *cut = malloc(n ? n : 1);
		char mnt[64];

		memcpy(cut, t, n);
		(void)cgroup2_mount_parse(cut, n, mnt, sizeof(mnt));
		free(cut);
	}
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_unusable),
		cmocka_unit_test(test_overlong_and_prefixes),
		cmocka_unit_test(test_ids_and_nesting),
		cmocka_unit_test(test_long_components),
		cmocka_unit_test(test_mountinfo),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
