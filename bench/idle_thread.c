/* idle_thread.so: a preload library that starts one thread, which sleeps.
 * The peer of the guard benchmark (bench/suites/55-guard.sh): the guard's
 * checker is a thread, and a second thread alone changes what glibc does on
 * every cancellable call (read, send, epoll_wait take the multi-threaded
 * path, enabling and disabling asynchronous cancellation around the system
 * call). A program with this library preloaded pays that and nothing else,
 * so the difference to the guard is the guard's own work.
 *
 * Usage: LD_PRELOAD=BUILD/bench/idle_thread.so PROGRAM
 */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

static void *idle(void *arg)
{
	(void)arg;
	for (;;)
		pause(); /* every signal is blocked here: it sleeps for good */
	return NULL;
}

/* Started with every signal blocked, as the guard starts its checker, so the
 * program's signals still go to its own threads. */
__attribute__((constructor)) static void idle_thread_start(void)
{
	sigset_t all, old;
	pthread_t t;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&t, NULL, idle, NULL) == 0)
		pthread_detach(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}
