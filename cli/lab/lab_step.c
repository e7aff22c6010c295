/* A step of a scenario, printed: what was done, the sockets the kernel
 * shows, the counters that moved, what was measured, and what it means;
 * as text for a reader, or as one JSON line per step (--json). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "../cli.h"
#include "../out.h"
#include "closewait/census_types.h"
#include "lab.h"

#define LAB_SHOW_MAX 32
#define LAB_JSON_VERSION 1

uint64_t lab_ms(const struct lab *lab)
{
	return cli_now_ms() - lab->t0;
}

/* Text wrapped at 78 columns: the first line after first, the others
 * after indent. */
static void wrapped(struct out *o, const char *first, const char *indent, const char *text)
{
	const char *last = strrchr(first, '\n');
	size_t col = strlen(last ? last + 1 : first), ind = strlen(indent);
	bool fresh = true;

	out_printf(o, "%s", first);
	while (*text) {
		size_t w = strcspn(text, " ");

		if (!fresh && col + 1 + w > 78) {
			out_printf(o, "\n%s", indent);
			col = ind;
			fresh = true;
		}
		if (!fresh) {
			out_printf(o, " ");
			col++;
		}
		out_printf(o, "%.*s", (int)w, text);
		col += w;
		fresh = false;
		text += w;
		text += strspn(text, " ");
	}
	out_printf(o, "\n");
}

void lab_begin(struct lab *lab, const char *setting)
{
	struct utsname u;

	uname(&u);
	lab->t0 = cli_now_ms();
	lab->seen = lab_counters_read();
	if (lab->json) {
		out_json_open(lab->out, NULL, '{');
		out_json_int(lab->out, "version", LAB_JSON_VERSION);
		out_json_str(lab->out, "scenario", lab->sc->name);
		out_json_int(lab->out, "step", 0);
		out_json_str(lab->out, "id", "setting");
		out_json_str(lab->out, "summary", lab->sc->summary);
		out_json_str(lab->out, "setting", setting);
		out_json_str(lab->out, "kernel", u.release);
		out_json_bool(lab->out, "user_namespace", lab->userns);
		out_json_str(lab->out, "needs_root", lab->sc->needs_root);
		out_json_end(lab->out);
	} else {
		out_printf(lab->out, "closewait lab %s: %s\n", lab->sc->name, lab->sc->summary);
		wrapped(lab->out, "", "", setting);
		out_printf(lab->out, "(Linux %s.)\n", u.release);
		if (lab->userns)
			wrapped(lab->out, "", "", lab->sc->needs_root ? lab->sc->needs_root
				: "Run as the root of a user namespace, not the host's: nothing "
				  "this scenario shows needs more.");
	}
	out_flush(lab->out);
}

void lab_step(struct lab *lab, const char *id, const char *action)
{
	/* Counters count from here: what closed between steps is not this one's. */
	lab_counters_free(lab->seen);
	lab->seen = lab_counters_read();
	lab->step++;
	lab->id = id;
	lab->action = action;
	lab->nfacts = 0;
}

static struct lab_fact *fact(struct lab *lab, const char *key, const char *label)
{
	struct lab_fact *f;

	if (lab->nfacts == LAB_MAX_FACTS)
		return NULL; /* a scenario's mistake: a test of it sees the fact missing */
	f = &lab->facts[lab->nfacts++];
	f->key = key;
	f->label = label;
	return f;
}

void lab_fact_int(struct lab *lab, const char *key, const char *label, long long v)
{
	struct lab_fact *f = fact(lab, key, label);

	if (f) {
		f->kind = LAB_FACT_INT;
		f->i = v;
	}
}

void lab_fact_bool(struct lab *lab, const char *key, const char *label, bool v)
{
	struct lab_fact *f = fact(lab, key, label);

	if (f) {
		f->kind = LAB_FACT_BOOL;
		f->i = v;
	}
}

void lab_fact_str(struct lab *lab, const char *key, const char *label, const char *v)
{
	struct lab_fact *f = fact(lab, key, label);

	if (f) {
		f->kind = LAB_FACT_STR;
		snprintf(f->s, sizeof(f->s), "%s", v);
	}
}

void lab_say(struct lab *lab, const char *text)
{
	if (lab->json)
		return;
	wrapped(lab->out, "", "", text);
	out_flush(lab->out);
}

static void text_sock(struct out *o, const struct lab_sockview *v)
{
	char t[32];

	out_printf(o, "   %-8s  %-15s  %-15s  %-11s", v->role, v->local, v->peer,
		   cw_tcp_state_heading(v->state));
	if (v->state == CW_TCP_LISTEN) {
		/* ss's Recv-Q and Send-Q of a listener: its queue and backlog. */
		if (v->rqueue)
			out_printf(o, "  %u to accept", v->rqueue);
		out_printf(o, "  backlog %u", v->wqueue);
	} else {
		if (v->rqueue)
			out_printf(o, "  Recv-Q %u", v->rqueue);
		if (v->wqueue)
			out_printf(o, "  Send-Q %u", v->wqueue);
	}
	if (v->timer)
		out_printf(o, "  timer %s %s", cw_sock_timer_name(v->timer),
			   out_ms_str(v->timer_ms, t, sizeof(t)));
	/* What the timer has done so far: probes no one answered, or segments sent again. */
	if (v->timer && v->retrans)
		out_printf(o, " (%u %s)", v->retrans,
			   v->timer == CW_SOCK_TIMER_RETRANS ? "sent again" : "unanswered");
	if (v->pid)
		out_printf(o, "  pid %d", (int)v->pid);
	else
		out_printf(o, "  no process (%s)", v->owner);
	if (v->why)
		out_printf(o, "  %s", v->why);
	out_printf(o, "\n");
}

