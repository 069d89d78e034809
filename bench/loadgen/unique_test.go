package main

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUniqueSendsEachTokenOnce: under -unique, the warm-up and the rounds share one pass over
// the tokens: every token reaches the server exactly once, the turn that finds them exhausted
// ends (it does not run for its duration), and the report says where they ran out.
func TestUniqueSendsEachTokenOnce(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get("Authorization")]++
		mu.Unlock()
	}))
	toks := []string{"a", "b", "c", "d", "e", "f", "g"}
	tg := &target{name: "redis", url: srv.URL, unique: true,
		headers: buildHeaders([]string{"Authorization: Bearer {token}"}, toks)}
	done := make(chan turn, 2)
	go func() {
		// Minutes: a turn that does not end when its tokens do would time the test out.
		done <- run(srv.Client(), tg, 3, 10*time.Minute, 0)
		done <- run(srv.Client(), tg, 3, 10*time.Minute, 1)
	}()
	warm, round := <-done, <-done
	srv.Close()
	if !warm.ranOut || !round.ranOut {
		t.Errorf("ranOut = %v (warm-up), %v (round 1), want both true", warm.ranOut, round.ranOut)
	}
	if warm.requests != len(toks) || round.requests != 0 {
		t.Errorf("requests = %d (warm-up), %d (round 1), want %d and 0", warm.requests, round.requests, len(toks))
	}
	for _, tok := range toks {
		if n := got["Bearer "+tok]; n != 1 {
			t.Errorf("token %s sent %d times, want once (saw %v)", tok, n, got)
		}
	}
	if tg.sent != len(toks) || len(tg.rounds) != 1 || len(tg.lat) != 0 {
		t.Errorf("sent %d, rounds %d, measured requests %d; want %d, 1, 0", tg.sent, len(tg.rounds), len(tg.lat), len(toks))
	}
	var out strings.Builder
	report(&out, []*target{tg})
	if !strings.Contains(out.String(), "warning: redis ran out of its 7 tokens (-unique) in the warm-up, round 1") {
		t.Errorf("report does not say where the tokens ran out:\n%s", out.String())
	}
}

// TestCyclingReusesTokens: without -unique, tokens are taken in turn again and again.
func TestCyclingReusesTokens(t *testing.T) {
	tg := &target{headers: buildHeaders([]string{"X: {token}"}, []string{"a", "b"})}
	var seen []string
	for range 5 {
		h, ok := tg.nextHeader()
		if !ok {
			t.Fatal("nextHeader() = false without -unique")
		}
		seen = append(seen, h.Get("X"))
	}
	if want := []string{"a", "b", "a", "b", "a"}; !slices.Equal(seen, want) {
		t.Errorf("tokens = %v, want %v", seen, want)
	}
}

// TestParsePIDs: a bare list is every target's, name=list one target's; a target named twice
// gets both lists; anything that is not a positive process id is refused with the value named.
func TestParsePIDs(t *testing.T) {
	got, err := parsePIDs([]string{"41", "memory=42", "redis=43,44", "redis=45"})
	if err != nil {
		t.Fatalf("parsePIDs() error = %v", err)
	}
	want := map[string][]int{"": {41}, "memory": {42}, "redis": {43, 44, 45}}
	for name, w := range want {
		if !slices.Equal(got[name], w) {
			t.Errorf("pids[%q] = %v, want %v", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("parsePIDs() = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "x", "redis=", "redis=0", "redis=1,", "redis=1,two", "-3"} {
		if _, err := parsePIDs([]string{bad}); err == nil {
			t.Errorf("parsePIDs(%q) accepted", bad)
		}
	}
}

// TestMedian: the middle value, the mean of the two middle ones for an even count, 0 for none;
// the input keeps its order.
func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{0.9}, 0.9},
		{[]float64{3, 1, 2}, 2},
		{[]float64{0.5, 0.9, 0.7, 5}, 0.8},
		{[]float64{1.2, 0.1, 0.8, 0.85, 0.9}, 0.85},
	} {
		in := slices.Clone(tc.in)
		if got := median(in); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("median reordered its input: %v", in)
		}
	}
}

// TestReportGivesMedianOfRoundRatios: each round's ratios pair the turns of the same round
// (a round the reference skipped is left out), the median of those ratios gets its own line,
// and the existing aggregate and per-round lines are still printed.
func TestReportGivesMedianOfRoundRatios(t *testing.T) {
	mk := func(round, requests int, cpuMicros int64) turn {
		return turn{round: round, requests: requests, elapsed: time.Second, cpu: time.Duration(cpuMicros) * time.Microsecond}
	}
	base := &target{name: "memory", pids: []int{1}, rounds: []turn{mk(1, 1000, 50000), mk(2, 1000, 50000), mk(3, 2000, 100000)}}
	red := &target{name: "redis", pids: []int{2, 3}, cpuBy: []time.Duration{0, 0},
		rounds: []turn{mk(1, 900, 54000), mk(2, 500, 40000), mk(3, 1800, 126000), mk(4, 100, 1)}}
	for _, tg := range []*target{base, red} {
		for _, tn := range tg.rounds {
			tg.elapsed += tn.elapsed
			tg.cpu += tn.cpu
			tg.lat = append(tg.lat, make([]time.Duration, tn.requests)...)
		}
	}
	rps, cpu := roundRatios(red.rounds, base.rounds)
	if want := []float64{0.9, 0.5, 0.9}; !approxEqual(rps, want) {
		t.Errorf("throughput ratios = %v, want %v", rps, want)
	}
	if want := []float64{1.2, 1.6, 1.4}; !approxEqual(cpu, want) {
		t.Errorf("cpu ratios = %v, want %v", cpu, want)
	}
	var out strings.Builder
	report(&out, []*target{base, red})
	for _, line := range []string{
		"redis vs memory: throughput ",
		"  redis                0.90/1.20 0.50/1.60 0.90/1.40\n",
		"median of rounds: redis vs memory: throughput 0.90x, cpu/req 1.40x (3 rounds)\n",
		"cpu by process, redis: 2 0.0 us/req 3 0.0 us/req\n",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("report lacks %q:\n%s", line, out.String())
		}
	}
}

func approxEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] < b[i]-1e-9 || a[i] > b[i]+1e-9 {
			return false
		}
	}
	return true
}

// TestListenFree: distinct loopback ports.
func TestListenFree(t *testing.T) {
	ports, err := listenFree(3)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 3 || ports[0] == ports[1] || ports[1] == ports[2] || ports[0] == ports[2] || slices.Contains(ports, 0) {
		t.Errorf("listenFree(3) = %v, want 3 distinct ports", ports)
	}
}
