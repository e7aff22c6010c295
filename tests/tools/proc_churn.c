/* proc_churn: processes for the hostile-host tests (many alive, some exiting
 * all the time, one at a chosen pid), each CLOSE_WAIT socket made by the
 * parent (a connection to its own listener on 127.0.0.1 whose accepted end
 * it closed) and handed to one child by fork, so that the child is its only
 * owner. The children are named NAME (comm) and die with the parent.
 *
 *   proc_churn crowd NAME N EVERY
 *       N sleepers; every EVERY-th (the 1st, the EVERY+1-th...) holds one
 *       CLOSE_WAIT socket at fd 10. Prints "holder PID INODE" for each,
 *       then "ready N" once all are forked. When stdin ends: kills them all
 *       (SIGKILL), waits for them, prints "done" and exits.
 *   proc_churn churn NAME MS CONC LIFE
 *       for MS ms (or until SIGTERM), keeps CONC children alive, each
 *       holding a CLOSE_WAIT socket at fd 10 (SO_LINGER 0: its exit resets
 *       the connection, so no TIME_WAIT piles up) and exiting after 0 to
 *       LIFE ms. Prints "forks N reused R" at the end: R forks got a pid an
 *       earlier one had.
 *   proc_churn hold NAME FD [port P] [at PID] [nodump]
 *       one child holding a CLOSE_WAIT socket at fd FD (its peer: port P,
 *       any by default); with "at PID", forked
 *       at pid PID (through /proc/sys/kernel/ns_last_pid: in a pid namespace
 *       of the test's own, where nothing else forks); "nodump": not dumpable
 *       (its /proc/PID/fd is then root's). Prints "holder PID INODE" and
 *       exits, leaving the child (it pauses until killed).
 * Exit status 1 on any failure (with a message), 3 when PID was not had.
 * Built without the sanitizers and without the tests' library (which is
 * instrumented in that build): an instrumented process forks slowly, and
 * 5 000 forks took 19 s there. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <arpa/inet.h>

#define HELD_FD 10
#define PID_SPACE 4194304

static void die(const char *what)
{
	fprintf(stderr, "proc_churn: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct sockaddr_in loopback(uint16_t port)
{
	return (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(port),
				     .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
}

/* On 127.0.0.1:*port (0: any), which it sets. */
static int listener(uint16_t *port)
{
	struct sockaddr_in a = loopback(*port);
	socklen_t len = sizeof(a);
	int one = 1, l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l, (struct sockaddr *)&a, len) < 0 || listen(l, 1024) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0)
		die("listen");
	*port = ntohs(a.sin_port);
	return l;
}

/* A CLOSE_WAIT socket at fd at: connected to l, whose accepted end is
 * closed (our FIN seen: POLLRDHUP, read nothing). Returns its inode. */
static unsigned long close_wait_at(int l, uint16_t port, int at, bool linger0)
{
	struct sockaddr_in to = loopback(port);
	struct pollfd p;
	struct stat st;
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), a;

	if (c < 0 || connect(c, (struct sockaddr *)&to, sizeof(to)) < 0)
		die("connect");
	a = accept(l, NULL, NULL);
	if (a < 0)
		die("accept");
	close(a);
	p = (struct pollfd){ .fd = c, .events = POLLRDHUP };
	if (poll(&p, 1, 5000) != 1)
		die("no FIN within 5 s");
	if (linger0 && setsockopt(c, SOL_SOCKET, SO_LINGER, &(struct linger){ 1, 0 },
				  sizeof(struct linger)) < 0)
		die("SO_LINGER");
	if (c != at) {
		if (dup2(c, at) < 0)
			die("dup2");
		close(c);
	}
	if (fstat(at, &st) < 0)
		die("fstat");
	return (unsigned long)st.st_ino;
}

/* The child's side: dies with its parent (a test killed mid-way leaves
 * nothing behind), then sleeps or lives ms. */
static void child(pid_t parent, long live_us)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	if (live_us >= 0) {
		usleep((useconds_t)live_us);
		_exit(0);
	}
	for (;;)
		pause();
}

