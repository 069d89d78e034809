package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/redistest"
)

// TestCommandDeltaLeavesOutInfo: the counts between two readings, this tool's own INFO left out.
func TestCommandDeltaLeavesOutInfo(t *testing.T) {
	set, all := commandDelta(map[string]int{"set": 10, "hello": 2, "info": 1},
		map[string]int{"set": 110, "hello": 3, "info": 2, "get": 4})
	if set != 100 || all != 105 {
		t.Errorf("commandDelta() = %d SET, %d in all; want 100, 105", set, all)
	}
}

// TestCommandCalls: the calls of each command from INFO commandstats lines.
func TestCommandCalls(t *testing.T) {
	info := "# Commandstats\r\ncmdstat_set:calls=120,usec=300,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_hello:calls=3,usec=9\r\n# Stats\r\ntotal_reads_processed:7\r\n"
	got := commandCalls(info)
	if len(got) != 2 || got["set"] != 120 || got["hello"] != 3 {
		t.Errorf("commandCalls() = %v, want set 120, hello 3", got)
	}
}

// TestInfoField: an integer field of an INFO reply; a missing or non-numeric one is an error.
func TestInfoField(t *testing.T) {
	info := "# Stats\r\ntotal_commands_processed:12\r\ntotal_reads_processed:345\r\nodd:x\r\n"
	if n, err := infoField(info, "total_reads_processed"); err != nil || n != 345 {
		t.Errorf("infoField() = %d, %v; want 345", n, err)
	}
	for _, name := range []string{"odd", "total_reads", "missing"} {
		if _, err := infoField(info, name); err == nil {
			t.Errorf("infoField(%q) accepted", name)
		}
	}
}

// TestRedisCounterReportsSETPerRequestSent: against a real redis-server, the SETs run between
// the two readings are reported per request sent to the named target.
func TestRedisCounterReportsSETPerRequestSent(t *testing.T) {
	srv := redistest.Start(t)
	tg := &target{name: "redis"}
	counters, err := newRedisCounters([]string{"redis=" + srv.Addr}, []*target{{name: "memory"}, tg})
	if err != nil || len(counters) != 1 {
		t.Fatalf("newRedisCounters() = %v, %v", counters, err)
	}
	// Four SETs in one connection's single write: one pipeline, so one read for the server.
	c, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var pipeline strings.Builder
	for _, k := range []string{"a", "b", "c", "d"} {
		fmt.Fprintf(&pipeline, "*6\r\n$3\r\nSET\r\n$1\r\n%s\r\n$1\r\n1\r\n$2\r\nNX\r\n$2\r\nPX\r\n$5\r\n60000\r\n", k)
	}
	if _, err := io.WriteString(c, pipeline.String()); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	for range 4 {
		if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
			t.Fatalf("SET answer %q, %v", line, err)
		}
	}
	tg.sent, tg.cut, tg.lat = 4, 0, make([]time.Duration, 4)
	var out strings.Builder
	if err := counters[0].report(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		": 4 SET, 4 commands in all (INFO excluded), 4 requests sent; SET per request sent 1.000,",
		"socket reads by the server (INFO stats total_reads_processed) per request sent 0.250:",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	for _, bad := range []string{"redis", "nosuch=" + srv.Addr, "redis=10.0.0.1:6379", "redis=nohostport"} {
		if _, err := newRedisCounters([]string{bad}, []*target{tg}); err == nil {
			t.Errorf("newRedisCounters(%q) accepted", bad)
		}
	}
}
