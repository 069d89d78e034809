package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// target is one URL under load and what was measured for it, summed over the rounds.
type target struct {
	name, url string
	headers   []http.Header // one per token (or one without tokens), shared read-only by requests
	unique    bool          // each token is sent at most once over the whole run (-unique)
	pids      []int         // processes whose CPU time is measured during this target's turns
	next      atomic.Uint64 // how many tokens were taken so far: the index of the next one

	lat     []time.Duration
	errors  int
	elapsed time.Duration
	cpu     time.Duration   // the measured processes' CPU time during this target's turns
	cpuBy   []time.Duration // the same, per process of pids
	rounds  []turn          // each measured turn on its own, to show the spread between rounds

	// Over the whole run, the warm-up included: requests sent, and those of them cut off at the
	// end of a turn (sent, but their answer not awaited).
	sent, cut int
	ranOut    []string // the turns ("warm-up", "round 3") whose target's tokens ran out (-unique)

	firstErr atomic.Value // string: the first failure seen, to name in the report
}

// turn is what one target's turn in one round measured.
type turn struct {
	round    int // 1, 2, ...; 0 for the warm-up
	requests int
	errors   int
	elapsed  time.Duration
	cpu      time.Duration
	cpuBy    []time.Duration
	ranOut   bool // the target's tokens ran out: the turn ended early
}

func (t turn) rps() float64 {
	if t.elapsed <= 0 {
		return 0
	}
	return float64(t.requests) / t.elapsed.Seconds()
}

func (t turn) cpuPerRequest() float64 {
	if t.requests == 0 {
		return 0
	}
	return float64(t.cpu.Microseconds()) / float64(t.requests)
}

// load is the load mode: parse the flags and targets, warm up, run the rounds, print the report.
func load(args []string) {
	fs := flag.NewFlagSet("loadgen", flag.ExitOnError)
	conc := fs.Int("c", 16, "concurrent connections")
	dur := fs.Duration("d", 5*time.Second, "duration of each target's turn in a round")
	rounds := fs.Int("rounds", 3, "rounds; each round runs every target once")
	warmup := fs.Duration("warmup", time.Second, "unmeasured turn per target before the first round")
	unique := fs.Bool("unique", false, "send each token at most once over the whole run (warm-up included); "+
		"a target whose tokens run out ends its turn early (reported)")
	clk := fs.Int("clk", 100, "clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK)")
	var headers, tokenFiles, pidSpecs, redisSpecs listFlag
	fs.Var(&headers, "H", "request header 'Name: value', where {token} is replaced by the target's next token; repeatable")
	fs.Var(&tokenFiles, "tokens", "token file, one per line: 'name=file' for one target, 'file' for all; repeatable")
	fs.Var(&pidSpecs, "pid", "processes whose CPU time (summed) is measured per target: 'name=PID[,PID...]' for one "+
		"target, 'PID[,PID...]' for every target (e.g. Caddy); repeatable")
	fs.Var(&redisSpecs, "redis", "'name=host:port': count that Redis server's commands (INFO commandstats) over "+
		"the run and report them per request sent to target name; repeatable")
	_ = fs.Parse(args)
	clockTick = time.Second / time.Duration(*clk)

	tokens, err := readTokenFiles(tokenFiles)
	if err != nil {
		fatal("%v", err)
	}
	pids, err := parsePIDs(pidSpecs)
	if err != nil {
		fatal("-pid: %v", err)
	}
	var targets []*target
	for _, arg := range fs.Args() {
		name, u, ok := strings.Cut(arg, "=")
		if !ok {
			fatal("target %q: want name=url", arg)
		}
		if pu, err := url.Parse(u); err != nil || !isLoopback(pu.Hostname()) {
			fatal("target %q: only loopback URLs are allowed", arg)
		}
		toks := tokens[name]
		if toks == nil {
			toks = tokens[""]
		}
		tp := pids[name]
		if tp == nil {
			tp = pids[""]
		}
		targets = append(targets, &target{name: name, url: u, headers: buildHeaders(headers, toks), unique: *unique, pids: tp})
	}
	if len(targets) == 0 {
		fatal("no targets")
	}
	for name := range pids {
		if name != "" && !slices.ContainsFunc(targets, func(t *target) bool { return t.name == name }) {
			fatal("-pid %s=...: no target %s", name, name)
		}
	}
	counters, err := newRedisCounters(redisSpecs, targets)
	if err != nil {
		fatal("-redis: %v", err)
	}
	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: *conc, DisableCompression: true},
		Timeout:   10 * time.Second,
	}
	for _, t := range targets {
		if *warmup > 0 {
			tn := run(client, t, *conc, *warmup, 0)
			if tn.errors > 0 && tn.requests == 0 {
				fatal("%s: every warm-up request failed (%d, the first: %v): check the config and tokens", t.name, tn.errors, t.firstErr.Load())
			}
		}
	}
	for round := range *rounds {
		for _, t := range roundOrder(targets, round) {
			if t.unique && t.next.Load() >= uint64(len(t.headers)) {
				continue // out of tokens: reported
			}
			run(client, t, *conc, *dur, round+1)
		}
	}
	report(os.Stdout, targets)
	for _, c := range counters {
		if err := c.report(os.Stdout); err != nil {
			fatal("-redis %s: %v", c.addr, err)
		}
	}
}

