/* rst mode: SOCK_DESTROY through sock_diag, what `ss -K` does. tcp_abort()
 * sets ECONNABORTED on the socket, sends an RST from the states that call for
 * one (tcp_need_reset: ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1/2, SYN_RECV) and
 * closes it; an owner keeps a valid fd on a closed socket. Needs no owner,
 * so it serves sockets whose owner is unknown or gone; needs CAP_NET_ADMIN
 * in the socket's network namespace and CONFIG_INET_DIAG_DESTROY.
 *
 * Identity: an exact lookup of the address pair right before acting gives
 * the inode and state to compare with the selection, and the socket's
 * cookie; destroy is asked with that cookie, so a socket that took the pair
 * in between is refused by the kernel (-ESTALE), not destroyed. */
#include "reap_internal.h"
#include "reap_diag.h"

#include <errno.h>
#include <stdlib.h>

static void rst_one(struct cw_reap_item *it, struct reap_diag *d)
{
	struct reap_diag_found f;
	int err = reap_diag_get(d, it->sock, &f);

	if (err == -ENOENT) {
		it->status = CW_REAP_SKIP_GONE;
		it->err = err;
		return;
	}
	if (err) {
		it->status = CW_REAP_FAIL_ERROR;
		it->err = err;
		return;
	}
	it->end_state = f.state;
	if (f.inode != it->sock->inode) {
		it->status = CW_REAP_SKIP_REPLACED;
		it->new_inode = f.inode;
		return;
	}
	if (f.state != it->sock->state) {
		it->status = CW_REAP_SKIP_CHANGED;
		return;
	}
	err = reap_diag_destroy(d, it->sock, f.cookie);
	it->err = err;
	switch (err) {
	case 0:
		it->status = CW_REAP_DESTROYED;
		it->end_state = CW_TCP_CLOSE;
		break;
	case -ENOENT: it->status = CW_REAP_SKIP_GONE; break;
	case -ESTALE: it->status = CW_REAP_SKIP_REPLACED; break;
	case -EPERM:
	case -EACCES: it->status = CW_REAP_FAIL_CAP; break;
	case -EOPNOTSUPP: it->status = CW_REAP_FAIL_NOSUPPORT; break;
	default: it->status = CW_REAP_FAIL_ERROR; break;
	}
}

/* A sock_diag socket per namespace (made inside it: one from elsewhere
 * does not find the socket, and ENOENT must not pass for "gone"), opened
 * when its first item comes. One that cannot be made fails its items. */
int reap_rst_run(struct cw_reap *r, const struct reap_how *how)
{
	struct reap_diag **d = calloc(r->nns ? r->nns : 1, sizeof(*d));
	int *derr = calloc(r->nns ? r->nns : 1, sizeof(*derr));
	int err = d && derr ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < r->n; i++) {
		struct cw_reap_item *it = &r->items[i];
		size_t j = 0;

		if (it->status != CW_REAP_TO_REAP)
			continue;
		while (j < r->nns && r->ns[j].ino != it->sock->netns)
			j++;
		if (j == r->nns) { /* reap_select keeps every item's namespace */
			it->status = CW_REAP_FAIL_ERROR;
			it->err = -ENOENT;
			continue;
		}
		if (!d[j] && !derr[j])
			derr[j] = reap_diag_open(r->ns[j].fd, &d[j]);
		if (derr[j]) {
			it->status = CW_REAP_FAIL_ERROR; /* entering it: CAP_SYS_ADMIN */
			it->err = derr[j];
			continue;
		}
		if (how->seam.before_act)
			how->seam.before_act(it, how->seam.arg);
		rst_one(it, d[j]);
	}
	for (size_t j = 0; d && j < r->nns; j++)
		reap_diag_close(d[j]);
	free(d);
	free(derr);
	return err;
}
