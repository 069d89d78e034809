package main

import (
	"net"
	"net/http"
	"time"
)

// serve runs the backend of the load scenarios: 200 "ok" to every request, on a loopback
// address, until killed. It is its own process so that it can be pinned apart from Caddy.
func serve(args []string) {
	if len(args) != 1 {
		fatal("usage: loadgen serve 127.0.0.1:<port>")
	}
	host, _, err := net.SplitHostPort(args[0])
	if err != nil || !isLoopback(host) {
		fatal("serve %q: want a loopback host:port", args[0])
	}
	ok := []byte("ok")
	srv := &http.Server{
		Addr: args[0],
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write(ok)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	fatal("serve: %v", srv.ListenAndServe())
}
