# Helper programs of the scan / watch / ports tests ($CW_TOOLS/NAME).
cw_test_tool(cw_clients SOURCES tools/cw_clients.c)
cw_test_tool(cw_halfpeer SOURCES tools/cw_halfpeer.c)
cw_test_tool(cw_churn SOURCES tools/cw_churn.c)
cw_test_tool(cwt-crowd SOURCES tools/cwt_crowd.c)
