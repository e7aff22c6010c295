/* What the tracer's BPF side records and its user side reads: one record
 * per TCP socket, keyed by the kernel's struct sock pointer (the skaddr
 * that sock:inet_sock_set_state reports), and the counters. Shared by
 * closewait.bpf.c and the loader, so it uses only __u64-style types. */
#ifndef CW_TRACE_REC_H
#define CW_TRACE_REC_H

/* Records kept at once (an LRU hash: when it is full the least recently
 * used record goes, and trace counts it as dropped). 65 536 records of
 * ~170 bytes: 14.5 MiB of kernel memory (bpftool's bytes_memlock). A prototype saw 40 000
 * creations in 7 s on a busy host, most of them for processes that had
 * exited; records go when their socket reaches CLOSE. */
#define CW_TRACE_MAX_SOCKS 65536
/* The frames kept of each record's user stack. They are kept beside the
 * record, under its key, and go with it (an LRU hash of CW_TRACE_MAX_SOCKS
 * entries of 384 bytes: 28.5 MiB with the hash's overhead), not in a
 * stack map of distinct stacks: that map never frees an entry, and in a
 * program without frame pointers the walk past the syscall wrapper reads
 * whatever the frame register holds, a stack that differs at each call;
 * 20 000 accepts of such a server filled it for good, and every later
 * creation site, leaking or not, lost its stack. */
#define CW_TRACE_STACK_DEPTH 48
/* Words saved at the user stack pointer at the syscall: glibc's accept4,
 * accept and connect wrappers set up no frame, so the frame-pointer walk
 * skips their caller; its return address is among these (glibc 2.36:
 * [sp+0] single-threaded, [sp+40] multi-threaded). */
#define CW_TRACE_FIXUP_WORDS 8
#define CW_TRACE_COMM_LEN 16
/* Processes with counters at once (an LRU hash keyed by struct
 * cw_trace_proc_key; 32 bytes an entry with the key, 1.5 MiB with
 * the hash's overhead). A process's entry goes when it exits; past this
 * many live processes the least recently counted one loses its counts
 * (they start again from 0, which Prometheus reads as a counter reset). */
#define CW_TRACE_MAX_PROCS 16384

enum cw_trace_how {
	CW_HOW_NONE,                  /* not seen created: entered CLOSE_WAIT while traced */
	CW_HOW_ACCEPT,                /* accept() or accept4() returned it */
	CW_HOW_CONNECT                /* connect() was called on it */
};

enum cw_trace_stat {
	CW_STAT_INSERTED,             /* records created */
	CW_STAT_DELETED,              /* records deleted when their socket closed */
	CW_STAT_NO_STACK,             /* creations whose stack could not be stored */
	CW_STAT_UPDATE_FAILED,        /* records the map refused */
	CW_STAT_ENTERED,              /* traced processes' sockets that entered CLOSE_WAIT */
	CW_STAT_LEFT,                 /* ... and that left it (closed or reset) */
	CW_STAT_COUNT
};

/* A traced process: its tgid in trace's pid namespace and its start time
 * (the record's start_ns): a later process with the same pid is another
 * key. */
struct cw_trace_proc_key {
	__u32 pid;
	__u32 pad;
	__u64 start_ns;
};

/* Its sockets that entered CLOSE_WAIT and left it (closed: LAST_ACK; reset
 * or aborted: CLOSE) while trace ran, counted for the process that
 * accepted or connected them while traced (a socket made before trace
 * started is counted nowhere: its process is not known). Monotonic for
 * the life of the trace instance. */
struct cw_trace_proc_count {
	__u64 entered;
	__u64 left;
};

struct cw_trace_frames {
	__u64 ip[CW_TRACE_STACK_DEPTH]; /* innermost first; 0 after the last */
};

struct cw_trace_rec {
	__u64 created_ns;             /* CLOCK_MONOTONIC (bpf_ktime_get_ns); 0: not seen created */
	__u64 close_wait_ns;          /* when it entered CLOSE_WAIT; 0: not seen */
	__u64 left_close_wait_ns;     /* when it left CLOSE_WAIT; 0: not seen */
	__u64 eof_ns;                 /* when a read returned 0 and consumed the FIN; 0: not seen */
	__u64 inode;                  /* the socket file's inode (ss -e's ino) */
	__u64 netns;                  /* its network namespace's inode */
	__u64 start_ns;               /* the creating process's start (CLOCK_BOOTTIME ns: what
				       * /proc/PID/stat's starttime counts in clock ticks) */
	__u64 fixup[CW_TRACE_FIXUP_WORDS]; /* words at the user sp at the syscall */
	__u32 pid, tid;               /* the creating process (tgid) and thread, in trace's pid
				       * namespace */
	__s32 stack_id;               /* >= 0: its frames are in the frames map; < 0: none */
	__s32 fd;                     /* accept's result; -1 for connect (the census names it) */
	__u32 how;                    /* enum cw_trace_how */
	__u32 left_state;             /* the state it went to from CLOSE_WAIT */
	char comm[CW_TRACE_COMM_LEN]; /* the creating thread's name */
};

#endif
