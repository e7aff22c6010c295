/* trace_floor: attaches empty eBPF programs to the tracepoints closewait
 * trace uses, prints "attached", and holds them until SIGINT or SIGTERM.
 * The trace benchmark's peer (bench/suites/58-trace.sh): a system call then
 * costs what the kernel charges for running any program there, and trace's
 * cost over it is trace's own work.
 *
 *   trace_floor [--syscall]     --syscall: one syscall tracepoint only
 *                               (sys_exit_accept4), nothing else
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bench_util.h"
#include "trace_floor.skel.h"

int main(int argc, char **argv)
{
	struct trace_floor_bpf *skel;
	bool syscall_only = argc == 2 && !strcmp(argv[1], "--syscall");
	sigset_t stop;
	int sig, err;

	if (argc > 2 || (argc == 2 && !syscall_only))
		bu_die(false, "usage: trace_floor [--syscall]");
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	skel = trace_floor_bpf__open();
	if (!skel)
		bu_die(true, "trace_floor: open");
	if (syscall_only) {
		struct bpf_program *p;

		bpf_object__for_each_program(p, skel->obj)
			bpf_program__set_autoload(p, p == skel->progs.floor_exit_accept4);
	}
	err = trace_floor_bpf__load(skel);
	if (!err)
		err = trace_floor_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "trace_floor: load and attach: %s\n", strerror(-err));
		trace_floor_bpf__destroy(skel);
		return 1;
	}
	printf("attached\n");
	fflush(stdout);
	sigwait(&stop, &sig);
	trace_floor_bpf__destroy(skel);
	return 0;
}
