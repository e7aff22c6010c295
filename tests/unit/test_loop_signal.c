/* cw_loop_signal and the thread's signal mask: the loop blocks a signal to
 * read it from its signalfd; a failed cw_loop_signal leaves the mask as it
 * found it and keeps no fd it closed; cw_loop_free unblocks only what the
 * loop itself blocked (the rule in include/closewait/loop.h). No sockets. */
#include "cwtest.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "closewait/loop.h"

static bool blocked(int signo)
{
	sigset_t now;

	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &now), 0);
	return sigismember(&now, signo) == 1;
}

static void set_blocked(int signo, bool on)
{
	sigset_t one;

	sigemptyset(&one);
	sigaddset(&one, signo);
	assert_int_equal(sigprocmask(on ? SIG_BLOCK : SIG_UNBLOCK, &one, NULL), 0);
}

/* Every test starts and ends with the two signals unblocked and not pending. */
static int setup(void **state)
{
	assert_false(blocked(SIGUSR1));
	assert_false(blocked(SIGUSR2));
	return cwt_fd_setup(state);
}

static int teardown(void **state)
{
	sigset_t pending;

	set_blocked(SIGUSR1, false);
	set_blocked(SIGUSR2, false);
	assert_int_equal(sigpending(&pending), 0);
	assert_false(sigismember(&pending, SIGUSR1));
	assert_false(sigismember(&pending, SIGUSR2));
	return cwt_fd_teardown(state);
}

static void on_sig(struct cw_loop *l, int signo, void *arg)
{
	(void)l;
	((int *)arg)[signo]++;
}

/* signo, raised, reaches on_sig once through l's signalfd. */
static void delivered(struct cw_loop *l, int signo, const int *got)
{
	assert_int_equal(raise(signo), 0);
	assert_int_equal(cw_loop_run_once(l, 1000), 0);
	assert_int_equal(got[signo], 1);
}

/* The lowest free fd number: the one the next open() gets. */
static int next_fd(void)
{
	int fd = dup(0);

	assert_true(fd >= 0);
	close(fd);
	return fd;
}

/* Through the signalfd, not the default action; unblocked again after free. */
static void test_delivered_then_unblocked(void **state)
{
	struct cw_loop *l;
	int got[NSIG] = { 0 };

	(void)state;
	assert_int_equal(cw_loop_new(&l), 0);
	assert_int_equal(cw_loop_signal(l, SIGUSR1, on_sig, got), 0);
	assert_true(blocked(SIGUSR1));
	delivered(l, SIGUSR1, got);
	cw_loop_free(l);
	assert_false(blocked(SIGUSR1));
}

/* A signal the application had blocked before stays blocked after free;
 * the one the loop blocked is unblocked. */
static void test_free_keeps_the_applications_block(void **state)
{
	struct cw_loop *l;
	int got[NSIG] = { 0 };

	(void)state;
	set_blocked(SIGUSR2, true);
	assert_int_equal(cw_loop_new(&l), 0);
	assert_int_equal(cw_loop_signal(l, SIGUSR2, on_sig, got), 0);
	assert_int_equal(cw_loop_signal(l, SIGUSR1, on_sig, got), 0);
	delivered(l, SIGUSR2, got);
	cw_loop_free(l);
	assert_true(blocked(SIGUSR2));
	assert_false(blocked(SIGUSR1));
}

/* Two loops of one thread on one signal, freed in reverse order: the inner
 * one found it blocked and leaves it so while the outer one still reads it. */
static void test_nested_loops(void **state)
{
	struct cw_loop *outer, *inner;
	int got[NSIG] = { 0 };

	(void)state;
	assert_int_equal(cw_loop_new(&outer), 0);
	assert_int_equal(cw_loop_signal(outer, SIGUSR1, on_sig, got), 0);
	assert_int_equal(cw_loop_new(&inner), 0);
	assert_int_equal(cw_loop_signal(inner, SIGUSR1, on_sig, got), 0);
	cw_loop_free(inner);
	assert_true(blocked(SIGUSR1));
	delivered(outer, SIGUSR1, got); /* would kill us if unblocked */
	cw_loop_free(outer);
	assert_false(blocked(SIGUSR1));
}

/* signalfd fails (no fd left under RLIMIT_NOFILE): the error comes back,
 * the signal is not left blocked, and the loop still takes it afterwards. */
static void test_signalfd_fails_mask_restored(void **state)
{
	struct cw_loop *l;
	struct rlimit old, low;
	int got[NSIG] = { 0 }, err;

	(void)state;
	assert_int_equal(cw_loop_new(&l), 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)next_fd(); /* every number below it is taken */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	err = cw_loop_signal(l, SIGUSR1, on_sig, got);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(err, -EMFILE);
	assert_false(blocked(SIGUSR1));
	/* it failed cleanly: the same call works once an fd is free */
	assert_int_equal(cw_loop_signal(l, SIGUSR1, on_sig, got), 0);
	delivered(l, SIGUSR1, got);
	cw_loop_free(l);
	assert_false(blocked(SIGUSR1));
}

/* epoll_ctl fails after signalfd succeeded (the loop's epoll fd number now
 * holds /dev/null): the signalfd is closed once, by cw_loop_signal, and
 * cw_loop_free does not close its number again (here reused by our own
 * fd); the mask is back as it was. */
static void test_epoll_add_fails_no_double_close(void **state)
{
	struct cw_loop *l;
	char path[64], link[64] = "";
	int got[NSIG] = { 0 }, epfd = next_fd(), null, mine, err;

	(void)state;
	assert_int_equal(cw_loop_new(&l), 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", epfd);
	assert_true(readlink(path, link, sizeof(link) - 1) > 0);
	assert_string_equal(link, "anon_inode:[eventpoll]");
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(null >= 0);
	assert_int_equal(dup2(null, epfd), epfd);
	close(null);
	err = cw_loop_signal(l, SIGUSR1, on_sig, got);
	assert_int_equal(err, -EINVAL);
	assert_false(blocked(SIGUSR1));
	mine = open("/dev/null", O_RDONLY | O_CLOEXEC); /* takes the signalfd's freed number */
	assert_true(mine >= 0);
	cw_loop_free(l);
	assert_int_not_equal(fcntl(mine, F_GETFD), -1); /* still ours */
	close(mine);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_delivered_then_unblocked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_keeps_the_applications_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_loops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signalfd_fails_mask_restored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoll_add_fails_no_double_close, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
