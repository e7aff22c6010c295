/* The census's owner source: the eBPF iterator or the /proc walk (see
 * owners_src.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "owners_src.h"
#ifdef CW_HAVE_TRACE
#include "owners_iter.h"
#endif

enum mode { M_AUTO, M_PROC, M_EBPF };

static enum mode env_mode(const char *cmd)
{
	const char *v = getenv("CLOSEWAIT_OWNERS");

	if (!v || !*v || !strcmp(v, "auto"))
		return M_AUTO;
	if (!strcmp(v, "proc"))
		return M_PROC;
	if (!strcmp(v, "ebpf"))
		return M_EBPF;
	cli_fail_exit2(cmd, "CLOSEWAIT_OWNERS=%s: expected auto, proc or ebpf", v);
}

#ifdef CW_HAVE_TRACE
struct owners_src {
	struct owners_iter *it;
	const char *cmd;
	bool required;
};

/* cw_census_opts.fd_sockets. Required, a failed read ends the command:
 * the walk running instead would pass for the iterator. */
static int read_src(void *arg, const struct cw_fd_socket **v, size_t *n)
{
	struct owners_src *s = arg;
	int err = owners_iter_read(s->it, v, n);

	if (err && s->required)
		cli_fail_exit2(s->cmd, "CLOSEWAIT_OWNERS=ebpf: reading the eBPF iterator: %s",
			       strerror(-err));
	if (err && getenv("CLOSEWAIT_TRACE_DEBUG"))
		fprintf(stderr, "closewait %s: reading the eBPF iterator: %s: owners from /proc\n",
			s->cmd, strerror(-err));
	return err;
}

/* The host's open files (fs.file-nr's first field); 0 when unknown. */
static unsigned long open_files(void)
{
	FILE *f = fopen("/proc/sys/fs/file-nr", "re");
	unsigned long n = 0;

	if (f) {
		if (fscanf(f, "%lu", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n;
}

void owners_src_open(const char *cmd, struct cw_census_opts *co, bool repeated)
{
	enum mode m = env_mode(cmd);
	struct owners_src *s;
	char why[256];
	int err;

	if (m == M_PROC || (m == M_AUTO && !repeated && open_files() < OWNERS_SRC_MIN_FILES))
		return;
	s = calloc(1, sizeof(*s));
	if (!s)
		cli_fail_exit2(cmd, "%s", strerror(ENOMEM));
	err = owners_iter_open(&s->it, why, sizeof(why));
	if (err) {
		free(s);
		if (m == M_EBPF)
			cli_fail_exit2(cmd, "CLOSEWAIT_OWNERS=ebpf: cannot list socket owners with eBPF: %s",
				       why);
		if (getenv("CLOSEWAIT_TRACE_DEBUG"))
			fprintf(stderr, "closewait %s: cannot list socket owners with eBPF: %s: "
					"owners from /proc\n", cmd, why);
		return;
	}
	s->cmd = cmd;
	s->required = m == M_EBPF;
	co->fd_sockets = read_src;
	co->fd_sockets_arg = s;
}

void owners_src_close(struct cw_census_opts *co)
{
	struct owners_src *s = co->fd_sockets == read_src ? co->fd_sockets_arg : NULL;

	if (!s)
		return;
	owners_iter_close(s->it);
	free(s);
	co->fd_sockets = NULL;
	co->fd_sockets_arg = NULL;
}
#else
void owners_src_open(const char *cmd, struct cw_census_opts *co, bool repeated)
{
	(void)co, (void)repeated;
	if (env_mode(cmd) == M_EBPF)
		cli_fail_exit2(cmd, "CLOSEWAIT_OWNERS=ebpf: this closewait was built without trace "
			       "(no eBPF toolchain)");
}

void owners_src_close(struct cw_census_opts *co)
{
	(void)co;
}
#endif
