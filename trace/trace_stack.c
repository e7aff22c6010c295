/* Symbolises creating stacks with libdwfl against the live process: its
 * modules from /proc/PID/maps, each file opened as the process sees it
 * (through /proc/PID/map_files, else /proc/PID/root: it may run in another
 * mount namespace, or its file may be deleted), symbols and lines from
 * the file's own debug information or a separate one the standard search
 * finds by build-id. */
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "trace_stack.h"

/* A file mapping of the process, from /proc/PID/maps. */
struct vma {
	uint64_t start, end, pgoff;
	char *path;
};

/* The stack being resolved: libdwfl's find_elf callback takes no argument
 * of ours, and trace resolves one stack at a time on one thread. */
static struct resolving {
	pid_t pid;
	struct vma *v;
	size_t n;
} *cur;

static void vmas_free(struct resolving *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].path);
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

/* The file mappings of pid. 0 or -errno. */
static int vmas_read(struct resolving *r)
{
	char p[64], *line = NULL;
	size_t cap = 0, vcap = 0;
	FILE *f;
	int err = 0;

	snprintf(p, sizeof(p), "/proc/%d/maps", (int)r->pid);
	if (!(f = fopen(p, "re")))
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		unsigned long long a, b, off;
		int at = 0;
		char *path;

		if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %n", &a, &b, &off, &at) != 3 || !at ||
		    line[at] != '/')
			continue;
		path = line + at;
		path[strcspn(path, "\n")] = 0;
		if (r->n == vcap) {
			size_t nc = vcap ? 2 * vcap : 32;
			struct vma *v = realloc(r->v, nc * sizeof(*v));

			if (!v) {
				err = -ENOMEM;
				break;
			}
			r->v = v;
			vcap = nc;
		}
		if (!(r->v[r->n].path = strdup(path))) {
			err = -ENOMEM;
			break;
		}
		r->v[r->n].start = a;
		r->v[r->n].end = b;
		r->v[r->n].pgoff = off;
		r->n++;
	}
	free(line);
	fclose(f);
	return err;
}

static const struct vma *vma_at(const struct resolving *r, uint64_t addr)
{
	for (size_t i = 0; i < r->n; i++)
		if (addr >= r->v[i].start && addr < r->v[i].end)
			return &r->v[i];
	return NULL;
}

