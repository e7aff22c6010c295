/* Reads just enough of a program file to know whether LD_PRELOAD reaches
 * it: the ELF program headers (PT_INTERP, PT_NOTE) and the section names.
 * The file is any one the user asks to run: every count and offset in it is
 * bounded before use, and a malformed one is left to exec to judge. */
#include <elf.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guard_target.h"

#define HEAD_LEN 256          /* what the kernel reads to choose a binary format (BINPRM_BUF_SIZE) */
#define NOTE_MAX (64 * 1024)  /* a PT_NOTE segment is read whole; Go's note is 100 bytes */
#define SECTIONS_MAX 65536
#define SCRIPT_DEPTH 4        /* the kernel's limit on #! nesting (BINPRM_MAX_RECURSION) */
#define GO_NOTE_TYPE 4        /* the Go linker's build ID note: name "Go", type 4 */
#define GO_SECTION ".go.buildinfo" /* the Go linker's; both it and the note survive -s -w */

#if __BYTE_ORDER == __LITTLE_ENDIAN
#define NATIVE_DATA ELFDATA2LSB
#else
#define NATIVE_DATA ELFDATA2MSB
#endif

/* The ELF header of either class, widened. */
struct elf {
	int fd;
	bool is64;
	uint64_t phoff, shoff;
	size_t phnum, shnum, shstrndx, phentsize, shentsize;
};

struct phdr {
	uint32_t type;
	uint64_t offset, filesz, align;
};

struct shdr {
	uint32_t name, link;
	uint64_t offset, size;
};

/* len bytes at off, all of them: a short read is a truncated file. */
static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n;

	if (off > INT64_MAX - len)
		return -ENOEXEC;
	n = pread(fd, buf, len, (off_t)off);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -ENOEXEC;
}

/* false: not an ELF this machine runs (another class or byte order, or
 * program headers the kernel would refuse). */
static bool elf_header(int fd, const unsigned char *head, size_t n, struct elf *e)
{
	if (n < EI_NIDENT || memcmp(head, ELFMAG, SELFMAG) || head[EI_DATA] != NATIVE_DATA)
		return false;
	if (head[EI_CLASS] == ELFCLASS64 && n >= sizeof(Elf64_Ehdr)) {
		Elf64_Ehdr h;

		memcpy(&h, head, sizeof(h));
		*e = (struct elf){ fd, true, h.e_phoff, h.e_shoff, h.e_phnum, h.e_shnum, h.e_shstrndx,
				   h.e_phentsize, h.e_shentsize };
		return e->phentsize == sizeof(Elf64_Phdr);
	}
	if (head[EI_CLASS] == ELFCLASS32 && n >= sizeof(Elf32_Ehdr)) {
		Elf32_Ehdr h;

		memcpy(&h, head, sizeof(h));
		*e = (struct elf){ fd, false, h.e_phoff, h.e_shoff, h.e_phnum, h.e_shnum, h.e_shstrndx,
				   h.e_phentsize, h.e_shentsize };
		return e->phentsize == sizeof(Elf32_Phdr);
	}
	return false;
}

static int read_phdr(const struct elf *e, size_t i, struct phdr *p)
{
	union {
		Elf32_Phdr h32;
		Elf64_Phdr h64;
	} u;
	int err = read_at(e->fd, &u, e->is64 ? sizeof(u.h64) : sizeof(u.h32), e->phoff + i * e->phentsize);

	if (err)
		return err;
	if (e->is64)
		*p = (struct phdr){ u.h64.p_type, u.h64.p_offset, u.h64.p_filesz, u.h64.p_align };
	else
		*p = (struct phdr){ u.h32.p_type, u.h32.p_offset, u.h32.p_filesz, u.h32.p_align };
	return 0;
}

