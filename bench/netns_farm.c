/* netns_farm NS N
 * Holds CLOSE_WAIT sockets in network namespaces of their own for the
 * namespace scan benchmark (bench/suites/35-netns-scan.sh): NS processes,
 * each alone in a new network namespace (unshare) holding N CLOSE_WAIT
 * sockets there, so that no process holds more than N + a few fds.
 * Prints "ns PID" for each namespace (PID: its holder, in it), then
 * "ready NS N" once every socket is in place, then waits for SIGTERM or
 * SIGINT: it ends its holders, waits for them and exits; the namespaces go
 * with their last process. A holder also dies with this process (its parent).
 *
 * In each namespace: loopback up, a listener on 127.0.0.1:20000, N clients
 * from 127.0.0.1 ports 30000... (one port each, never picked twice: an
 * ephemeral port freed when a client's orphaned end expires could be picked
 * again by a later connect(), whose SYN would then land on the CLOSE_WAIT
 * end of the same four-tuple), each closed once accepted, the accepted end kept
 * and never read; then the listener is closed. About 2 s after "ready" a
 * namespace holds its N CLOSE_WAIT sockets and nothing else. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

enum { LISTEN_PORT = 20000, CLIENT_PORT = 30000, BATCH = 256, MAX_NS = 1000, FIN_WAIT2_S = 61 };

static int loopback_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	if (fd < 0)
		return -1;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return rc;
}

static int tcp_socket_at(uint16_t port, struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	*a = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(port) };
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The holder's work; returns the step that failed, or NULL. */
static const char *hold(int n)
{
	struct sockaddr_in la, ca;
	/* The clients' orphaned FIN_WAIT_2 ends must go without a word. One whose
	 * FIN's ACK was handled while close() held the socket stays a full
	 * socket on a timer; at the end of a FIN_WAIT_2 time of at most 60 s
	 * (TCP_TIMEWAIT_LEN) that timer sends an RST, which resets our
	 * CLOSE_WAIT end (seen here: one socket in about 400 with
	 * tcp_fin_timeout 1 s, TcpOutRsts 1). Past 60 s it hands the rest of
	 * the time to a time-wait entry, which expires silently: 61 s is 1 s on
	 * the timer plus 1 s of time-wait. */
	int lfd, c[BATCH], linger2 = FIN_WAIT2_S;

	if (unshare(CLONE_NEWNET) < 0)
		return "unshare(CLONE_NEWNET)";
	if (loopback_up() < 0)
		return "loopback up";
	lfd = tcp_socket_at(LISTEN_PORT, &la);
	if (lfd < 0 || listen(lfd, 4096) < 0)
		return "listen";
	/* in batches below the backlog: connect, then accept what arrived */
	for (int done = 0; done < n;) {
		int batch = n - done < BATCH ? n - done : BATCH;

		for (int i = 0; i < batch; i++) {
			c[i] = tcp_socket_at((uint16_t)(CLIENT_PORT + done + i), &ca);
			if (c[i] < 0 || setsockopt(c[i], IPPROTO_TCP, TCP_LINGER2, &linger2, sizeof(linger2)) < 0 ||
			    connect(c[i], (struct sockaddr *)&la, sizeof(la)) < 0)
				return "connect";
		}
		for (int i = 0; i < batch; i++) {
			if (accept4(lfd, NULL, NULL, SOCK_CLOEXEC) < 0)
				return "accept";
			close(c[i]); /* the peer closes; the accepted end is never closed */
		}
		done += batch;
	}
	close(lfd);
	return NULL;
}

static void holder(int n, int report, pid_t parent)
{
	const char *failed;
	char line[128];
	int len;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) /* the parent died before prctl */
		_exit(1);
	failed = hold(n);
	if (failed)
		len = snprintf(line, sizeof(line), "%d %s: %s\n", (int)getpid(), failed, strerror(errno));
	else
		len = snprintf(line, sizeof(line), "%d ok\n", (int)getpid());
	/* one line, shorter than PIPE_BUF: written whole, never interleaved */
	if (write(report, line, (size_t)len) != len || failed)
		_exit(1);
	close(report);
	for (;;)
		pause();
}

static void end_all(const pid_t *pids, int k)
{
	for (int i = 0; i < k; i++)
		kill(pids[i], SIGTERM);
	for (int i = 0; i < k; i++)
		waitpid(pids[i], NULL, 0);
}

int main(int argc, char **argv)
{
	static pid_t pids[MAX_NS];
	pid_t self = getpid();
	int ns, n, p[2], started = 0, ok = 0, sig;
	sigset_t stop;
	FILE *in;
	char line[256];

	ns = argc == 3 ? atoi(argv[1]) : 0;
	n = argc == 3 ? atoi(argv[2]) : 0;
	if (ns < 1 || ns > MAX_NS || n < 1 || n > 65535 - CLIENT_PORT) {
		fprintf(stderr, "usage: netns_farm NS N (NS 1-%d, N 1-%d)\n", MAX_NS, 65535 - CLIENT_PORT);
		return 2;
	}
	/* blocked before the forks: a stop that comes early waits for sigwait */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("netns_farm: pipe");
		return 1;
	}
	for (; started < ns; started++) {
		pids[started] = fork();
		if (pids[started] < 0) {
			perror("netns_farm: fork");
			break;
		}
		if (pids[started] == 0) {
			sigprocmask(SIG_UNBLOCK, &stop, NULL);
			close(p[0]);
			holder(n, p[1], self);
		}
	}
	close(p[1]);
	in = fdopen(p[0], "r");
	while (in && ok < started && fgets(line, sizeof(line), in)) {
		int pid;
		char word[8];

		if (sscanf(line, "%d %7s", &pid, word) != 2 || strcmp(word, "ok")) {
			fprintf(stderr, "netns_farm: holder %s", line);
			break;
		}
		printf("ns %d\n", pid);
		ok++;
	}
	if (in)
		fclose(in);
	if (ok < ns) {
		fprintf(stderr, "netns_farm: %d of %d namespaces in place\n", ok, ns);
		end_all(pids, started);
		return 1;
	}
	printf("ready %d %d\n", ns, n);
	fflush(stdout);
	sigwait(&stop, &sig);
	end_all(pids, started);
	return 0;
}
