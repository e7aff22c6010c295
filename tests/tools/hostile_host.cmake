# Helper program of the hostile-host tests ($CW_TOOLS/proc_churn). It forks
# thousands of processes: built without the sanitizers (an instrumented
# process forks slowly), so without the tests' library either.
add_executable(proc_churn tools/proc_churn.c)
target_compile_options(proc_churn PRIVATE -fno-sanitize=all)
target_link_options(proc_churn PRIVATE -fno-sanitize=all)
set_target_properties(proc_churn PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CW_TOOLS_DIR})