// roundOrder is the order of the targets' turns in a round: as given in even rounds, reversed in
// odd ones, so that a drift of the machine's speed over a round falls on both sides of the
// reference (the first target) alike instead of always after it.
func roundOrder(targets []*target, round int) []*target {
	if round%2 == 0 {
		return targets
	}
	r := slices.Clone(targets)
	slices.Reverse(r)
	return r
}

// parsePIDs reads the -pid values: "name=PID[,PID...]" for one target, "PID[,PID...]" for every
// target (name ""). A target named twice gets the processes of both.
func parsePIDs(specs []string) (map[string][]int, error) {
	out := map[string][]int{}
	for _, spec := range specs {
		name, list, ok := strings.Cut(spec, "=")
		if !ok {
			name, list = "", spec
		}
		for p := range strings.SplitSeq(list, ",") {
			pid, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || pid <= 0 {
				return nil, fmt.Errorf("%q: %q is not a process id", spec, p)
			}
			out[name] = append(out[name], pid)
		}
	}
	return out, nil
}

// readTokenFiles reads each -tokens file: "name=file" for one target, "file" for all ("").
func readTokenFiles(specs []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, spec := range specs {
		name, path, ok := strings.Cut(spec, "=")
		if !ok {
			name, path = "", spec
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); line != "" {
				out[name] = append(out[name], line)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(out[name]) == 0 {
			return nil, fmt.Errorf("%s: no tokens", path)
		}
	}
	return out, nil
}

// buildHeaders makes the request headers once per token, so that no request pays for them.
func buildHeaders(specs, tokens []string) []http.Header {
	if len(tokens) == 0 {
		tokens = []string{""}
	}
	out := make([]http.Header, len(tokens))
	for i, tok := range tokens {
		h := http.Header{}
		for _, spec := range specs {
			k, v, _ := strings.Cut(spec, ":")
			h.Add(strings.TrimSpace(k), strings.ReplaceAll(strings.TrimSpace(v), "{token}", tok))
		}
		out[i] = h
	}
	return out
}

// run drives one target with conc workers for d, recording each request's latency and the CPU
// time of the target's processes over the same window. Round 0 is the warm-up: it counts only
// the requests sent; a measured round adds its turn to the target's figures.
func run(client *http.Client, t *target, conc int, d time.Duration, round int) turn {
	cpu0 := t.cpuNow()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var lat []time.Duration
	var errs, sent, cut int
	var ranOut atomic.Bool
	start := time.Now()
	for range conc {
		wg.Go(func() {
			var mine []time.Duration
			myErrs, mySent, myCut := 0, 0, 0
			for ctx.Err() == nil {
				h, ok := t.nextHeader()
				if !ok {
					ranOut.Store(true)
					break
				}
				mySent++
				t0 := time.Now()
				if err := once(ctx, client, t.url, h); err != nil {
					if ctx.Err() == nil {
						myErrs++
						t.firstErr.CompareAndSwap(nil, err.Error())
					} else {
						myCut++
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs, sent, cut = errs+myErrs, sent+mySent, cut+myCut
			mu.Unlock()
		})
	}
	wg.Wait()
	tn := turn{round: round, requests: len(lat), errors: errs, elapsed: time.Since(start), ranOut: ranOut.Load()}
	tn.cpuBy = t.cpuNow()
	for i := range tn.cpuBy {
		tn.cpuBy[i] -= cpu0[i]
		tn.cpu += tn.cpuBy[i]
	}
	t.sent += sent
	t.cut += cut
	if tn.ranOut {
		where := "warm-up"
		if round > 0 {
			where = fmt.Sprintf("round %d (after %v of %v)", round, tn.elapsed.Round(time.Millisecond), d)
		}
		t.ranOut = append(t.ranOut, where)
	}
	if round == 0 {
		return tn
	}
	t.lat = append(t.lat, lat...)
	t.errors += errs
	t.elapsed += tn.elapsed
	t.cpu += tn.cpu
	if t.cpuBy == nil {
		t.cpuBy = make([]time.Duration, len(t.pids))
	}
	for i, c := range tn.cpuBy {
		t.cpuBy[i] += c
	}
	t.rounds = append(t.rounds, tn)
	return tn
}

// nextHeader returns the headers of the next request: the next token's. Under -unique it
// reports false once every token was taken; otherwise the tokens are taken in turn, again and
// again.
func (t *target) nextHeader() (http.Header, bool) {
	i := t.next.Add(1) - 1
	n := uint64(len(t.headers))
	if t.unique {
		if i >= n {
			return nil, false
		}
		return t.headers[i], true
	}
	return t.headers[i%n], true
}

// cpuNow reads the CPU time used so far by each of the target's processes.
func (t *target) cpuNow() []time.Duration {
	out := make([]time.Duration, len(t.pids))
	for i, pid := range t.pids {
		c, err := cpuTime(pid)
		if err != nil {
			fatal("%s: %v", t.name, err)
		}
		out[i] = c
	}
	return out
}

// statusError is an answer other than 200.
type statusError int

func (e statusError) Error() string { return fmt.Sprintf("status %d", int(e)) }

func once(ctx context.Context, client *http.Client, u string, h http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header = h // read-only: the transport only writes it out
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return statusError(res.StatusCode)
	}
	return nil
}

// report prints each target's figures, then every target's ratios to the first: over all its
// rounds, each round's, and the median of the rounds' ratios.
func report(w io.Writer, targets []*target) {
	fmt.Fprintf(w, "%-22s %9s %11s %9s %9s %9s %7s\n", "target", "req/s", "cpu-us/req", "p50", "p90", "p99", "errors")
	for _, t := range targets {
		slices.Sort(t.lat)
		cpu := "-"
		if len(t.pids) > 0 {
			cpu = fmt.Sprintf("%.1f", t.cpuPerRequest())
		}
		fmt.Fprintf(w, "%-22s %9.0f %11s %9s %9s %9s %7d\n", t.name, t.rps(), cpu, pct(t.lat, 50), pct(t.lat, 90), pct(t.lat, 99), t.errors)
	}
	base := targets[0]
	for _, t := range targets[1:] {
		withCPU := len(t.pids) > 0 && len(base.pids) > 0
		line := fmt.Sprintf("%s vs %s: throughput %.2fx", t.name, base.name, ratio(t.rps(), base.rps()))
		if withCPU {
			line += fmt.Sprintf(", cpu/req %.2fx", ratio(t.cpuPerRequest(), base.cpuPerRequest()))
		}
		line += fmt.Sprintf(", p99 %.2fx", ratio(float64(pct(t.lat, 99)), float64(pct(base.lat, 99))))
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w, "per round (throughput ratio / cpu-per-request ratio to the first target's turn in the same round):")
	medians := make([]string, 0, len(targets)-1)
	for _, t := range targets[1:] {
		withCPU := len(t.pids) > 0 && len(base.pids) > 0
		rps, cpu := roundRatios(t.rounds, base.rounds)
		line := fmt.Sprintf("  %-20s", t.name)
		for i := range rps {
			line += fmt.Sprintf(" %.2f", rps[i])
			if withCPU {
				line += fmt.Sprintf("/%.2f", cpu[i])
			}
		}
		fmt.Fprintln(w, line)
		if len(rps) == 0 {
			continue
		}
		m := fmt.Sprintf("median of rounds: %s vs %s: throughput %.2fx", t.name, base.name, median(rps))
		if withCPU {
			m += fmt.Sprintf(", cpu/req %.2fx", median(cpu))
		}
		medians = append(medians, m+fmt.Sprintf(" (%d rounds)", len(rps)))
	}
	for _, m := range medians {
		fmt.Fprintln(w, m)
	}
	for _, t := range targets {
		if len(t.pids) > 1 {
			line := fmt.Sprintf("cpu by process, %s:", t.name)
			for i, pid := range t.pids {
				line += fmt.Sprintf(" %d %.1f us/req", pid, perRequest(t.cpuBy[i], len(t.lat)))
			}
			fmt.Fprintln(w, line)
		}
	}
	for _, t := range targets {
		fmt.Fprintf(w, "requests of %s over the run (warm-up included): %d sent, %d cut off at the end of a turn\n", t.name, t.sent, t.cut)
	}
	for _, t := range targets {
		if t.errors > 0 {
			fmt.Fprintf(w, "warning: %s had %d failed requests (the first: %v)\n", t.name, t.errors, t.firstErr.Load())
		}
		if len(t.ranOut) > 0 {
			fmt.Fprintf(w, "warning: %s ran out of its %d tokens (-unique) in the %s: those turns ended early, later ones were skipped; mint more\n",
				t.name, len(t.headers), strings.Join(t.ranOut, ", "))
		}
	}
}

// roundRatios pairs each of t's turns with the reference's turn of the same round and returns
// their throughput ratios and CPU-per-request ratios (t over reference), in round order.
func roundRatios(t, ref []turn) (rps, cpu []float64) {
	byRound := map[int]turn{}
	for _, b := range ref {
		byRound[b.round] = b
	}
	for _, tn := range t {
		b, ok := byRound[tn.round]
		if !ok {
			continue
		}
		rps = append(rps, ratio(tn.rps(), b.rps()))
		cpu = append(cpu, ratio(tn.cpuPerRequest(), b.cpuPerRequest()))
	}
	return rps, cpu
}

// median is the middle value of v (the mean of the two middle ones for an even count); 0 for
// none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratio is a/b, 0 when b is 0 (a target that served nothing).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func (t *target) rps() float64 {
	if t.elapsed <= 0 {
		return 0
	}
	return float64(len(t.lat)) / t.elapsed.Seconds()
}

// cpuPerRequest is the measured processes' CPU time per successful request, in microseconds.
func (t *target) cpuPerRequest() float64 { return perRequest(t.cpu, len(t.lat)) }

func perRequest(cpu time.Duration, requests int) float64 {
	if requests == 0 {
		return 0
	}
	return float64(cpu.Microseconds()) / float64(requests)
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)].Round(time.Microsecond)
}

func isLoopback(host string) bool {
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1"
}
