/* Names for return addresses, only when a report is written: libdw (dwfl)
 * gives function and file:line from the debug information, or the function
 * from the symbol table; it is loaded with dlopen at the first report, so a
 * program that leaks nothing never has it mapped, and a host without it
 * gets dladdr's names (exported symbols only) and module offsets. */
#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "guard.h"

static struct {
	bool tried;
	Dwfl *dwfl;
	Dwfl_Callbacks cb;
	char *debuginfo_path;
	Dwfl *(*start)(const Dwfl_Callbacks *);
	Dwfl *(*begin)(const Dwfl_Callbacks *); /* start, once every symbol is found */
	int (*proc_report)(Dwfl *, pid_t);
	int (*report_end)(Dwfl *, int (*)(Dwfl_Module *, void *, const char *, Dwarf_Addr, void *),
			  void *);
	Dwfl_Module *(*addrmodule)(Dwfl *, Dwarf_Addr);
	const char *(*addrname)(Dwfl_Module *, GElf_Addr);
	Dwfl_Line *(*getsrc)(Dwfl_Module *, Dwarf_Addr);
	const char *(*lineinfo)(Dwfl_Line *, Dwarf_Addr *, int *, int *, Dwarf_Word *, Dwarf_Word *);
	const char *(*modinfo)(Dwfl_Module *, void ***, Dwarf_Addr *, Dwarf_Addr *, Dwarf_Addr *,
			       Dwarf_Addr *, const char **, const char **);
	void (*end)(Dwfl *);
} dw; /* the checker's alone */

#define SYM(field, name) (*(void **)&dw.field = dlsym(lib, name))

static void load(void)
{
	void *lib;

	dw.tried = true;
	lib = dlopen("libdw.so.1", RTLD_LAZY | RTLD_LOCAL);
	if (!lib)
		return;
	if (!SYM(start, "dwfl_begin") || !SYM(proc_report, "dwfl_linux_proc_report") ||
	    !SYM(report_end, "dwfl_report_end") || !SYM(addrmodule, "dwfl_addrmodule") ||
	    !SYM(addrname, "dwfl_module_addrname") || !SYM(getsrc, "dwfl_module_getsrc") ||
	    !SYM(lineinfo, "dwfl_lineinfo") || !SYM(modinfo, "dwfl_module_info") ||
	    !SYM(end, "dwfl_end") ||
	    !(*(void **)&dw.cb.find_elf = dlsym(lib, "dwfl_linux_proc_find_elf")) ||
	    !(*(void **)&dw.cb.find_debuginfo = dlsym(lib, "dwfl_standard_find_debuginfo")))
		return;
	dw.begin = dw.start;
	dw.cb.debuginfo_path = &dw.debuginfo_path;
}

/* libdw keeps an fd open on each module it read: they would sit among the
 * program's own fds, so a session lasts one round of reports. */
void guard_symbols_release(void)
{
	if (dw.dwfl) {
		dw.end(dw.dwfl);
		dw.dwfl = NULL;
	}
}

/* The process's modules as they are now (a library loaded since the last
 * report is found by reporting again). */
static bool report_modules(void)
{
	if (!dw.dwfl)
		return false;
	if (dw.proc_report(dw.dwfl, getpid()) != 0)
		return false;
	return dw.report_end(dw.dwfl, NULL, NULL) == 0;
}

void guard_symbolize(void *pc, struct guard_frame *f)
{
	/* a return address: the call is the byte before it */
	uintptr_t at = (uintptr_t)pc - 1;
	Dwfl_Module *m = NULL;
	Dl_info di;

	*f = (struct guard_frame){ 0 };
	if (!dw.tried)
		load();
	if (dw.begin && !dw.dwfl && (dw.dwfl = dw.begin(&dw.cb)))
		report_modules();
	if (dw.dwfl && !(m = dw.addrmodule(dw.dwfl, at)) && report_modules())
		m = dw.addrmodule(dw.dwfl, at);
	if (m) {
		Dwfl_Line *line = dw.getsrc(m, at);
		int lineno = 0;

		f->function = dw.addrname(m, at);
		f->module = dw.modinfo(m, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
		if (line && (f->file = dw.lineinfo(line, NULL, &lineno, NULL, NULL, NULL)))
			f->line = lineno;
		return;
	}
	if (dladdr((void *)at, &di)) {
		f->function = di.dli_sname;
		f->module = di.dli_fname;
	}
}
