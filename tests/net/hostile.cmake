# Hostile conditions for the library: out of fds, the server pauses accepting
# (no spinning), reports it through cw_server_on_pause and resumes within the
# pause (timing: loop turns and the resume latency are measured).
cw_c_test(net_accept_pause SOURCES net/test_accept_pause.c LABELS net TIMEOUT 30 TIMING)
