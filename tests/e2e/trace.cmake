# closewait trace (eBPF), when it is built: leaks of the classic leaky
# server explained (why, stack, CLOSE_WAIT entry time within 20 ms: timing).
if(CW_BUILD_TRACE)
  cw_e2e_test(e2e_trace SCRIPT e2e/trace.bats TIMEOUT 180 TIMING)
endif()
if(CW_BUILD_TRACE)
  cw_e2e_test(e2e_trace_pin SCRIPT e2e/trace_pin.bats TIMEOUT 120 TIMING)
endif()
if(CW_BUILD_TRACE)
  cw_e2e_test(e2e_trace_select SCRIPT e2e/trace_select.bats TIMEOUT 120 TIMING)
endif()
if(CW_BUILD_TRACE)
  cw_e2e_test(e2e_trace_owner SCRIPT e2e/trace_owner.bats TIMEOUT 120 TIMING)
endif()
