/* The scenarios of closewait lab, in the order the list shows them. */
#include <string.h>

#include "lab.h"

const struct lab_scenario lab_scenarios[] = {
	{ "leak", "a server that reads the end of file and never closes: CLOSE_WAIT "
		  "against FIN_WAIT_2", sc_leak },
	{ "linger", "graceful close against SO_LINGER {1, 0}: the abortive close loses a "
		    "\"wrong password\" message", sc_linger },
	{ "cures", "close on end of file, idle timeout, heartbeat, keepalive: each ending "
		   "a leaked or dead connection", sc_cures },
	{ "reconnect", "a client that reconnects without closing the old socket: one "
		       "CLOSE_WAIT per reconnection, on the client's side", sc_reconnect },
	{ "states", "every state of the TCP diagram, on the active, passive and "
		    "simultaneous close paths", sc_states },
	{ "timewait", "TIME_WAIT lasts 60 s whatever tcp_fin_timeout says, and the end that "
		      "closes first holds it", sc_timewait },
	{ "timers", "the waits waited for: a TIME_WAIT ends at 60 s whatever tcp_fin_timeout says; a "
		    "CLOSE_WAIT, which has no timer, is still there at 65 s (takes 65 s)", sc_timers },
	{ "timewait-knobs", "what Linux offers instead of a shorter TIME_WAIT: tcp_max_tw_buckets, "
			    "SO_LINGER {1, 0}, tcp_tw_reuse, IP_BIND_ADDRESS_NO_PORT",
	  sc_timewait_knobs },
	{ "keepalive-reuse", "a connection per request leaves a TIME_WAIT per request and runs out "
			     "of ports; keep-alive makes the same requests over one", sc_keepalive_reuse },
	{ "one-source", "behind HAProxy, one source address to a backend: its TIME_WAITs run "
			"the ports out when closewait's port report says; tcp_tw_reuse 1 does not",
	  sc_one_source },
	{ "other-language", "a Python server whose error path skips close(): its CLOSE_WAITs, "
			    "held by python3, found by closewait scan", sc_other_language },
	{ "syn-fin", "can a SYN+FIN make a CLOSE_WAIT? Segments made by hand to a listener "
		     "and to a connection, and what does make one", sc_syn_fin },
	{ "timewait-syn", "a SYN onto a server's TIME_WAIT: sequence numbers or timestamps "
			  "decide, and a rejected SYN gets an ACK, not a reset", sc_timewait_syn },
};
const size_t lab_scenario_count = sizeof(lab_scenarios) / sizeof(lab_scenarios[0]);

const struct lab_scenario *lab_scenario_find(const char *name)
{
	for (size_t i = 0; i < lab_scenario_count; i++)
		if (!strcmp(lab_scenarios[i].name, name))
			return &lab_scenarios[i];
	return NULL;
}
