cw_test_tool(cwt-hostile SOURCES tools/hostile_clients.c)
