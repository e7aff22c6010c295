/* closewait lab --svg: the scenario as a sequence diagram. A packet socket
 * in the lab's namespace captures every TCP segment on its interfaces
 * (loopback: the copy each segment makes arriving, not the one leaving;
 * another interface: both ways); each step takes the segments captured
 * since the last one and the states of the sockets it shows. At the end:
 * one lane per endpoint (address:port), one arrow per segment, the states
 * each step showed on the lanes of their endpoints. Bounded: at most
 * LAB_SVG_SEGS segments, LAB_SVG_LANES lanes and LAB_SVG_STATES states are
 * drawn; the picture says how many more there were. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "closewait/census_types.h"
#include "lab.h"

#define LAB_SVG_SEGS 2000
#define LAB_SVG_LANES 16
#define LAB_SVG_STATES 1024
#define LAB_SVG_STEPS 64
#define EP_LEN 56

struct seg {
	unsigned from, to;            /* lanes */
	uint8_t flags;
	uint32_t len;
};

struct state {
	unsigned step, lane;
	int state;
};

struct mark {
	unsigned step;
	uint64_t t_ms;
	char id[32];
	size_t first_seg;             /* the step's segments: first_seg.. the next mark's */
};

struct lab_svg {
	int fd;
	char lanes[LAB_SVG_LANES][EP_LEN];
	size_t nlanes;
	struct seg segs[LAB_SVG_SEGS];
	size_t nsegs, segs_over, lanes_over;
	struct state states[LAB_SVG_STATES];
	size_t nstates, states_over;
	struct mark marks[LAB_SVG_STEPS];
	size_t nmarks;
};

