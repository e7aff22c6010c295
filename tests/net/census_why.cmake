# Why a CLOSE_WAIT socket is open (cw_sock_why): Recv-Q counts the peer's
# FIN until a read returns 0, measured on real sockets (eof read, data read
# but not the EOF, zero-length reads, never accepted).
cw_c_test(net_census_why SOURCES net/test_census_why.c LABELS net TIMEOUT 30)
