/* scan's words on the namespaces it read: the notes under the table (one
 * that vanished, one that could not be read, links refused, owners out of
 * sight) and the JSON members that list them. */
#include "scan_view.h"

#include <errno.h>
#include <string.h>
#include <linux/capability.h>

#include "caps.h"
#include "workload_view.h"

void scan_print_netns_notes(struct out *o, const struct cw_census *c)
{
	char name[OUT_NAME_LEN * 2];

	for (size_t j = 0; j < cw_census_netns_count(c); j++) {
		const struct cw_netns *ns = cw_census_netns(c, j);

		if (ns->err == -ENOENT)
			out_printf(o, "\nNetwork namespace %s disappeared before it could be read: skipped.\n",
				   netns_str(ns, name, sizeof(name)));
		else if (ns->err)
			out_printf(o, "\nNetwork namespace %s could not be read: %s%s.\n",
				   netns_str(ns, name, sizeof(name)), strerror(-ns->err),
				   ns->err == -EPERM && !caps_have(CAP_SYS_ADMIN)
					   ? " (entering one needs CAP_SYS_ADMIN, which closewait lacks)" : "");
	}
	if (cw_census_netns_unreadable(c)) {
		const char *caps[CAPS_READ_FDS];
		size_t n = caps_missing_read_fds(caps);

		/* the links of other users' processes, and their fds that hold namespaces */
		out_printf(o, "\n%u namespace links could not be looked at (permissions): namespaces "
			      "only they lead to are missing.", cw_census_netns_unreadable(c));
		if (n)
			out_printf(o, " Other users' links need CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: "
				      "closewait lacks %s%s%s.", caps[0], n > 1 ? " and " : "",
				   n > 1 ? caps[1] : "");
		out_printf(o, "\n");
	}
	if (cw_census_owners_hidden(c))
		out_printf(o, "\nProcesses of other pid namespaces are not visible from here: sockets "
			      "of other network namespaces may show no owner (run closewait in the "
			      "host's pid namespace).\n");
}

static void ns_json(struct out *o, const struct cw_census *c)
{
	out_json_open(o, "namespaces", '[');
	for (size_t j = 0; j < cw_census_netns_count(c); j++) {
		const struct cw_netns *ns = cw_census_netns(c, j);

		out_json_open(o, NULL, '{');
		out_json_int(o, "netns", (long long)ns->inode);
		out_json_str(o, "netns_name", ns->name);
		out_json_str(o, "found", cw_netns_how_name(ns->how));
		if (ns->pid)
			out_json_int(o, "pid", ns->pid);
		else
			out_json_str(o, "pid", NULL);
		out_json_str(o, "path", ns->path);
		out_json_str(o, "error", !ns->err ? NULL : ns->err == -ENOENT ? "gone" : strerror(-ns->err));
		out_json_close(o);
	}
	out_json_close(o);
}

void scan_print_netns_json(struct out *o, const struct cw_census *c, enum cw_netns_sel sel)
{
	static const char *const sel_name[] = { "current", "one", "pid", "all" };

	out_json_str(o, "netns_selection", (unsigned)sel < 4 ? sel_name[sel] : "?");
	ns_json(o, c);
	out_json_int(o, "netns_unreadable", cw_census_netns_unreadable(c));
	out_json_bool(o, "owners_hidden", cw_census_owners_hidden(c));
}
