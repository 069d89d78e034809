package main

import (
	"fmt"
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

// freePorts is the free-ports mode: it prints n distinct free loopback TCP ports, one per line
// (each listened on at once, then released; a port may be taken again before it is used).
func freePorts(args []string) {
	n := 1
	if len(args) == 1 {
		if _, err := fmt.Sscan(args[0], &n); err != nil || n < 1 {
			fatal("usage: loadgen free-ports [n]")
		}
	} else if len(args) > 1 {
		fatal("usage: loadgen free-ports [n]")
	}
	ports, err := listenFree(n)
	if err != nil {
		fatal("free-ports: %v", err)
	}
	for _, p := range ports {
		fmt.Println(p)
	}
}

// listenFree returns n distinct free loopback ports.
func listenFree(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
