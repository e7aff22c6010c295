/* cw_conn_stats.aborts counts the closes that sent an RST, not the ones
 * that meant to: when setting SO_LINGER {1,0} fails, close() sends a FIN
 * and no abort is counted. The failure is real: a seccomp filter on the
 * server's loop thread (filters are per thread) makes that one setsockopt
 * fail with EPERM. In a private network namespace. */
#include "cwtest.h"
#include "cwtest_main.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>

#if defined(__x86_64__)
#define CWT_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define CWT_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "test_abort_count: add this architecture's AUDIT_ARCH"
#endif

static volatile int g_deny_linger; /* set by the test before the connection that must fail */
static int g_denied;               /* the loop thread installed its filter */

/* setsockopt(fd, SOL_SOCKET, SO_LINGER, ...) fails with EPERM on the
 * calling thread from now on; everything else is allowed. */
static void deny_linger_here(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CWT_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setsockopt, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		/* the low halves of args[1] and args[2] (little-endian) */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOL_SOCKET, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_LINGER, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	assert_int_equal(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	/* Not seccomp(SECCOMP_FILTER_FLAG_TSYNC): this thread only. */
	assert_int_equal(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
}

/* The first byte received closes the connection (abort mode). */
static void close_on_data(struct cw_conn *c, uint8_t *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	(void)arg;
	if (g_deny_linger && !g_denied) {
		deny_linger_here();
		g_denied = 1;
	}
	cw_conn_close(c);
}

/* Sends a byte, then reads to the end: 0 for a FIN, else the errno. */
static int how_it_ends(uint16_t port)
{
	struct timeval tv = { .tv_sec = (time_t)cwt_slack() * 5 };
	int fd = cwt_connect("127.0.0.1", port), err;
	char b;
	ssize_t n;

	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(cwt_write_all(fd, "x", 1), 0);
	n = read(fd, &b, 1);
	err = n < 0 ? errno : 0;
	assert_true(n <= 0);
	assert_int_not_equal(err, EAGAIN); /* the server did close it */
	close(fd);
	return err;
}

static void test_failed_linger_is_no_abort(void **state)
{
	struct cw_server_config cfg;
	struct cwt_server *s;
	struct cw_conn_stats st;
	uint16_t port;

	(void)state;
	cw_server_config_init(&cfg);
	cfg.ops.on_data = close_on_data;
	cfg.policy.close_mode = CW_CLOSE_ABORT;
	s = cwt_server_start(&cfg);
	port = cwt_server_port(s);
	/* SO_LINGER set: an RST, one abort */
	assert_int_equal(how_it_ends(port), ECONNRESET);
	/* SO_LINGER refused: close() sends a FIN; nothing more to count */
	g_deny_linger = 1;
	assert_int_equal(how_it_ends(port), 0);
	cwt_server_stop(s, 1000, &st, NULL);
	assert_true(g_denied);
	assert_int_equal(st.closed[CW_CLOSE_LOCAL], 2);
	assert_int_equal(st.aborts, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CWT_FD_TEST(test_failed_linger_is_no_abort),
	};

	cwt_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