static int crowd(int n, int every)
{
	pid_t me = getpid(), *kids = calloc((size_t)n, sizeof(*kids));
	uint16_t port = 0;
	int l = listener(&port);
	char buf[256];

	if (!kids)
		die("calloc");
	for (int i = 0; i < n; i++) {
		bool holds = i % every == 0;
		unsigned long ino = holds ? close_wait_at(l, port, HELD_FD, false) : 0;

		kids[i] = fork();
		if (kids[i] < 0)
			die("fork");
		if (kids[i] == 0) {
			close(l);
			child(me, -1);
		}
		if (holds) {
			close(HELD_FD);
			printf("holder %d %lu\n", (int)kids[i], ino);
		}
	}
	close(l);
	printf("ready %d\n", n);
	fflush(stdout);
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		waitpid(kids[i], NULL, 0);
	free(kids);
	printf("done\n");
	return 0;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int churn(unsigned ms, int conc, int life_ms)
{
	pid_t me = getpid();
	uint8_t *seen = calloc(PID_SPACE, 1);
	uint64_t end = now_ms() + ms;
	unsigned long forks = 0, reused = 0;
	uint16_t port = 0;
	int l = listener(&port), alive = 0;
	/* SA_RESTART: connect() and accept() go on; a child ends within LIFE
	 * ms, so wait() returns soon enough to see the flag. */
	struct sigaction sa = { .sa_handler = on_term, .sa_flags = SA_RESTART };

	if (!seen)
		die("calloc");
	sigaction(SIGTERM, &sa, NULL);
	srand((unsigned)me);
	while (!stop && now_ms() < end) {
		pid_t k;

		while (alive < conc) {
			close_wait_at(l, port, HELD_FD, true);
			k = fork();
			if (k < 0)
				die("fork");
			if (k == 0) {
				close(l);
				child(me, rand() % (life_ms * 1000 + 1));
			}
			close(HELD_FD);
			forks++;
			if (k < PID_SPACE && seen[k]++)
				reused++;
			alive++;
		}
		if (wait(NULL) > 0)
			alive--;
	}
	while (wait(NULL) > 0)
		;
	close(l);
	free(seen);
	printf("forks %lu reused %lu\n", forks, reused);
	return 0;
}

/* The next fork gets pid (nothing else forks in between). */
static void next_pid(pid_t pid)
{
	int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
	char b[32];
	int n = snprintf(b, sizeof(b), "%d", (int)pid - 1);

	if (fd < 0 || write(fd, b, (size_t)n) != n)
		die("ns_last_pid");
	close(fd);
}

static int hold(int fd, uint16_t port, pid_t at, bool nodump)
{
	pid_t k;
	int l = listener(&port);
	unsigned long ino = close_wait_at(l, port, fd, false);

	close(l);
	/* Inherited by the child before it can be read (the flag is the mm's). */
	if (nodump && prctl(PR_SET_DUMPABLE, 0) < 0)
		die("PR_SET_DUMPABLE");
	if (at)
		next_pid(at);
	k = fork();
	if (k < 0)
		die("fork");
	if (k == 0) {
		/* Outlives us (no death signal; the test kills it), and keeps no
		 * pipe of the test's open: a $(...) reading us would wait for it. */
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			if (null > 2)
				close(null);
		}
		for (;;)
			pause();
	}
	if (at && k != at) {
		kill(k, SIGKILL);
		fprintf(stderr, "proc_churn: pid %d was not had (got %d)\n", (int)at, (int)k);
		return 3;
	}
	printf("holder %d %lu\n", (int)k, ino);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: proc_churn crowd NAME N EVERY | churn NAME MS CONC LIFE |"
			" hold NAME FD [port P] [at PID] [nodump]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 4)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Inherited by every child at fork: no moment where one has another name. */
	if (prctl(PR_SET_NAME, argv[2]) < 0)
		die("PR_SET_NAME");
	if (!strcmp(argv[1], "crowd") && argc == 5 && atoi(argv[3]) > 0 && atoi(argv[4]) > 0)
		return crowd(atoi(argv[3]), atoi(argv[4]));
	if (!strcmp(argv[1], "churn") && argc == 6 && atoi(argv[4]) > 0 && atoi(argv[5]) >= 0)
		return churn((unsigned)atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	if (!strcmp(argv[1], "hold")) {
		pid_t at = 0;
		uint16_t port = 0;
		bool nodump = false;

		for (int i = 4; i < argc; i++) {
			if (!strcmp(argv[i], "at") && i + 1 < argc)
				at = atoi(argv[++i]);
			else if (!strcmp(argv[i], "port") && i + 1 < argc)
				port = (uint16_t)atoi(argv[++i]);
			else if (!strcmp(argv[i], "nodump"))
				nodump = true;
			else
				usage();
		}
		if (atoi(argv[3]) < 3)
			usage();
		return hold(atoi(argv[3]), port, at, nodump);
	}
	usage();
}
