// cwt-goleak PORT eof|never
// The classic leaky server in Go, for trace's tests: acceptLoop accepts,
// then
//
//	eof    reads and answers until the peer's EOF (serveUntilEOF), never
//	       closes: CLOSE_WAIT, EOF read;
//	never  answers the first message only (serveFirst): CLOSE_WAIT, EOF
//	       never read.
//
// Go closes leaked connections by itself twice over, so both are kept from
// it: every connection stays referenced in conns (no finalizer closes it)
// and the listener disables keepalive (a probe would draw the peer's RST).
// Listens on 127.0.0.1:PORT, prints "ready", serves until killed.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
)

var conns []net.Conn

//go:noinline
func serveUntilEOF(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			c.Write(buf[:n])
		}
		if err != nil {
			return // the bug: no c.Close()
		}
	}
}

//go:noinline
func serveFirst(c net.Conn) {
	buf := make([]byte, 4096)
	if n, _ := c.Read(buf); n > 0 {
		c.Write(buf[:n])
	}
}

//go:noinline
func acceptLoop(l net.Listener, never bool) {
	for {
		c, err := l.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "cwt-goleak: accept:", err)
			continue
		}
		conns = append(conns, c)
		if never {
			serveFirst(c)
		} else {
			serveUntilEOF(c)
		}
	}
}

func main() {
	if len(os.Args) != 3 || (os.Args[2] != "eof" && os.Args[2] != "never") {
		fmt.Fprintln(os.Stderr, "usage: cwt-goleak PORT eof|never")
		os.Exit(2)
	}
	lc := net.ListenConfig{KeepAlive: -1}
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "cwt-goleak: listen:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	acceptLoop(l, os.Args[2] == "never")
}
