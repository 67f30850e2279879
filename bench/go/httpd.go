package main

// HTTP hello twin of gort's examples/httpd.c for issue 10's wrk benchmark
// (bench/http_wrk.sh): net/http, one handler answering every request with
// "Hello, World!\n" (text/plain), HTTP/1.1 keep-alive as net/http does by
// default.  Usage: gobench httpd HOST:PORT; it serves until killed.

import (
	"io"
	"net"
	"net/http"
	"os"
)

func init() { benches["httpd"] = benchHTTPd }

func benchHTTPd(int) {
	addr := "127.0.0.1:8080"
	if len(os.Args) > 2 {
		addr = os.Args[2]
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		die(err.Error())
	}
	hello := func(w http.ResponseWriter, r *http.Request) {
		// The bytes examples/httpd sends, without net/http sniffing the type.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "Hello, World!\n")
	}
	die(http.Serve(ln, http.HandlerFunc(hello)).Error())
}
