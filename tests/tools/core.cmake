cw_test_tool(cwt-clients SOURCES tools/cwt_clients.c)
cw_test_tool(cwt-listen SOURCES tools/cwt_listen.c)
cw_test_tool(cwt-peer SOURCES tools/cwt_peer.c)