static int read_shdr(const struct elf *e, size_t i, struct shdr *s)
{
	union {
		Elf32_Shdr h32;
		Elf64_Shdr h64;
	} u;
	size_t len = e->is64 ? sizeof(u.h64) : sizeof(u.h32);
	int err = e->shentsize < len ? -ENOEXEC : read_at(e->fd, &u, len, e->shoff + i * e->shentsize);

	if (err)
		return err;
	if (e->is64)
		*s = (struct shdr){ u.h64.sh_name, u.h64.sh_link, u.h64.sh_offset, u.h64.sh_size };
	else
		*s = (struct shdr){ u.h32.sh_name, u.h32.sh_link, u.h32.sh_offset, u.h32.sh_size };
	return 0;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Whether a PT_NOTE segment holds Go's note. Read through the program
 * headers, it is found in a binary whose section headers were stripped. */
static bool go_note(const struct elf *e, const struct phdr *p)
{
	size_t len = p->filesz < NOTE_MAX ? (size_t)p->filesz : NOTE_MAX;
	uint64_t a = p->align == 8 ? 8 : 4, off = 0; /* 8: the gABI's 64-bit notes; else 4 */
	unsigned char *buf = malloc(len ? len : 1);
	bool go = false;

	if (!buf || read_at(e->fd, buf, len, p->offset))
		goto out;
	while (!go && off + 12 <= len) {
		uint32_t w[3]; /* namesz, descsz, type */
		uint64_t name = off + 12, next;

		memcpy(w, buf + off, sizeof(w));
		next = align_up(name + w[0], a);
		next = align_up(next + w[1], a);
		/* The Go linker pads the name to 4 bytes: namesz 4, "Go\0\0". */
		go = w[2] == GO_NOTE_TYPE && (w[0] == 3 || w[0] == 4) && name + w[0] <= len &&
		     !memcmp(buf + name, "Go", 3);
		off = next;
	}
out:
	free(buf);
	return go;
}

/* Whether a section is named .go.buildinfo. Section headers are optional at
 * run time: a malformed or missing table answers no. */
static bool go_section(const struct elf *e)
{
	size_t shnum = e->shnum, strndx = e->shstrndx;
	struct shdr s, str;

	if (!e->shoff)
		return false;
	if (shnum == 0 || strndx == SHN_XINDEX) { /* too many sections: the real values are in section 0 */
		if (read_shdr(e, 0, &s))
			return false;
		shnum = shnum ? shnum : (size_t)s.size;
		strndx = strndx == SHN_XINDEX ? s.link : strndx;
	}
	if (shnum > SECTIONS_MAX)
		shnum = SECTIONS_MAX;
	if (strndx >= shnum || read_shdr(e, strndx, &str))
		return false;
	for (size_t i = 0; i < shnum; i++) {
		char name[sizeof(GO_SECTION)];

		if (read_shdr(e, i, &s))
			return false;
		if ((uint64_t)s.name + sizeof(name) > str.size ||
		    read_at(e->fd, name, sizeof(name), str.offset + s.name))
			continue;
		if (!memcmp(name, GO_SECTION, sizeof(name)))
			return true;
	}
	return false;
}

static enum guard_target_kind elf_kind(const struct elf *e, const struct stat *st)
{
	bool interp = false, go = false;
	struct phdr p;

	for (size_t i = 0; i < e->phnum; i++) {
		if (read_phdr(e, i, &p))
			return GUARD_TARGET_UNKNOWN; /* exec will refuse it too */
		if (p.type == PT_INTERP)
			interp = true;
		else if (p.type == PT_NOTE && !go)
			go = go_note(e, &p);
	}
	if (go || go_section(e))
		return GUARD_TARGET_GO;
	if (!interp)
		return GUARD_TARGET_STATIC;
	/* The kernel changes the group only when the file is also group-executable. */
	if ((st->st_mode & S_ISUID) || (st->st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		return GUARD_TARGET_SETID;
	return GUARD_TARGET_OK;
}

/* The interpreter a #! line names (the first word after it), in out. */
static int script_interp(const unsigned char *head, size_t n, char *out, size_t len)
{
	size_t i = 2, start;

	while (i < n && (head[i] == ' ' || head[i] == '\t'))
		i++;
	start = i;
	while (i < n && head[i] != ' ' && head[i] != '\t' && head[i] != '\n' && head[i] != '\0')
		i++;
	if (i == start || i - start >= len)
		return -ENOEXEC;
	memcpy(out, head + start, i - start);
	out[i - start] = '\0';
	return 0;
}

/* One file: 0 with t->kind set, 1 when it is a #! script (t->file then names
 * its interpreter), or -errno. */
static int check_file(struct guard_target *t)
{
	unsigned char head[HEAD_LEN];
	struct stat st;
	struct elf e;
	ssize_t n;
	int err = 0, fd = open(t->file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || (n = pread(fd, head, sizeof(head), 0)) < 0) {
		err = -errno;
		goto out;
	}
	if (elf_header(fd, head, (size_t)n, &e)) {
		t->kind = elf_kind(&e, &st);
	} else if (n >= 2 && head[0] == '#' && head[1] == '!') {
		/* Linux ignores the set-id bits of a script: only its interpreter matters. */
		err = script_interp(head, (size_t)n, t->file, sizeof(t->file));
		if (!err)
			err = 1;
		else
			t->kind = GUARD_TARGET_UNKNOWN, err = 0;
	} else {
		t->kind = GUARD_TARGET_UNKNOWN;
	}
out:
	close(fd);
	return err;
}

int guard_target_check(const char *path, struct guard_target *t)
{
	int err;

	t->script = false;
	if (strlen(path) >= sizeof(t->file))
		return -ENAMETOOLONG;
	strcpy(t->file, path);
	for (int depth = 0;; depth++) {
		err = check_file(t);
		if (err <= 0)
			return err;
		t->script = true;
		if (depth == SCRIPT_DEPTH) {
			t->kind = GUARD_TARGET_UNKNOWN; /* exec fails with ELOOP */
			return 0;
		}
	}
}

/* 0 for an executable regular file; -EACCES for another that exists (what
 * exec says of a directory too); -errno of stat. */
static int executable(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	return S_ISREG(st.st_mode) && !access(path, X_OK) ? 0 : -EACCES;
}

int guard_target_resolve(const char *name, char *out, size_t len)
{
	const char *dirs = getenv("PATH"), *p, *end;
	bool denied = false;

	if (!*name)
		return -ENOENT;
	if (strchr(name, '/')) {
		if (strlen(name) >= len)
			return -ENAMETOOLONG;
		strcpy(out, name);
		return executable(name);
	}
	if (!dirs)
		dirs = "/bin:/usr/bin"; /* glibc's execvp without PATH */
	for (p = dirs;; p = end + 1) {
		int n, err;

		end = strchrnul(p, ':');
		/* An empty entry is the current directory ("./": a name without a
		 * slash would make execvp search again). */
		if (end > p)
			n = snprintf(out, len, "%.*s/%s", (int)(end - p), p, name);
		else
			n = snprintf(out, len, "./%s", name);
		if (n > 0 && (size_t)n < len) {
			err = executable(out);
			if (!err)
				return 0;
			denied |= err == -EACCES;
		}
		if (!*end)
			break;
	}
	return denied ? -EACCES : -ENOENT;
}
