/* The cw_policy options of `serve` and `client --stream`, parsed once here. */
#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "closewait/duration.h"
#include "closewait/sockopt.h"

#define KEEPIDLE_MAX 32767  /* MAX_TCP_KEEPIDLE in the kernel */
#define KEEPINTVL_MAX 32767 /* MAX_TCP_KEEPINTVL */
#define KEEPCNT_MAX 127     /* MAX_TCP_KEEPCNT */

static int field(const char *s, size_t len, int max, int *out)
{
	int v = 0;

	if (len == 0) {
		*out = CW_KEEPALIVE_SYSTEM;
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
		if (v > max)
			return -ERANGE;
	}
	if (v == 0)
		return -ERANGE;
	*out = v;
	return 0;
}

int keepalive_parse(const char *arg, bool *on, int *idle, int *intvl, int *cnt)
{
	const char *c1, *c2;

	if (strcmp(arg, "off") == 0) {
		*on = false;
		return 0;
	}
	*on = true;
	*idle = *intvl = *cnt = CW_KEEPALIVE_SYSTEM;
	if (strcmp(arg, "on") == 0)
		return 0;
	c1 = strchr(arg, ':');
	c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c1 || !c2 || strchr(c2 + 1, ':'))
		return -EINVAL;
	if (field(arg, (size_t)(c1 - arg), KEEPIDLE_MAX, idle) ||
	    field(c1 + 1, (size_t)(c2 - c1 - 1), KEEPINTVL_MAX, intvl) ||
	    field(c2 + 1, strlen(c2 + 1), KEEPCNT_MAX, cnt))
		return -EINVAL;
	return 0;
}

/* C escapes (\n \r \t \\ \0 \xHH) so a payload can hold any byte. */
static int unescape(const char *s, char *out, size_t *len)
{
	size_t n = 0;

	for (; *s; s++) {
		char ch = *s;

		if (n >= POLICY_PAYLOAD_MAX)
			return -E2BIG;
		if (ch == '\\') {
			char e = *++s;

			if (e == 'n')
				ch = '\n';
			else if (e == 'r')
				ch = '\r';
			else if (e == 't')
				ch = '\t';
			else if (e == '\\')
				ch = '\\';
			else if (e == '0')
				ch = '\0';
			else if (e == 'x' && s[1] && s[2]) {
				char hex[3] = { s[1], s[2], 0 }, *end;

				ch = (char)strtoul(hex, &end, 16);
				if (*end)
					return -EINVAL;
				s += 2;
			} else
				return -EINVAL;
		}
		out[n++] = ch;
	}
	*len = n;
	return n ? 0 : -EINVAL;
}

/* The options that each set one duration of the policy. read_idle's name
 * (NULL here) is the command's own: --read-idle or --recv-timeout. */
static const struct {
	int opt;
	const char *name;
	size_t off;
} durations[] = {
	{ OPT_IDLE, "idle", offsetof(struct cw_policy, idle_ms) },
	{ OPT_READ_IDLE, NULL, offsetof(struct cw_policy, read_idle_ms) },
	{ OPT_WRITE_STALL, "write-stall", offsetof(struct cw_policy, write_stall_ms) },
	{ OPT_HEARTBEAT, "heartbeat", offsetof(struct cw_policy, heartbeat_ms) },
	{ OPT_LINGER, "linger", offsetof(struct cw_policy, linger_ms) },
	{ OPT_HALF_CLOSE, "half-close", offsetof(struct cw_policy, half_close_ms) },
};

bool policy_opt(struct policy_args *a, int opt, const char *arg)
{
	const char *cmd = a->cmd;
	struct cw_policy *p = a->p;

	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		char name[32];

		if (durations[i].opt != opt)
			continue;
		snprintf(name, sizeof(name), "--%s", durations[i].name ? durations[i].name : a->read_idle_name);
		*(uint64_t *)((char *)p + durations[i].off) = opt_duration(cmd, name, arg, true);
		return true;
	}
	switch (opt) {
	case OPT_HEARTBEAT_PAYLOAD:
		if (unescape(arg, a->payload, &p->heartbeat_len))
			cli_usage_exit2(cmd, "--heartbeat-payload: invalid payload \"%s\" (1-%d bytes; escapes \\n \\r \\t \\\\ \\0 \\xHH)",
					arg, POLICY_PAYLOAD_MAX);
		p->heartbeat = a->payload;
		return true;
	case OPT_KEEPALIVE:
		if (keepalive_parse(arg, &p->keepalive, &p->keepidle_s, &p->keepintvl_s, &p->keepcnt))
			cli_usage_exit2(cmd, "--keepalive: invalid value \"%s\" (off, on, or IDLE:INTVL:CNT in whole seconds and a count; a field may be empty)",
					arg);
		return true;
	case OPT_USER_TIMEOUT:
		p->user_timeout_ms = (int64_t)opt_duration(cmd, "--user-timeout", arg, true);
		if (p->user_timeout_ms > INT32_MAX)
			cli_usage_exit2(cmd, "--user-timeout: \"%s\" is too large", arg);
		return true;
	case OPT_CLOSE:
		if (strcmp(arg, "graceful") == 0)
			p->close_mode = CW_CLOSE_GRACEFUL;
		else if (strcmp(arg, "abort") == 0)
			p->close_mode = CW_CLOSE_ABORT;
		else
			cli_usage_exit2(cmd, "--close: invalid mode \"%s\" (graceful or abort)", arg);
		return true;
	case OPT_RESET_TIMEDOUT:
		p->reset_timedout = true;
		return true;
	default:
		return false;
	}
}

static const char *dur(uint64_t ms, char *buf, size_t len)
{
	return ms ? cw_duration_format(ms, buf, len) : "off";
}

