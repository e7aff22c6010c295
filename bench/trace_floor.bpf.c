// SPDX-License-Identifier: GPL-2.0
/* Empty programs on the tracepoints closewait trace attaches to: what the
 * kernel charges every call for running a program there at all, the floor
 * the trace benchmark (bench/suites/58-trace.sh) sets trace's cost against. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tracepoint/syscalls/sys_exit_accept4")
int floor_exit_accept4(void *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int floor_exit_accept(void *ctx)
{
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int floor_set_state(void *ctx)
{
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int floor_destroy(void *ctx)
{
	return 0;
}

SEC("tp_btf/sched_process_exit")
int floor_exit(void *ctx)
{
	return 0;
}

SEC("tp_btf/sock_recv_length")
int floor_recv_length(void *ctx)
{
	return 0;
}
