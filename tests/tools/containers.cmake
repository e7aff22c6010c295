# Helper programs of the containers tests (e2e/containers_*.bats): namespaces
# found only through a mount, a thread or an fd; clients of a server that never
# accepts; a server that closes each connection late.
cw_test_tool(cwt-nsleak SOURCES tools/cwt_nsleak.c)
cw_test_tool(cwt-knock SOURCES tools/cwt_knock.c)
cw_test_tool(cwt-slowclose SOURCES tools/cwt_slowclose.c)
