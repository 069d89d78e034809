// Command loadgen is obgate's load tool for bench/ (see bench/README.md). Its modes:
//
//	loadgen [flags] name=url...       send a bounded HTTP load to loopback targets, interleaving
//	                                  them in rounds (reversed every other round) so that machine
//	                                  noise hits all of them alike
//	loadgen serve 127.0.0.1:9100      a minimal backend that answers 200 "ok"
//	loadgen mint -key k.pem -iss I -aud A -n 1000 > tokens.txt
//	                                  n distinct signed JWTs, one per line
//	loadgen mint-sig -key k.pem -host 127.0.0.1:9201 -path /pay -n 100000 > sigs.txt
//	                                  n distinct tokenio request signatures (detached ES256 JWS)
//	                                  of one request, one per line, signed on every core
//	loadgen free-ports 4              n free loopback TCP ports, one per line
//
// In load mode, each request's headers may name {token}: each request then takes the next token
// of the target's token file (-tokens name=file, or -tokens file for every target), in turn;
// under -unique each token is sent at most once over the whole run, warm-up included, and a
// target whose tokens run out ends its turn early (reported). With -pid, the CPU time those
// processes used during each target's measured window is read from /proc/<pid>/stat
// (utime+stime, all threads), summed, and reported per request: -pid PID[,PID...] for every
// target, -pid name=PID[,PID...] for one. The first target is the reference: every other is
// reported as a ratio to it, over all rounds, per round, and as the median of the rounds'
// ratios. With -redis name=host:port, that Redis server's command counts (INFO commandstats)
// over the run are reported per request sent to target name.
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
		case "mint-sig":
			mintSig(os.Args[2:])
			return
		case "free-ports":
			freePorts(os.Args[2:])
			return
		}
	}
	load(os.Args[1:])
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(2)
}
