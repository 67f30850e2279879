package main

// Echo server twin of bench/echo.c and bench/echo_threads.c (protocol in
// bench/echo.h): listen on 127.0.0.1, an ephemeral port, print
// "SERVER impl=go port=N", accept n connections (the argument, default 50),
// one goroutine per connection echoing with net.Conn Read/Write until EOF,
// then print "SERVER_DONE ..." and exit.  bench/echo_client drives it and
// prints the RESULT line.  The Go way is blocking code on the netpoller
// (non-blocking sockets under the hood); TCP_NODELAY is Go's default.

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
)

func init() { benches["echo"] = benchEcho }

func echoConn(c net.Conn, done *sync.WaitGroup) {
	defer done.Done()
	buf := make([]byte, 2048) // ECHO_BUF
	for {
		k, err := c.Read(buf)
		if k > 0 {
			if _, werr := c.Write(buf[:k]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	c.Close()
}

func benchEcho(n int) {
	n = arg(n, 50)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		die(err.Error())
	}
	fmt.Printf("SERVER impl=go port=%d\n", ln.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	var done sync.WaitGroup
	for i := 0; i < n; i++ {
		c, err := ln.Accept()
		if err != nil {
			die(err.Error())
		}
		done.Add(1)
		go echoConn(c, &done)
	}
	ln.Close()
	done.Wait()
	fmt.Printf("SERVER_DONE procs=%d\n", runtime.GOMAXPROCS(0))
}
