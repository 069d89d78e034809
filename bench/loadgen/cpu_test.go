package main

import (
	"os"
	"testing"
)

// TestStatTicksReadsUtimeAndStime: fields 14 and 15 are summed, counted after the command name,
// which may hold spaces and parentheses of its own.
func TestStatTicksReadsUtimeAndStime(t *testing.T) {
	line := "4242 (caddy (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 731 269 0 0 20 0 9 0 5000 1000000 2000 18446744073709551615\n"
	got, err := statTicks([]byte(line))
	if err != nil || got != 731+269 {
		t.Fatalf("statTicks() = %d, %v, want 1000", got, err)
	}
	for _, bad := range []string{"", "4242 caddy S 1", "4242 (caddy) S 1 2 3", "4242 (caddy) S 1 4242 4242 0 -1 4194560 1234 0 0 0 x 269 0"} {
		if _, err := statTicks([]byte(bad)); err == nil {
			t.Errorf("statTicks(%q) accepted", bad)
		}
	}
}

// TestCPUTimeOfThisProcess reads this test's own /proc entry.
func TestCPUTimeOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := cpuTime(os.Getpid()); err != nil {
		t.Fatalf("cpuTime() error = %v", err)
	}
}
