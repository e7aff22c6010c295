# closewait trace (eBPF), when it is built (every one a timing test but the
# owner iterator's):
# - trace: leaks of the classic leaky server explained (why, stack,
#   CLOSE_WAIT entry time within 20 ms);
# - trace_pin, trace_pin_readers: exact ages for scan, watch and export;
# - trace_select, trace_owner, trace_lang, trace_counters: the selection,
#   owners that exit, other languages, the per-process counters;
# - trace_churn: a healthy server under churn: nothing reported within
#   grace + 2 s, the pinned maps then hold only live sockets and processes;
# - owners_iter: the census's owners from the eBPF iterator against /proc.
if(CW_BUILD_TRACE)
  cw_e2e_test(e2e_trace SCRIPT e2e/trace.bats TIMEOUT 180 TIMING)
  cw_e2e_test(e2e_trace_pin SCRIPT e2e/trace_pin.bats TIMEOUT 120 TIMING)
  cw_e2e_test(e2e_trace_select SCRIPT e2e/trace_select.bats TIMEOUT 120 TIMING)
  cw_e2e_test(e2e_trace_owner SCRIPT e2e/trace_owner.bats TIMEOUT 120 TIMING)
  cw_e2e_test(e2e_trace_pin_readers SCRIPT e2e/trace_pin_readers.bats TIMEOUT 90 TIMING)
  cw_e2e_test(e2e_trace_lang SCRIPT e2e/trace_lang.bats TIMEOUT 120 TIMING)
  cw_e2e_test(e2e_owners_iter SCRIPT e2e/owners_iter.bats TIMEOUT 90)
  cw_e2e_test(e2e_trace_counters SCRIPT e2e/trace_counters.bats TIMEOUT 90 TIMING)
  cw_e2e_test(e2e_trace_churn SCRIPT e2e/trace_churn.bats TIMEOUT 120 TIMING)
endif()