/* When a vanished peer is noticed. With keepalive on, an explicit user
 * timeout overrides KEEPCNT: the connection dies at the first probe at or
 * after the user timeout. */
static void detection_times(FILE *f, const struct cw_policy *p)
{
	int sidle, sintvl, scnt;
	int64_t ut = cw_policy_user_timeout(p);
	uint64_t idle_case = UINT64_MAX, busy_case = 15 * 60 * 1000;
	const char *idle_by = "nothing (keepalive off, no heartbeat, no idle timeout)";
	const char *busy_by = "the kernel's retransmission limit (tcp_retries2, about 15 min)";
	char b1[32], b2[32];

	cw_sockopt_sys_keepalive(&sidle, &sintvl, &scnt);
	if (p->keepalive) {
		uint64_t idle = (uint64_t)(p->keepidle_s >= 0 ? p->keepidle_s : sidle) * 1000;
		uint64_t intvl = (uint64_t)(p->keepintvl_s >= 0 ? p->keepintvl_s : sintvl) * 1000;
		uint64_t cnt = (uint64_t)(p->keepcnt >= 0 ? p->keepcnt : scnt);

		idle_case = idle + intvl * cnt;
		if (ut > 0) {
			idle_case = idle;
			while (idle_case < (uint64_t)ut)
				idle_case += intvl;
		}
		idle_by = "keepalive";
	}
	if (p->heartbeat_ms) {
		uint64_t hb = cli_after(p->heartbeat_ms, ut > 0 ? (uint64_t)ut : busy_case);

		if (hb < idle_case) {
			idle_case = hb;
			idle_by = ut > 0 ? "heartbeat + user timeout" : "heartbeat + retransmission limit";
		} else if (idle_case == UINT64_MAX) {
			idle_by = "nothing within 2^64 ms (the heartbeat is later than that)";
		}
	}
	if (p->read_idle_ms && p->read_idle_ms < idle_case)
		idle_case = p->read_idle_ms, idle_by = "read-idle timeout";
	if (p->idle_ms && p->idle_ms < idle_case)
		idle_case = p->idle_ms, idle_by = "idle timeout";
	if (ut > 0)
		busy_case = (uint64_t)ut, busy_by = "user timeout";
	if (p->write_stall_ms && p->write_stall_ms < busy_case)
		busy_case = p->write_stall_ms, busy_by = "write-stall timeout (once output queues)";
	fprintf(f, "\nWith these values, a peer that vanishes without a FIN is closed after at most:\n");
	if (idle_case == UINT64_MAX)
		fprintf(f, "  while idle:            never: %s\n", idle_by);
	else
		fprintf(f, "  while idle:            %s (%s)\n", dur(idle_case, b1, sizeof(b1)), idle_by);
	fprintf(f, "  with data in flight:   %s (%s)\n", dur(busy_case, b2, sizeof(b2)), busy_by);
	if (ut > 0)
		fprintf(f, "  Note: a user timeout also closes a live peer that keeps its receive\n"
			   "  window closed (reads nothing) for %s.\n", dur((uint64_t)ut, b1, sizeof(b1)));
}

/* lingers: the owner lingers after its FIN and flushes after the peer's
 * (a server); a dialer does neither, so --linger and --half-close are not
 * its options. */
static void help(FILE *f, const struct cw_policy *p, const char *read_idle_name, bool lingers)
{
	struct cw_policy d;
	char b[6][32];

	cw_policy_init(&d);
	fprintf(f,
		"Policy (durations: 250ms, 5s, 2m, 1h; 0 = off):\n"
		"  --idle D              close after no traffic either way for D (default %s)\n"
		"  --%-19s close after nothing received for D (default %s)\n"
		"  --write-stall D       close when queued output makes no progress for D (default %s)\n"
		"  --heartbeat D         send the heartbeat after D without sending (default %s)\n"
		"  --heartbeat-payload S heartbeat bytes, C escapes allowed (default \"\\n\")\n"
		"  --keepalive IDLE:INTVL:CNT  TCP keepalive, nginx's so_keepalive syntax: whole\n"
		"                        seconds and a count, empty field = system value; on, off\n"
		"                        (default off)\n"
		"  --user-timeout D      TCP_USER_TIMEOUT; default with keepalive on: IDLE+INTVL*CNT,\n"
		"                        else off\n",
		dur(d.idle_ms, b[0], 32), read_idle_name, dur(d.read_idle_ms, b[1], 32),
		dur(d.write_stall_ms, b[2], 32), dur(d.heartbeat_ms, b[3], 32));
	if (lingers)
		fprintf(f,
			"  --close MODE          graceful (shutdown, read until the peer's FIN, close) or\n"
			"                        abort (RST, no TIME_WAIT, queued data lost) (default graceful)\n");
	else
		fprintf(f,
			"  --close MODE          graceful (read what is there, shutdown, close) or abort\n"
			"                        (RST, no TIME_WAIT, queued data lost) (default graceful)\n");
	fprintf(f, "  --reset-timedout      abort connections closed by a timeout, whatever --close says\n");
	if (lingers)
		fprintf(f,
			"  --linger D            graceful close: wait at most D for the peer's FIN (default %s)\n"
			"  --half-close D        after the peer's FIN: flush output for at most D (default %s)\n",
			dur(d.linger_ms, b[4], 32), dur(d.half_close_ms, b[5], 32));
	detection_times(f, p);
}

void policy_help(FILE *f, const struct cw_policy *p, const char *read_idle_name)
{
	help(f, p, read_idle_name, true);
}

void policy_help_dialer(FILE *f, const struct cw_policy *p, const char *read_idle_name)
{
	help(f, p, read_idle_name, false);
}