int lab_svg_open(struct lab_svg **out)
{
	struct lab_svg *g = calloc(1, sizeof(*g));
	int size = 8 << 20, err;

	if (!g)
		return -ENOMEM;
	g->fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
	if (g->fd < 0) {
		err = -errno;
		free(g);
		return err;
	}
	/* a step can send thousands of segments before it is drained */
	if (setsockopt(g->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(g->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	*out = g;
	return 0;
}

void lab_svg_free(struct lab_svg *g)
{
	if (!g)
		return;
	close(g->fd);
	free(g);
}

/* The lane of endpoint ep, made when new; LAB_SVG_LANES when there is no
 * room left. */
static unsigned lane(struct lab_svg *g, const char *ep)
{
	for (size_t i = 0; i < g->nlanes; i++)
		if (!strcmp(g->lanes[i], ep))
			return (unsigned)i;
	if (g->nlanes == LAB_SVG_LANES)
		return LAB_SVG_LANES;
	snprintf(g->lanes[g->nlanes], EP_LEN, "%s", ep);
	return (unsigned)g->nlanes++;
}

static void endpoint(int family, const void *addr, uint16_t port, char *buf)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, a, sizeof(a));
	snprintf(buf, EP_LEN, family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
}

/* One captured packet: a TCP segment is recorded, anything else ignored. */
static void packet(struct lab_svg *g, const uint8_t *p, size_t n, uint16_t proto)
{
	char src[EP_LEN], dst[EP_LEN];
	size_t ip_len, total;
	int family;
	const void *sa, *da;
	const uint8_t *t;
	unsigned from, to;

	if (proto == ETH_P_IP && n >= 20 && p[9] == IPPROTO_TCP) {
		ip_len = (size_t)(p[0] & 15) * 4;
		total = (size_t)p[2] << 8 | p[3];
		family = AF_INET, sa = p + 12, da = p + 16;
	} else if (proto == ETH_P_IPV6 && n >= 40 && p[6] == IPPROTO_TCP) {
		ip_len = 40;
		total = 40 + ((size_t)p[4] << 8 | p[5]);
		family = AF_INET6, sa = p + 8, da = p + 24;
	} else {
		return;
	}
	if (total > n || ip_len + 20 > total)
		return;
	t = p + ip_len;
	if (ip_len + (size_t)(t[12] >> 4) * 4 > total)
		return;
	endpoint(family, sa, (uint16_t)(t[0] << 8 | t[1]), src);
	endpoint(family, da, (uint16_t)(t[2] << 8 | t[3]), dst);
	from = lane(g, src);
	to = lane(g, dst);
	if (from == LAB_SVG_LANES || to == LAB_SVG_LANES) {
		g->lanes_over++;
		return;
	}
	if (g->nsegs == LAB_SVG_SEGS) {
		g->segs_over++;
		return;
	}
	g->segs[g->nsegs++] = (struct seg){ .from = from, .to = to,
					    .flags = t[13],
					    .len = (uint32_t)(total - ip_len - (size_t)(t[12] >> 4) * 4) };
}

/* Every packet captured so far. */
static void drain(struct lab_svg *g)
{
	uint8_t buf[2048];
	struct sockaddr_ll sll;

	for (;;) {
		socklen_t len = sizeof(sll);
		ssize_t n = recvfrom(g->fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&sll, &len);

		if (n < 0)
			return; /* EAGAIN: all taken */
		/* loopback: each segment is seen leaving and arriving; keep one */
		if (sll.sll_hatype == ARPHRD_LOOPBACK && sll.sll_pkttype == PACKET_OUTGOING)
			continue;
		packet(g, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf), ntohs(sll.sll_protocol));
	}
}

void lab_svg_step(struct lab_svg *g, unsigned step, const char *id, uint64_t t_ms,
		  const struct lab_sockview *v, long n)
{
	struct mark *m;

	if (g->nmarks == LAB_SVG_STEPS)
		return;
	drain(g);
	m = &g->marks[g->nmarks++];
	*m = (struct mark){ .step = step, .t_ms = t_ms, .first_seg = g->nsegs };
	snprintf(m->id, sizeof(m->id), "%s", id ? id : "");
	for (long i = 0; i < n; i++) {
		unsigned l = lane(g, v[i].local);

		if (l == LAB_SVG_LANES || g->nstates == LAB_SVG_STATES) {
			g->states_over++;
			continue;
		}
		g->states[g->nstates++] = (struct state){ step, l, v[i].state };
	}
}

/* ---- drawing ---- */
#define LANE_W 190
#define LEFT 180                      /* the steps' names and times */
#define TOP 70
#define SEG_H 22
#define STATE_H 16

static void flags_text(uint8_t f, uint32_t len, char *buf, size_t size)
{
	static const struct { uint8_t bit; const char *name; } names[] = {
		{ 0x02, "SYN" }, { 0x01, "FIN" }, { 0x04, "RST" }, { 0x08, "PSH" },
		{ 0x20, "URG" }, { 0x10, "ACK" },
	};
	size_t o = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & names[i].bit)
			o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? "," : "", names[i].name);
	if (len && o < size)
		snprintf(buf + o, size - o, " %u B", len);
}

static unsigned lane_x(unsigned l)
{
	return LEFT + l * LANE_W + LANE_W / 2;
}

/* The rows of state labels step m takes: as many as its busiest lane. */
static size_t state_rows(const struct lab_svg *g, unsigned step)
{
	size_t per_lane[LAB_SVG_LANES] = { 0 }, rows = 0;

	for (size_t i = 0; i < g->nstates; i++)
		if (g->states[i].step == step && ++per_lane[g->states[i].lane] > rows)
			rows = per_lane[g->states[i].lane];
	return rows;
}

/* Draws segments [from, to) at y and below, each an arrow tagged with step
 * (its data-step; "end" after the last step). The y below them. */
static unsigned draw_segs(struct lab_svg *g, FILE *f, size_t from, size_t to, const char *step,
			  unsigned y)
{
	for (size_t i = from; i < to; i++) {
		const struct seg *s = &g->segs[i];
		char t[40];

		flags_text(s->flags, s->len, t, sizeof(t));
		fprintf(f, "<g class=\"segment\" data-step=\"%s\">", step);
		fprintf(f, "<line x1=\"%u\" y1=\"%u\" x2=\"%u\" y2=\"%u\" stroke=\"%s\" "
			   "marker-end=\"url(#arrow)\"/>",
			lane_x(s->from), y, lane_x(s->to), y + 10,
			s->flags & 0x04 ? "#c00" : s->flags & 0x03 ? "#036" : "#555");
		fprintf(f, "<text x=\"%u\" y=\"%u\" text-anchor=\"middle\">%s</text></g>\n",
			(lane_x(s->from) + lane_x(s->to)) / 2, y - 2, t);
		y += SEG_H;
	}
	return y;
}

