/* Symbolises creating stacks with libdwfl against the live process: its
 * modules from /proc/PID/maps, symbols and lines from each file's own
 * debug information or a separate one the standard search finds. */
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "trace_stack.h"

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
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

/* Where a full walk ends: a frame-pointer chain that reaches one of these
 * was not cut short. */
static bool outermost(const char *fn)
{
	static const char *const names[] = { "main", "__libc_start_call_main", "__libc_start_main",
					     "start_thread", "_start", "clone", "clone3" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(fn, names[i]))
			return true;
	return false;
}

/* Fills f for addr; a return address is looked up one byte back, inside
 * the call. False when addr is in no module (a word that is not code). */
static bool name_frame(Dwfl *dwfl, uint64_t addr, bool ret, struct trace_frame *f)
{
	Dwarf_Addr pc = ret ? addr - 1 : addr;
	Dwfl_Module *m = dwfl_addrmodule(dwfl, pc);
	const char *name, *file;
	Dwfl_Line *l;
	Dwarf_Addr start = 0;
	int line = 0;

	memset(f, 0, sizeof(*f));
	f->addr = addr;
	if (!m)
		return false;
	name = dwfl_module_info(m, NULL, &start, NULL, NULL, NULL, NULL, NULL);
	f->offset = addr - start;
	snprintf(f->module, sizeof(f->module), "%s", name ? base(name) : "");
	f->runtime = runtime_module(f->module);
	name = dwfl_module_addrname(m, pc);
	if (name)
		snprintf(f->function, sizeof(f->function), "%s", name);
	l = dwfl_module_getsrc(m, pc);
	if (l && (file = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL)) && line > 0) {
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

int trace_stack_resolve(pid_t pid, const uint64_t *ips, size_t n, const uint64_t *fixup,
			size_t nfixup, struct trace_stack *out)
{
	Dwfl *dwfl;
	struct trace_frame fix;
	bool have_fix, whole = false;
	int err;

	memset(out, 0, sizeof(*out));
	dwfl = dwfl_begin(&callbacks);
	if (!dwfl)
		return -ENOMEM;
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
	for (size_t i = 0; i < out->n; i++)
		if (!out->frames[i].runtime) {
			out->headline = i;
			break;
		}
	err = 0;
out_end:
	dwfl_end(dwfl);
	return err;
}

void trace_stack_free(struct trace_stack *s)
{
	free(s->frames);
	s->frames = NULL;
	s->n = 0;
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
