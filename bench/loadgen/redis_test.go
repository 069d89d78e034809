package main

import (
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

// TestRedisCounterReportsSETPerRequestSent: against a real redis-server, the SETs run between
// the two readings are reported per request sent to the named target.
func TestRedisCounterReportsSETPerRequestSent(t *testing.T) {
	srv := redistest.Start(t)
	tg := &target{name: "redis"}
	counters, err := newRedisCounters([]string{"redis=" + srv.Addr}, []*target{{name: "memory"}, tg})
	if err != nil || len(counters) != 1 {
		t.Fatalf("newRedisCounters() = %v, %v", counters, err)
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		if _, err := srv.Do("SET", k, "1", "NX", "PX", "60000"); err != nil {
			t.Fatal(err)
		}
	}
	tg.sent, tg.cut, tg.lat = 4, 0, make([]time.Duration, 4)
	var out strings.Builder
	if err := counters[0].report(&out); err != nil {
		t.Fatal(err)
	}
	if want := ": 4 SET, 4 commands in all (INFO excluded), 4 requests sent; SET per request sent 1.000,"; !strings.Contains(out.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, out.String())
	}
	for _, bad := range []string{"redis", "nosuch=" + srv.Addr, "redis=10.0.0.1:6379", "redis=nohostport"} {
		if _, err := newRedisCounters([]string{bad}, []*target{tg}); err == nil {
			t.Errorf("newRedisCounters(%q) accepted", bad)
		}
	}
}
