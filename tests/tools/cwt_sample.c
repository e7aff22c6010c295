/* cwt-sample --pid P [--interval-ms 20]: samples the sockets process P
 * holds (its /proc/P/fd against the kernel's /proc/net/tcp{,6}) every
 * interval until SIGINT/SIGTERM, then prints
 *   samples=N max_sockets=S max_tcp=M max_close_wait=K close_wait_twice=J
 * where max_sockets counts every socket fd, also one whose connection is
 * over (a closed socket leaves the kernel's table but its fd still holds
 * it), max_tcp those in the table, and close_wait_twice the consecutive
 * samples that both saw one of P's sockets in CLOSE_WAIT. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cwtest.h"

#define MAX_INODES 65536

static volatile sig_atomic_t stop;
static void on_stop(int s) { (void)s; stop = 1; }

static int inodes_of(int pid, unsigned long *ino)
{
	char path[64], link[384], target[128];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	if (!(d = opendir(path)))
		return -1;
	while ((e = readdir(d)) && n < MAX_INODES) {
		ssize_t l;

		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		l = readlink(link, target, sizeof(target) - 1);
		if (l > 0) {
			target[l] = '\0';
			if (sscanf(target, "socket:[%lu]", &ino[n]) == 1)
				n++;
		}
	}
	closedir(d);
	return n;
}

/* Adds to *tcp and *cw the sockets of the table whose inode is in ino[]. */
static void scan(const char *table, const unsigned long *ino, int n, int *tcp, int *cw)
{
	FILE *f = fopen(table, "re");
	char line[512];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned st;
		unsigned long inode;

		if (sscanf(line, "%*d: %*s %*s %x %*s %*s %*s %*d %*d %lu", &st, &inode) != 2 || !inode)
			continue;
		for (int i = 0; i < n; i++) {
			if (ino[i] == inode) {
				(*tcp)++;
				if (st == CW_TCP_CLOSE_WAIT)
					(*cw)++;
				break;
			}
		}
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	static unsigned long ino[MAX_INODES];
	int pid = 0, interval = 20, samples = 0, max_sockets = 0, max_tcp = 0, max_cw = 0, twice = 0;
	bool prev_cw = false;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--pid"))
			pid = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--interval-ms"))
			interval = atoi(argv[i + 1]);
	}
	if (pid <= 0)
		return 2;
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	while (!stop) {
		int n = inodes_of(pid, ino), tcp = 0, cw = 0;

		if (n < 0)
			break; /* the process is gone */
		scan("/proc/net/tcp", ino, n, &tcp, &cw);
		scan("/proc/net/tcp6", ino, n, &tcp, &cw);
		samples++;
		if (n > max_sockets)
			max_sockets = n;
		if (tcp > max_tcp)
			max_tcp = tcp;
		if (cw > max_cw)
			max_cw = cw;
		if (cw && prev_cw)
			twice++;
		prev_cw = cw > 0;
		cwt_sleep_ms((unsigned)interval);
	}
	printf("samples=%d max_sockets=%d max_tcp=%d max_close_wait=%d close_wait_twice=%d\n", samples,
	       max_sockets, max_tcp, max_cw, twice);
	return 0;
}
