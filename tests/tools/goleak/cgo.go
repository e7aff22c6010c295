// Built into cwt-goleak-cgo only: links the C library in (a cgo binary,
// whose threads the C runtime starts), to check trace walks Go frames there too.
package main

// #include <unistd.h>
import "C"

func init() { _ = C.getpid() }
