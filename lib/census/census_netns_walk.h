/* The namespace walk's own parts (private to census_netns*.c): the state
 * of a collection under way (census_netns_set.c records what it finds),
 * the process walk (census_netns.c) and the mount table reader
 * (census_netns_mounts.c). */
#ifndef CW_CENSUS_NETNS_WALK_H
#define CW_CENSUS_NETNS_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "census_netns.h"

/* getdents64 buffer, as the socket owner walk uses (census_procfd.c). */
#define DENTS_BUF 4096
/* Paths under /proc: the root given, a pid, a tid and a short tail. */
#define PROC_PATH 256

struct ident {
	uint64_t dev, ino;
};

struct name {
	struct ident id;
	char *name;
};

/* What a process's mount table shows: its mount namespace's mounts, as
 * seen from its root (a chrooted process sees only those below it). */
struct view {
	struct ident mnt, root;
};

/* A collection under way. The walk meets each namespace once per process,
 * thread and holding fd: an index by identity makes each meeting one probe. */
struct collect {
	struct netns_set *s;
	const char *proc;
	uint32_t *slot;               /* open addressing: 1 + index into s->v; 0 = empty */
	size_t mask;
	struct view *views;           /* the mount tables read */
	size_t nviews, viewcap;
	struct view self;             /* ours: its mount points open as they are */
	char *dents;                  /* getdents64 buffer */
	char *text;                   /* a mount table being read */
	size_t textcap;
};

/* A path built into buf; -ENAMETOOLONG rather than a cut one, which would
 * lead somewhere else. */
__attribute__((format(printf, 3, 4)))
int path_fmt(char *buf, size_t len, const char *fmt, ...);
/* Room in the collection's index for one more namespace (it stays at
 * most half full). 0 or -ENOMEM. */
int index_room(struct collect *c);
/* Records namespace (dev, ino), found how: a new entry, or a better way of
 * finding one already there. 0 or -ENOMEM. */
int note(struct collect *c, uint64_t dev, uint64_t ino, enum cw_netns_how how, pid_t pid,
	 const char *open_path, const char *path);
/* Whether (dev, ino) is known already, found at least as well as how. */
bool known(const struct collect *c, uint64_t dev, uint64_t ino, enum cw_netns_how how);
/* What a failed look (errno err) means: 0 (gone, or counted as
 * unreadable), or the -errno that ends the run. */
int refused(struct collect *c, int err);
/* "net:[4026532283]" -> 4026532283; 0 for anything else. */
uint64_t net_inode(const char *l, size_t len);

/* The mount tables (census_netns_mounts.c). */
/* The view of the process whose /proc directory is dirfd. 0 or -errno. */
int view_of(int dirfd, struct view *v);
/* The nsfs bind mounts of pid's mount namespace, read once per mount
 * namespace and root (dirfd: /proc/PID or /proc/thread-self). */
int walk_mounts(struct collect *c, int dirfd, pid_t pid);

#endif
