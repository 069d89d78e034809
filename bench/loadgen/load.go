package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
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
	next      atomic.Uint64 // the next token to send

	lat     []time.Duration
	errors  int
	elapsed time.Duration
	cpu     time.Duration // the measured process's CPU time during this target's turns
	rounds  []turn        // each measured turn on its own, to show the spread between rounds
}

// turn is what one target's turn in one round measured.
type turn struct {
	requests int
	elapsed  time.Duration
	cpu      time.Duration
}

func (t turn) rps() float64 { return float64(t.requests) / t.elapsed.Seconds() }

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
	pid := fs.Int("pid", 0, "process whose CPU time is measured per target (e.g. Caddy); 0: none")
	clk := fs.Int("clk", 100, "clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK)")
	var headers, tokenFiles listFlag
	fs.Var(&headers, "H", "request header 'Name: value', where {token} is replaced by the target's next token; repeatable")
	fs.Var(&tokenFiles, "tokens", "token file, one per line: 'name=file' for one target, 'file' for all; repeatable")
	_ = fs.Parse(args)
	clockTick = time.Second / time.Duration(*clk)

	tokens, err := readTokenFiles(tokenFiles)
	if err != nil {
		fatal("%v", err)
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
		targets = append(targets, &target{name: name, url: u, headers: buildHeaders(headers, toks)})
	}
	if len(targets) == 0 {
		fatal("no targets")
	}
	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: *conc, DisableCompression: true},
		Timeout:   10 * time.Second,
	}
	for _, t := range targets {
		if *warmup > 0 {
			probe := &target{name: t.name, url: t.url, headers: t.headers}
			run(client, probe, *conc, *warmup, 0)
			if probe.errors > 0 && len(probe.lat) == 0 {
				fatal("%s: every warm-up request failed (%d): check the config and tokens", t.name, probe.errors)
			}
		}
	}
	for range *rounds {
		for _, t := range targets {
			run(client, t, *conc, *dur, *pid)
		}
	}
	report(os.Stdout, targets, *pid != 0)
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

// run drives one target with conc workers for d, recording each request's latency and, when pid
// is set, that process's CPU time over the same window.
func run(client *http.Client, t *target, conc int, d time.Duration, pid int) {
	var cpu0 time.Duration
	if pid != 0 {
		var err error
		if cpu0, err = cpuTime(pid); err != nil {
			fatal("%v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	before := len(t.lat)
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			errs := 0
			for ctx.Err() == nil {
				h := t.headers[t.next.Add(1)%uint64(len(t.headers))]
				t0 := time.Now()
				if err := once(ctx, client, t.url, h); err != nil {
					if ctx.Err() == nil {
						errs++
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			t.lat = append(t.lat, lat...)
			t.errors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	tn := turn{elapsed: time.Since(start), requests: len(t.lat) - before}
	if pid != 0 {
		cpu1, err := cpuTime(pid)
		if err != nil {
			fatal("%v", err)
		}
		tn.cpu = cpu1 - cpu0
	}
	t.elapsed += tn.elapsed
	t.cpu += tn.cpu
	t.rounds = append(t.rounds, tn)
}

var errStatus = errors.New("status not 200")

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
		return errStatus
	}
	return nil
}

// report prints each target's figures, then every target's ratios to the first.
func report(w io.Writer, targets []*target, withCPU bool) {
	fmt.Fprintf(w, "%-22s %9s %11s %9s %9s %9s %7s\n", "target", "req/s", "cpu-us/req", "p50", "p90", "p99", "errors")
	for _, t := range targets {
		slices.Sort(t.lat)
		cpu := "-"
		if withCPU {
			cpu = fmt.Sprintf("%.1f", t.cpuPerRequest())
		}
		fmt.Fprintf(w, "%-22s %9.0f %11s %9s %9s %9s %7d\n", t.name, t.rps(), cpu, pct(t.lat, 50), pct(t.lat, 90), pct(t.lat, 99), t.errors)
	}
	base := targets[0]
	for _, t := range targets[1:] {
		line := fmt.Sprintf("%s vs %s: throughput %.2fx", t.name, base.name, t.rps()/base.rps())
		if withCPU {
			line += fmt.Sprintf(", cpu/req %.2fx", t.cpuPerRequest()/base.cpuPerRequest())
		}
		line += fmt.Sprintf(", p99 %.2fx", float64(pct(t.lat, 99))/float64(pct(base.lat, 99)))
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w, "per round (throughput ratio / cpu-per-request ratio to the first target's turn in the same round):")
	for _, t := range targets[1:] {
		line := fmt.Sprintf("  %-20s", t.name)
		for i, tn := range t.rounds {
			if i >= len(base.rounds) {
				break
			}
			b := base.rounds[i]
			line += fmt.Sprintf(" %.2f", tn.rps()/b.rps())
			if withCPU {
				line += fmt.Sprintf("/%.2f", tn.cpuPerRequest()/b.cpuPerRequest())
			}
		}
		fmt.Fprintln(w, line)
	}
	for _, t := range targets {
		if t.errors > 0 {
			fmt.Fprintf(w, "warning: %s had %d failed requests\n", t.name, t.errors)
		}
	}
}

func (t *target) rps() float64 { return float64(len(t.lat)) / t.elapsed.Seconds() }

// cpuPerRequest is the measured process's CPU time per successful request, in microseconds.
func (t *target) cpuPerRequest() float64 {
	if len(t.lat) == 0 {
		return 0
	}
	return float64(t.cpu.Microseconds()) / float64(len(t.lat))
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
