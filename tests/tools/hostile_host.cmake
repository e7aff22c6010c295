# Helper program of the hostile-host tests ($CW_TOOLS/NAME).
cw_test_tool(proc_churn SOURCES tools/proc_churn.c)
