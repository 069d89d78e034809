// Command loadgen sends a bounded HTTP load to loopback targets and prints throughput and
// latency percentiles per target, interleaving the targets in rounds so that machine noise hits
// all of them alike. It is obgate's load tool for bench/: see bench/README.md.
//
//	loadgen -c 16 -d 5s -rounds 3 -H 'Authorization: Bearer ...' plain=http://127.0.0.1:9001/ jwt=http://127.0.0.1:9002/
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

type headerList []string

func (h *headerList) String() string     { return strings.Join(*h, ", ") }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

type target struct {
	name, url string
	lat       []time.Duration
	errors    int
	elapsed   time.Duration
}

func main() {
	conc := flag.Int("c", 16, "concurrent connections")
	dur := flag.Duration("d", 5*time.Second, "duration of each target's turn in a round")
	rounds := flag.Int("rounds", 3, "rounds; each round runs every target once")
	var headers headerList
	flag.Var(&headers, "H", "request header 'Name: value'; repeatable")
	flag.Parse()
	var targets []*target
	for _, arg := range flag.Args() {
		name, u, ok := strings.Cut(arg, "=")
		if !ok {
			fatal("target %q: want name=url", arg)
		}
		if pu, err := url.Parse(u); err != nil || !isLoopback(pu.Hostname()) {
			fatal("target %q: only loopback URLs are allowed", arg)
		}
		targets = append(targets, &target{name: name, url: u})
	}
	if len(targets) == 0 {
		fatal("no targets")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc}, Timeout: 10 * time.Second}
	for r := 0; r < *rounds; r++ {
		for _, t := range targets {
			run(client, t, *conc, *dur, headers)
		}
	}
	fmt.Printf("%-12s %10s %10s %10s %10s %8s\n", "target", "req/s", "p50", "p90", "p99", "errors")
	for _, t := range targets {
		slices.Sort(t.lat)
		rps := float64(len(t.lat)) / t.elapsed.Seconds()
		fmt.Printf("%-12s %10.0f %10s %10s %10s %8d\n", t.name, rps, pct(t.lat, 50), pct(t.lat, 90), pct(t.lat, 99), t.errors)
	}
	base := targets[0]
	baseRPS := float64(len(base.lat)) / base.elapsed.Seconds()
	for _, t := range targets[1:] {
		rps := float64(len(t.lat)) / t.elapsed.Seconds()
		fmt.Printf("%s vs %s: throughput ratio %.2f, p99 ratio %.2f\n", t.name, base.name, rps/baseRPS,
			float64(pct(t.lat, 99))/float64(pct(base.lat, 99)))
	}
}

// run drives one target with conc workers for d, recording each request's latency.
func run(client *http.Client, t *target, conc int, d time.Duration, headers []string) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			errs := 0
			for ctx.Err() == nil {
				t0 := time.Now()
				if err := once(ctx, client, t.url, headers); err != nil {
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
	t.elapsed += time.Since(start)
}

func once(ctx context.Context, client *http.Client, u string, headers []string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return nil
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

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(2)
}