static void json_sock(struct out *o, const struct lab_sockview *v)
{
	out_json_open(o, NULL, '{');
	out_json_str(o, "role", v->role);
	out_json_str(o, "local", v->local);
	out_json_str(o, "peer", v->peer);
	out_json_str(o, "state", cw_tcp_state_name(v->state));
	out_json_int(o, "recv_q", v->rqueue);
	out_json_int(o, "send_q", v->wqueue);
	out_json_str(o, "timer", cw_sock_timer_name(v->timer));
	out_json_int(o, "timer_ms", v->timer_ms);
	out_json_int(o, "retrans", v->retrans);
	out_json_str(o, "owner", v->owner);
	if (v->pid)
		out_json_int(o, "pid", v->pid);
	else
		out_json_str(o, "pid", NULL);
	out_json_str(o, "comm", v->pid ? v->comm : NULL);
	out_json_str(o, "why", v->why);
	out_json_close(o);
}

static void text_step(struct lab *lab, uint16_t port, const struct lab_sockview *v, long n,
		      const struct lab_counters *now, const char *explain)
{
	struct out *o = lab->out;
	char t[32], head[48];
	bool any = false;

	snprintf(head, sizeof(head), "\n%u. [%s] ", lab->step, out_ms_str(lab_ms(lab), t, sizeof(t)));
	wrapped(o, head, "   ", lab->action);
	for (long i = 0; i < n; i++)
		text_sock(o, &v[i]);
	if (n == 0 && port)
		out_printf(o, "   (no socket on port %u)\n", port);
	if (n < 0)
		out_printf(o, "   (the census failed: %s)\n", strerror((int)-n));
	for (size_t i = 0; i < lab_counters_count(now); i++) {
		long long d = lab_counters_delta(now, lab->seen, i);
		const char *name = lab_counters_name(now, i);

		if (!d || lab_counter_noisy(name) || !strcmp(name, "TcpCurrEstab"))
			continue;
		out_printf(o, "%s %s %+lld", any ? "," : "   counters:", name, d);
		any = true;
	}
	if (any)
		out_printf(o, "\n");
	for (size_t i = 0; i < lab->nfacts; i++) {
		const struct lab_fact *f = &lab->facts[i];

		if (f->kind == LAB_FACT_INT)
			out_printf(o, "   %s: %lld\n", f->label, f->i);
		else if (f->kind == LAB_FACT_BOOL)
			out_printf(o, "   %s: %s\n", f->label, f->i ? "yes" : "no");
		else
			out_printf(o, "   %s: %s\n", f->label, f->s);
	}
	wrapped(o, "   ", "   ", explain);
}

static void json_step(struct lab *lab, const struct lab_sockview *v, long n,
		      const struct lab_counters *now, const char *explain)
{
	struct out *o = lab->out;

	out_json_open(o, NULL, '{');
	out_json_int(o, "version", LAB_JSON_VERSION);
	out_json_str(o, "scenario", lab->sc->name);
	out_json_int(o, "step", lab->step);
	out_json_str(o, "id", lab->id);
	out_json_int(o, "t_ms", (long long)lab_ms(lab));
	out_json_str(o, "action", lab->action);
	out_json_open(o, "sockets", '[');
	for (long i = 0; i < n; i++)
		json_sock(o, &v[i]);
	out_json_close(o);
	/* Every TCP counter that moved, the gauge TcpCurrEstab too. */
	out_json_open(o, "counters", '{');
	for (size_t i = 0; i < lab_counters_count(now); i++) {
		long long d = lab_counters_delta(now, lab->seen, i);

		if (d)
			out_json_int(o, lab_counters_name(now, i), d);
	}
	out_json_close(o);
	out_json_open(o, "facts", '{');
	for (size_t i = 0; i < lab->nfacts; i++) {
		if (lab->facts[i].kind == LAB_FACT_INT)
			out_json_int(o, lab->facts[i].key, lab->facts[i].i);
		else if (lab->facts[i].kind == LAB_FACT_BOOL)
			out_json_bool(o, lab->facts[i].key, lab->facts[i].i);
		else
			out_json_str(o, lab->facts[i].key, lab->facts[i].s);
	}
	out_json_close(o);
	out_json_str(o, "explanation", explain);
	out_json_end(o);
}

int lab_show(struct lab *lab, uint16_t port, const char *explain)
{
	struct lab_sockview v[LAB_SHOW_MAX];
	long n = lab_sockets(port, v, LAB_SHOW_MAX);
	struct lab_counters *now = lab_counters_read();

	if (lab->svg)
		lab_svg_step(lab->svg, lab->step, lab->id, lab_ms(lab), v, n < 0 ? 0 : n);
	if (lab->json)
		json_step(lab, v, n < 0 ? 0 : n, now, explain);
	else
		text_step(lab, port, v, n, now, explain);
	lab_counters_free(lab->seen);
	lab->seen = now;
	out_flush(lab->out);
	/* SIGPIPE ends the lab at a closed pipe; this catches the other errors. */
	return lab->err = ferror(stdout) ? -EIO : 0;
}
