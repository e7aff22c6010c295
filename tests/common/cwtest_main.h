/* The cmocka test entries of closewait's C tests. */
#ifndef CWTEST_MAIN_H
#define CWTEST_MAIN_H

#include "cwtest.h"

/* A test that must end with the fds it started with (cwt_fd_setup and
 * cwt_fd_teardown): every test that opens sockets. */
#define CWT_FD_TEST(f) cmocka_unit_test_setup_teardown(f, cwt_fd_setup, cwt_fd_teardown)

#endif
