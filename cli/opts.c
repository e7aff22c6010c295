#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "cli.h"
#include "closewait/addr.h"
#include "closewait/duration.h"

static void vmsg(const char *cmd, const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "closewait%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* The one formatting of the three ways out. */
static _Noreturn void vexit(const char *cmd, int status, bool hint, const char *fmt, va_list ap)
{
	vmsg(cmd, fmt, ap);
	if (hint)
		fprintf(stderr, "Try 'closewait%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
	exit(status);
}

void cli_usage_exit2(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vexit(cmd, EXIT_USAGE, true, fmt, ap);
}

void cli_fail_exit1(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vexit(cmd, 1, false, fmt, ap);
}

void cli_fail_exit2(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vexit(cmd, 2, false, fmt, ap);
}

void cli_bad_option(const char *cmd, int opt, char **argv)
{
	const char *arg = argv[optind - 1];

	/* A short option inside a group ("-xy") is not argv[optind - 1]: it is optopt. */
	if (optopt > 0 && optopt < 0x100)
		cli_usage_exit2(cmd, opt == ':' ? "-%c needs a value" : "unknown option \"-%c\"", optopt);
	if (opt == ':')
		cli_usage_exit2(cmd, "%s needs a value", arg);
	if (strchr(arg, '='))
		cli_usage_exit2(cmd, "\"%s\": no such option, or it takes no value", arg);
	cli_usage_exit2(cmd, "unknown option \"%s\"", arg);
}

int cli_getopt(const char *cmd, int argc, char **argv, const char *shorts,
	       const struct option *longs, void (*help)(void))
{
	int idx = -1, opt = getopt_long(argc, argv, shorts, longs, &idx);

	if (opt == -1) {
		if (optind < argc)
			cli_usage_exit2(cmd, "unexpected argument \"%s\"", argv[optind]);
		return -1;
	}
	if (opt == '?' || opt == ':')
		cli_bad_option(cmd, opt, argv);
	if (opt == 'h' || (idx >= 0 && !strcmp(longs[idx].name, "help"))) {
		help();
		exit(0);
	}
	return opt;
}

void cli_warn(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(cmd, fmt, ap);
	va_end(ap);
}

uint64_t opt_duration(const char *cmd, const char *opt, const char *arg, bool allow_zero)
{
	uint64_t ms;
	int err = cw_duration_parse(arg, &ms);

	if (err == -ERANGE)
		cli_usage_exit2(cmd, "%s: duration \"%s\" is too large", opt, arg);
	if (err)
		cli_usage_exit2(cmd, "%s: invalid duration \"%s\" (an integer with a unit: 250ms, 5s, 2m, 1h%s)",
				opt, arg, allow_zero ? "; 0 for off" : "");
	if (ms == 0 && !allow_zero)
		cli_usage_exit2(cmd, "%s: must be more than 0", opt);
	return ms;
}

uint16_t opt_port(const char *cmd, const char *opt, const char *arg, bool allow_zero)
{
	uint16_t port;

	if (cw_port_parse(arg, allow_zero, &port))
		cli_usage_exit2(cmd, "%s: invalid port \"%s\" (%d-65535)", opt, arg, allow_zero ? 0 : 1);
	return port;
}

unsigned long opt_ulong(const char *cmd, const char *opt, const char *arg, unsigned long min,
			unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (!arg || *arg < '0' || *arg > '9')
		v = 0, errno = EINVAL;
	else
		v = strtoul(arg, &end, 10);
	if (errno || *end || v < min || v > max)
		cli_usage_exit2(cmd, "%s: invalid number \"%s\" (%lu-%lu)", opt, arg, min, max);
	return v;
}

void opt_addr(const char *cmd, const char *opt, const char *arg)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (cw_addr_parse(arg, &ss, &len, NULL))
		cli_usage_exit2(cmd, "%s: invalid address \"%s\" (an IPv4 or IPv6 address)", opt, arg);
}

void cli_raise_fd_limit(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}
