// Command loadgen is obgate's load tool for bench/ (see bench/README.md). It has three modes:
//
//	loadgen [flags] name=url...       send a bounded HTTP load to loopback targets, interleaving
//	                                  them in rounds so that machine noise hits all of them alike
//	loadgen serve 127.0.0.1:9100      a minimal backend that answers 200 "ok"
//	loadgen mint -key k.pem -iss I -aud A -n 1000 > tokens.txt
//	                                  n distinct signed JWTs, one per line
//
// In load mode, each request's headers may name {token}: each request then takes the next token
// of the target's token file (-tokens name=file, or -tokens file for every target), in turn.
// With -pid, the CPU time that process used during each target's measured window is read from
// /proc/<pid>/stat (utime+stime, all threads) and reported per request. The first target is the
// reference: every other is reported as a ratio to it.
//
//	loadgen -c 16 -d 5s -rounds 3 -pid $(pidof caddy) -H 'Authorization: Bearer {token}' \
//		-tokens rs256=rs.txt plain=http://127.0.0.1:9101/ rs256=http://127.0.0.1:9102/
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "serve":
			serve(os.Args[2:])
			return
		case "mint":
			mint(os.Args[2:])
			return
		}
	}
	load(os.Args[1:])
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(2)
}