/* Opens a module's file as the process maps it: the mapping itself
 * (/proc/PID/map_files/START-END: the very file, even deleted or
 * replaced), else the path under the process's root (its mount
 * namespace). The vDSO and the like go to libdwfl's own finder. */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
		    char **file_name, Elf **elfp)
{
	char p[PATH_MAX + 64];
	int fd = -1;

	if (!cur || name[0] != '/')
		return dwfl_linux_proc_find_elf(mod, userdata, name, base, file_name, elfp);
	for (size_t i = 0; i < cur->n && fd < 0; i++)
		if (!strcmp(cur->v[i].path, name)) {
			snprintf(p, sizeof(p), "/proc/%d/map_files/%llx-%llx", (int)cur->pid,
				 (unsigned long long)cur->v[i].start, (unsigned long long)cur->v[i].end);
			fd = open(p, O_RDONLY | O_CLOEXEC);
		}
	if (fd < 0) {
		snprintf(p, sizeof(p), "/proc/%d/root%s", (int)cur->pid, name);
		fd = open(p, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return -1;
	if (!(*file_name = strdup(p))) {
		close(fd);
		return -1;
	}
	return fd;
}

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
	.find_elf = find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

static const char *base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Libraries whose frames never make a headline: the C library and loader,
 * and the sanitizer runtimes that interpose accept and connect. */
static bool runtime_module(const char *m)
{
	static const char *const prefixes[] = { "libc.so", "libc-", "ld-linux", "libpthread",
						"libasan", "libubsan" };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(m, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/* Go's runtime and the standard library between a Go program and its
 * accept or connect (syscall, internal/poll, net): never a headline. C
 * names have no '.' or '/', so these match Go code only. */
static bool runtime_function(const char *fn)
{
	static const char *const prefixes[] = { "runtime.", "runtime/", "syscall.", "internal/",
						"net." };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(fn, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/* Where a full walk ends: a frame-pointer chain that reaches one of these
 * was not cut short (a goroutine's ends in runtime.goexit, "runtime.goexit.abi0"). */
static bool outermost(const char *fn)
{
	static const char *const names[] = { "main", "__libc_start_call_main", "__libc_start_main",
					     "start_thread", "_start", "clone", "clone3" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(fn, names[i]))
			return true;
	return !strncmp(fn, "runtime.goexit", strlen("runtime.goexit"));
}

/* The source line of pc in module m. libdw finds a compile unit through
 * .debug_aranges when the file has one; Go's units are not in it (a cgo
 * binary's aranges hold its C units only, and name a wrong one), so a unit
 * that does not contain pc is searched for among all. */
static const char *source_line(Dwfl_Module *m, Dwarf_Addr pc, int *line)
{
	Dwarf_Addr bias = 0;
	Dwarf_Die *cu = dwfl_module_addrdie(m, pc, &bias), die;
	Dwarf_Line *l = NULL;
	Dwarf *d;

	if (cu && dwarf_haspc(cu, pc - bias) > 0)
		l = dwarf_getsrc_die(cu, pc - bias);
	else if ((d = dwfl_module_getdwarf(m, &bias))) {
		Dwarf_Off off = 0, next;
		size_t hsize;

		while (!l && dwarf_nextcu(d, off, &next, &hsize, NULL, NULL, NULL) == 0) {
			if (dwarf_offdie(d, off + hsize, &die) && dwarf_haspc(&die, pc - bias) > 0)
				l = dwarf_getsrc_die(&die, pc - bias);
			off = next;
		}
	}
	if (!l || dwarf_lineno(l, line) || *line <= 0)
		return NULL;
	return dwarf_linesrc(l, NULL, NULL);
}

static void hex(const unsigned char *b, size_t n, char *out, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 3 <= len; i++, k += 2)
		snprintf(out + k, 3, "%02x", b[i]);
	out[k] = 0;
}

/* Fills f for addr; a return address is looked up one byte back, inside
 * the call. False when addr is in no module (a word that is not code). */
static bool name_frame(Dwfl *dwfl, uint64_t addr, bool ret, struct trace_frame *f)
{
	Dwarf_Addr pc = ret ? addr - 1 : addr;
	Dwfl_Module *m = dwfl_addrmodule(dwfl, pc);
	const char *name, *file;
	const unsigned char *id;
	GElf_Addr id_at;
	const struct vma *v;
	Dwarf_Addr start = 0;
	int line = 0, nid;

	memset(f, 0, sizeof(*f));
	f->addr = addr;
	if (!m)
		return false;
	name = dwfl_module_info(m, NULL, &start, NULL, NULL, NULL, NULL, NULL);
	f->offset = addr - start;
	snprintf(f->module, sizeof(f->module), "%s", name ? base(name) : "");
	if (cur && (v = vma_at(cur, pc))) {
		f->has_file_offset = true;
		f->file_offset = v->pgoff + (addr - v->start);
	}
	name = dwfl_module_addrname(m, pc);
	if (name)
		snprintf(f->function, sizeof(f->function), "%s", name);
	/* known once the module's file is open: after the symbol lookup */
	if ((nid = dwfl_module_build_id(m, &id, &id_at)) > 0)
		hex(id, (size_t)nid, f->build_id, sizeof(f->build_id));
	f->runtime = runtime_module(f->module) || runtime_function(f->function);
	if ((file = source_line(m, pc, &line))) {
		snprintf(f->file, sizeof(f->file), "%s", base(file));
		f->line = line;
	}
	return true;
}

/* Whether the bytes before addr end with a call instruction: e8 rel32, or
 * ff /2 (register, memory, with a displacement of 0, 1 or 4 bytes). */
static bool after_call(pid_t pid, uint64_t addr)
{
	unsigned char b[7];
	struct iovec local = { b, sizeof(b) }, remote = { (void *)(uintptr_t)(addr - sizeof(b)), sizeof(b) };
	static const int back[] = { 2, 3, 6, 7 };

	if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof(b))
		return false;
	if (b[2] == 0xe8)
		return true;
	for (size_t i = 0; i < sizeof(back) / sizeof(back[0]); i++) {
		const unsigned char *p = b + sizeof(b) - back[i];

		if (p[0] == 0xff && ((p[1] >> 3) & 7) == 2)
			return true;
	}
	return false;
}

/* The first word that is a return address into a module's code. */
static bool find_fixup(Dwfl *dwfl, pid_t pid, const uint64_t *w, size_t n, struct trace_frame *f)
{
	for (size_t i = 0; i < n; i++)
		if (w[i] > 4096 && after_call(pid, w[i]) && name_frame(dwfl, w[i], true, f)) {
			f->fixup = true;
			return true;
		}
	return false;
}

/* Whether pid runs CPython (its executable is python*, or it maps a
 * libpython): "python3.11 app.py" in buf, the script or module it runs
 * after the interpreter's name ("python3.11 -c" for a command: its source
 * is no name); "" otherwise. */
static void interpreter(pid_t pid, const struct resolving *r, char *buf, size_t len)
{
	char p[64], exe[PATH_MAX], args[4096];
	const char *name = NULL, *script = NULL;
	bool module = false, command = false, skip = false;
	ssize_t n;
	int fd;

	buf[0] = 0;
	snprintf(p, sizeof(p), "/proc/%d/exe", (int)pid);
	if ((n = readlink(p, exe, sizeof(exe) - 1)) > 0) {
		exe[n] = 0;
		if (!strncmp(base(exe), "python", strlen("python")))
			name = base(exe);
	}
	for (size_t i = 0; !name && i < r->n; i++)
		if (!strncmp(base(r->v[i].path), "libpython", strlen("libpython")))
			name = "python";
	if (!name)
		return;
	/* argv after argv[0]: the first word not an option, or -m's module */
	snprintf(p, sizeof(p), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, args, sizeof(args) - 1);
		close(fd);
		args[n > 0 ? n : 0] = 0;
		for (char *a = args + strlen(args) + 1; n > 0 && a < args + n; a += strlen(a) + 1) {
			if (skip) { /* -W's or -X's argument */
				skip = false;
				continue;
			}
			if (module || a[0] != '-') {
				script = a;
				break;
			}
			if ((command = !strcmp(a, "-c")))
				break;
			module = !strcmp(a, "-m");
			skip = !strcmp(a, "-W") || !strcmp(a, "-X");
		}
	}
	/* cut to fit a site: the names, not whole paths */
	if (command)
		snprintf(buf, len, "%.32s -c", name);
	else if (script)
		snprintf(buf, len, "%.32s %s%.56s", name, module ? "-m " : "", module ? script : base(script));
	else
		snprintf(buf, len, "%.32s", name);
}

int trace_stack_resolve(pid_t pid, const uint64_t *ips, size_t n, const uint64_t *fixup,
			size_t nfixup, struct trace_stack *out)
{
	struct resolving r = { .pid = pid };
	Dwfl *dwfl;
	struct trace_frame fix;
	bool have_fix, whole = false;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = vmas_read(&r)))
		goto out_vmas;
	cur = &r;
	dwfl = dwfl_begin(&callbacks);
	if (!dwfl) {
		err = -ENOMEM;
		goto out_vmas;
	}
	err = dwfl_linux_proc_report(dwfl, pid);
	if (err) {
		err = err > 0 ? -err : -ESRCH;
		goto out_end;
	}
	dwfl_report_end(dwfl, NULL, NULL);
	out->frames = calloc(n + 1, sizeof(*out->frames));
	if (!out->frames) {
		err = -ENOMEM;
		goto out_end;
	}
	have_fix = n > 0 && find_fixup(dwfl, pid, fixup, nfixup, &fix);
	for (size_t i = 0; i < n; i++) {
		struct trace_frame *f = &out->frames[out->n];

		/* a frame the walk gave that is in no module is a stray word
		 * read through a register that was not a frame pointer */
		if (!name_frame(dwfl, ips[i], i > 0, f) && i > 0)
			break;
		out->n++;
		if (outermost(f->function))
			whole = true;
		if (i == 0 && have_fix && !(n > 1 && ips[1] == fix.addr))
			out->frames[out->n++] = fix;
	}
	out->truncated = !whole;
	out->headline = out->n;
	/* an interpreter's frames are its own whatever they are: none of
	 * them is the program's code */
	interpreter(pid, &r, out->interpreter, sizeof(out->interpreter));
	for (size_t i = 0; !out->interpreter[0] && i < out->n; i++)
		if (!out->frames[i].runtime) {
			out->headline = i;
			break;
		}
	err = 0;
out_end:
	dwfl_end(dwfl);
out_vmas:
	cur = NULL;
	vmas_free(&r);
	return err;
}

void trace_stack_free(struct trace_stack *s)
{
	free(s->frames);
	s->frames = NULL;
	s->n = 0;
}

const char *trace_stack_note(const struct trace_stack *s)
{
	if (s->interpreter[0])
		return TRACE_NOTE_INTERPRETER;
	return s->truncated ? TRACE_NOTE_TRUNCATED : NULL;
}

char *trace_frame_str(const struct trace_frame *f, char *buf, size_t len)
{
	if (f->function[0] && f->line)
		snprintf(buf, len, "%s (%s:%d)", f->function, f->file, f->line);
	else if (f->function[0])
		snprintf(buf, len, "%s", f->function);
	else if (f->module[0])
		snprintf(buf, len, "%s+0x%llx", f->module, (unsigned long long)f->offset);
	else
		snprintf(buf, len, "0x%llx", (unsigned long long)f->addr);
	return buf;
}