int lab_svg_write(struct lab_svg *g, FILE *f, const char *title)
{
	unsigned w, y = TOP + 30, h;
	size_t per_lane[LAB_SVG_LANES], from = 0;
	char step[16];

	drain(g); /* what came after the last step */
	w = LEFT + (unsigned)(g->nlanes ? g->nlanes : 1) * LANE_W;
	h = y + (unsigned)g->nsegs * SEG_H + 20;
	for (size_t k = 0; k < g->nmarks; k++)
		h += 36 + (unsigned)state_rows(g, g->marks[k].step) * STATE_H;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" "
		   "viewBox=\"0 0 %u %u\" font-family=\"monospace\" font-size=\"12\">\n",
		w, h, w, h);
	fprintf(f, "<title>closewait lab %s</title>\n", title);
	fprintf(f, "<desc>%zu segments, %zu lanes, %zu states drawn; %zu segments, %zu states "
		   "left out (too many)</desc>\n",
		g->nsegs, g->nlanes, g->nstates, g->segs_over + g->lanes_over, g->states_over);
	fprintf(f, "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
		   "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">"
		   "<path d=\"M0,0 L10,5 L0,10 z\"/></marker></defs>\n");
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"10\" y=\"24\" font-size=\"16\">closewait lab %s</text>\n", title);
	for (size_t l = 0; l < g->nlanes; l++) {
		fprintf(f, "<g class=\"lane\" data-endpoint=\"%s\">", g->lanes[l]);
		fprintf(f, "<text x=\"%u\" y=\"%u\" text-anchor=\"middle\">%s</text>", lane_x((unsigned)l),
			TOP, g->lanes[l]);
		fprintf(f, "<line x1=\"%u\" y1=\"%u\" x2=\"%u\" y2=\"%u\" stroke=\"#999\"/></g>\n",
			lane_x((unsigned)l), TOP + 8, lane_x((unsigned)l), h - 20);
	}
	for (size_t k = 0; k < g->nmarks; k++) {
		const struct mark *m = &g->marks[k];

		/* the segments of a step came before its census */
		snprintf(step, sizeof(step), "%u", m->step);
		y = draw_segs(g, f, from, m->first_seg, step, y);
		from = m->first_seg;
		fprintf(f, "<g class=\"step\" data-step=\"%u\"><line x1=\"0\" y1=\"%u\" x2=\"%u\" "
			   "y2=\"%u\" stroke=\"#aaa\" stroke-dasharray=\"4 3\"/>"
			   "<text x=\"4\" y=\"%u\">%u. %s</text><text x=\"4\" y=\"%u\">%.1f s</text></g>\n",
			m->step, y, w, y, y + 14, m->step, m->id, y + 28, (double)m->t_ms / 1000);
		memset(per_lane, 0, sizeof(per_lane));
		for (size_t i = 0; i < g->nstates; i++) {
			const struct state *s = &g->states[i];

			if (s->step != m->step)
				continue;
			fprintf(f, "<text class=\"state\" data-step=\"%u\" data-endpoint=\"%s\" "
				   "x=\"%u\" y=\"%u\" text-anchor=\"middle\" fill=\"#060\">%s</text>\n",
				m->step, g->lanes[s->lane], lane_x(s->lane),
				y + 16 + (unsigned)per_lane[s->lane] * STATE_H,
				cw_tcp_state_heading(s->state));
			per_lane[s->lane]++;
		}
		y += 36 + (unsigned)state_rows(g, m->step) * STATE_H;
	}
	draw_segs(g, f, from, g->nsegs, "end", y);
	fprintf(f, "</svg>\n");
	return ferror(f) ? -EIO : 0;
}
