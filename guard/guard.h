/* The guard's private interface: the pieces of libclosewait-guard.so, an
 * LD_PRELOAD shim for programs that cannot be changed. It interposes the
 * calls that create, duplicate, read and close sockets; a checker thread
 * reads the state of each tracked TCP socket and reports (and, when asked,
 * shuts down) the ones left in CLOSE_WAIT.
 *
 * A preload shim is global state by nature: it serves one process, through
 * functions the program calls by their libc names. All of it sits in one
 * struct guard (guard_main.c), locked as said there. The interposed calls
 * never change errno or a return value. */
#ifndef CLOSEWAIT_GUARD_H
#define CLOSEWAIT_GUARD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define GUARD_ENV "CLOSEWAIT_GUARD"
#define GUARD_FRAMES 16    /* frames kept per backtrace */
#define GUARD_PAGE_FDS 1024 /* fds per page of the fd table */
#define GUARD_PAGES 1024    /* pages: fds up to 2^20, the kernel's nr_open default */

/* Settings, from the environment variable (guard_env.c). */
struct guard_cfg {
	unsigned interval_ms; /* checker period */
	unsigned grace_ms;    /* time in CLOSE_WAIT before a socket is reported */
	bool keepalive;       /* enforce keepalive on new TCP sockets */
	int ka_idle, ka_intvl, ka_cnt;
	unsigned user_timeout_ms; /* 0: none */
	bool user_timeout_set;    /* given, even as 0: not derived */
	bool cure_fin;            /* shutdown(SHUT_RDWR) a reported socket */
	bool inherit;             /* children that exec keep the guard */
	long dump_above;          /* sockets above which a check dumps; -1: chosen by cost */
	char report[4096];        /* report file; "" = stderr */
};

/* The values of the variable: 0, or -EINVAL with *bad at the item at fault. */
int guard_cfg_parse(const char *s, struct guard_cfg *cfg, const char **bad);

/* One socket, shared by every fd that refers to it (dup, dup2, fcntl). */
struct gsock {
	struct gsock *prev, *next; /* the list of live sockets */
	uint64_t inode;
	uint64_t created_ms; /* accept or connect (CLOCK_MONOTONIC) */
	uint64_t eof_ms;     /* first read that returned 0; 0: none */
	uint64_t cw_since_ms; /* first check that found it in CLOSE_WAIT; 0: not in it */
	int fd;               /* an fd of the program that refers to it */
	int refs;             /* fds that refer to it */
	bool reported, cured;
	uint8_t ncreate, neof;
	void *create[GUARD_FRAMES]; /* return addresses at accept/connect */
	void *eof[GUARD_FRAMES];    /* at the read that returned 0 */
};

enum { GUARD_KA_NONE, GUARD_KA_GUARD, GUARD_KA_PROGRAM };

/* An fd of the program. */
struct gslot {
	struct gsock *s;   /* tracked TCP socket, or NULL */
	uint8_t ka;        /* keepalive: GUARD_KA_NONE, _GUARD (its values), _PROGRAM (the program's) */
};

/* The real functions (dlsym RTLD_NEXT), resolved before the first use. */
struct guard_real {
	int (*socket)(int, int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*read_chk)(int, void *, size_t, size_t);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recv_chk)(int, void *, size_t, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	ssize_t (*readv)(int, const struct iovec *, int);
	int (*close)(int);
	int (*close_range)(unsigned, unsigned, int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
};

struct guard {
	struct guard_cfg cfg;
	bool on;               /* configured and running */
	struct guard_real real;
	/* fd table: pages allocated on first use and never freed, so the read
	 * path looks an fd up without a lock */
	struct gslot *_Atomic pages[GUARD_PAGES];
	pthread_mutex_t lock;  /* the list, the slots' contents, the counters */
	struct gsock head;     /* list of live sockets (circular) */
	size_t live;           /* sockets tracked now */
	uint64_t tracked, reported, cured; /* since start (this process) */
	/* the checker's rounds, the time they spent reading states, those that
	 * dumped, and those whose dump the kernel filtered by cgroup */
	uint64_t checks, check_us, dump_checks, filtered_checks;
	/* the checker */
	pthread_t checker;
	bool checker_running;
	/* reports */
	pthread_mutex_t report_lock;
	int report_fd;          /* -1: not open (yet, or the program closed it) */
	int diag_fd;            /* the sock_diag socket; -1: likewise */
	uint64_t *seen;         /* inodes reported, shared with forked children */
	size_t seen_slots;
	void *self_base;        /* where this .so is loaded (frames to skip) */
};

extern struct guard guard;

/* guard_main.c */
uint64_t guard_now_ms(void);
void guard_resolve(void);
bool guard_is_tcp(int fd);
void guard_start_checker(void);

/* guard_table.c: every function but guard_slot takes the lock itself. */
struct gslot *guard_slot(int fd, bool create);
void guard_track(int fd);
void guard_eof(int fd);
void guard_forget(int fd);
void guard_forget_range(unsigned first, unsigned last);
void guard_alias(int oldfd, int newfd);
void guard_stack(void **frames, uint8_t *n);

/* guard_check.c */
void *guard_checker(void *arg);
void guard_check_once(void);
void guard_check_forked(void);

/* guard_diag.c: the TCP sockets of the process's network namespace in
 * states (a CW_STATE_BIT mask; 0: all) and of cgroup (a cgroup v2 id; 0:
 * any), one callback each; 0 or -errno. */
struct cw_sock;
int guard_diag_dump(uint32_t states, uint64_t cgroup,
		    int (*cb)(const struct cw_sock *s, void *arg), void *arg);
void guard_diag_forked(void);
uint64_t guard_own_cgroup(void); /* 0: the root cgroup, or unknown */

/* guard_fds.c: the guard's own fds */
int guard_high_fd(int fd);
bool guard_own_fd(int fd);
void guard_lost_fd(int fd);
void guard_lost_range(unsigned first, unsigned last);

/* guard_report.c */
void guard_report_socket(const struct gsock *s, int fd, const char *local, const char *peer,
			 uint64_t now);
void guard_report_summary(void);
bool guard_first_report(uint64_t inode);

/* guard_symbols.c: "function", "file", line and module of a return address;
 * false when nothing is known. */
struct guard_frame {
	const char *function; /* NULL: unknown */
	const char *file;     /* NULL: unknown */
	int line;             /* 0: unknown */
	const char *module;   /* NULL: unknown */
};
void guard_symbolize(void *pc, struct guard_frame *f);
void guard_symbols_release(void);

#endif
