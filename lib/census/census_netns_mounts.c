/* The nsfs bind mounts of every mount namespace: a network namespace held
 * only by a mount (as /run/netns/NAME is, or one a container runtime made
 * in its own mount namespace). */
#include "census_netns_walk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "util.h"

/* Mount points in /proc/PID/mountinfo escape space, tab, newline and
 * backslash as \ooo; undone in place. */
static void unescape(char *p)
{
	char *o = p;

	for (; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
}

/* One line of a mount table: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS
 * [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS". A bind mount of a network
 * namespace is of type nsfs with root "net:[N]": its identity is (MAJ:MIN,
 * N). Its mount point is cut out of line (unescaped); false for any other. */
static bool nsfs_mount(char *line, struct ident *id, char **mp)
{
	char *f[5], *sep, *save = NULL;
	unsigned maj, min;

	sep = strstr(line, " - ");
	if (!sep || strncmp(sep + 3, "nsfs ", 5))
		return false;
	*sep = 0;
	for (int i = 0; i < 5; i++)
		if (!(f[i] = strtok_r(i ? NULL : line, " ", &save)))
			return false;
	id->ino = net_inode(f[3], strlen(f[3]));
	if (!id->ino || sscanf(f[2], "%u:%u", &maj, &min) != 2)
		return false;
	id->dev = makedev(maj, min);
	unescape(f[4]);
	*mp = f[4];
	return true;
}

/* The whole of a mount table (its size is unknown before reading: /proc
 * files report 0). 0, or -errno of opening or reading it. */
static int read_text(struct collect *c, int dirfd, const char *rel, size_t *len)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC), err = 0;
	ssize_t n;

	*len = 0;
	if (fd < 0)
		return -errno;
	for (;;) {
		if (*len + 1 >= c->textcap) {
			size_t cap = c->textcap ? c->textcap * 2 : 16384;
			char *t = realloc(c->text, cap);

			if (!t) {
				err = -ENOMEM;
				break;
			}
			c->text = t;
			c->textcap = cap;
		}
		n = read(fd, c->text + *len, c->textcap - 1 - *len);
		if (n <= 0) {
			err = n < 0 ? -errno : 0;
			break;
		}
		*len += (size_t)n;
	}
	c->text[*len] = 0;
	close(fd);
	return err;
}

/* A mount seen in another mount namespace is opened through its process's
 * root; one in ours as it is, so that it stays reachable whatever process
 * exits. It counts only if that path leads to the namespace the table
 * names: something mounted over it since hides it there. */
static bool same_view(const struct view *a, const struct view *b)
{
	return a->mnt.dev == b->mnt.dev && a->mnt.ino == b->mnt.ino && a->root.dev == b->root.dev &&
	       a->root.ino == b->root.ino;
}

static int note_mount(struct collect *c, const struct view *view, pid_t pid, const struct ident *id,
		      const char *mp)
{
	char open_path[PATH_MAX + PROC_PATH];
	struct stat st;
	int err;

	if (known(c, id->dev, id->ino, CW_NETNS_MOUNT))
		return 0;
	if (same_view(view, &c->self))
		err = path_fmt(open_path, sizeof(open_path), "%s", mp);
	else
		err = path_fmt(open_path, sizeof(open_path), "%s/%d/root%s", c->proc, (int)pid, mp);
	if (err)
		return refused(c, -err);
	if (stat(open_path, &st) < 0)
		return refused(c, errno);
	if (st.st_dev != id->dev || st.st_ino != id->ino)
		return 0;
	return note(c, id->dev, id->ino, CW_NETNS_MOUNT, pid, open_path, mp);
}

/* The view of pid (dirfd: /proc/PID or /proc/thread-self). */
int view_of(int dirfd, struct view *v)
{
	struct stat m, r;

	if (fstatat(dirfd, "ns/mnt", &m, 0) < 0 || fstatat(dirfd, "root", &r, 0) < 0)
		return -errno;
	*v = (struct view){ { m.st_dev, m.st_ino }, { r.st_dev, r.st_ino } };
	return 0;
}

/* The nsfs bind mounts of pid's mount namespace, read once per mount
 * namespace and root (dirfd: /proc/PID or /proc/thread-self). */
int walk_mounts(struct collect *c, int dirfd, pid_t pid)
{
	struct view view, *v;
	size_t len;
	int err = view_of(dirfd, &view);

	if (err)
		return refused(c, -err);
	for (size_t i = 0; i < c->nviews; i++)
		if (same_view(&c->views[i], &view))
			return 0;
	err = read_text(c, dirfd, "mountinfo", &len);
	if (err)
		return refused(c, -err);
	for (char *line = c->text, *end; !err && *line; line = end) {
		struct ident id;
		char *mp;

		end = strchr(line, '\n');
		end = end ? (*end = 0, end + 1) : line + strlen(line);
		if (nsfs_mount(line, &id, &mp))
			err = note_mount(c, &view, pid, &id, mp);
	}
	if (err)
		return err;
	v = vec_room(c->views, c->nviews, &c->viewcap, sizeof(*v), 16);
	if (!v)
		return -ENOMEM;
	c->views = v;
	c->views[c->nviews++] = view;
	return 0;
}

