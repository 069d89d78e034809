package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/obgate/obgate/caddyjwt"
	"github.com/obgate/obgate/internal/jwttest"
	"github.com/obgate/obgate/internal/redistest"
)

// BenchmarkReplayStore measures request_signature with `replay` on the memory store against the
// same handler on the Redis store (a real redis-server on loopback), in the same run: short
// rounds of requests alternate between the two so that the machine's noise falls on both, and
// the ratio reported is the median of the back-to-back pairs' ratios. Each request
// carries a fresh tokenio signature (ES256, signed before the clock starts), and 8 or 16 workers
// send them concurrently, as a server's connections would. It reports each store's throughput, their
// ratio (redis/memory), and the Redis commands per request counted by the server itself (INFO
// commandstats): SET calls, and every command (connection set-up included).
//
//	go test ./bench -run '^$' -bench ReplayStore -benchtime 1x -count 3
func BenchmarkReplayStore(b *testing.B) {
	for _, workers := range []int{8, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) { benchmarkReplayStore(b, workers) })
	}
}

func benchmarkReplayStore(b *testing.B, workers int) {
	const (
		rounds   = 20
		perRound = 400
	)
	srv := redistest.Start(b)
	signer := jwttest.NewEC(b, "ES256")
	pem := signer.PublicPEM(b, b.TempDir())

	// The redis store comes from a running config's replay app (its timeout raised to 2s so that
	// a busy shared machine measures cost, not 503s); the memory store is the default of a
	// context without one.
	cfg := fmt.Sprintf(`{"admin": {"disabled": true}, "logging": {"logs": {"default": {"level": "ERROR"}}},
		"apps": {"replay": {"store": {"backend": "redis", "address": %q, "timeout": "2s"}}}}`, srv.Addr)
	if err := caddy.Load([]byte(cfg), true); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = caddy.Stop() })
	memCtx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	b.Cleanup(cancel)
	provision := func(ctx caddy.Context) *caddyjwt.RequestSignature {
		h := &caddyjwt.RequestSignature{Keys: []caddyjwt.KeyFile{{Path: pem}}, Profile: "tokenio", Replay: true, ReplayMaxEntries: rounds*perRound*2 + 10}
		if err := h.Provision(ctx); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = h.Cleanup() })
		return h
	}
	handlers := map[string]*caddyjwt.RequestSignature{"memory": provision(memCtx), "redis": provision(caddy.ActiveContext())}

	sign := func(path string) string {
		hdr, _ := json.Marshal(map[string]any{
			"alg": "ES256", "kid": signer.KID, "exp": time.Now().Add(time.Hour).UnixMilli(),
			"method": "GET", "host": "api.bank.example", "path": path,
		})
		parts := strings.Split(signer.SignRaw(b, hdr, nil), ".")
		return "Bearer " + parts[0] + ".." + parts[2]
	}
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	serve := func(h *caddyjwt.RequestSignature, path, auth string) {
		r := httptest.NewRequest("GET", "https://api.bank.example"+path, nil)
		r.Header.Set("Authorization", auth)
		orig := *r.URL
		rctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
		rctx = context.WithValue(rctx, caddyhttp.OriginalRequestCtxKey, http.Request{Method: r.Method, URL: &orig})
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, r.WithContext(rctx), next); err != nil || w.Code != http.StatusOK {
			b.Errorf("ServeHTTP = %v, status %d: %s", err, w.Code, w.Body)
		}
	}
	// runRound sends perRound fresh signed requests through h with the workers; it returns the
	// wall time and the CPU time spent: this process's, plus redis-server's for the Redis store.
	runRound := func(h *caddyjwt.RequestSignature, store string, round int) (wall, cpu, server time.Duration) {
		paths := make([]string, perRound)
		auths := make([]string, perRound)
		for i := range paths {
			paths[i] = fmt.Sprintf("/pay/%s/%d/%d", store, round, i)
			auths[i] = sign(paths[i])
		}
		var nextIdx atomic.Int64
		var wg sync.WaitGroup
		redisBefore := redisCPU(b, srv)
		cpuBefore := processCPU()
		start := time.Now()
		for range workers {
			wg.Go(func() {
				for i := nextIdx.Add(1) - 1; i < perRound; i = nextIdx.Add(1) - 1 {
					serve(h, paths[i], auths[i])
				}
			})
		}
		wg.Wait()
		wall, cpu = time.Since(start), processCPU()-cpuBefore
		if store == "redis" {
			server = redisCPU(b, srv) - redisBefore
		}
		return wall, cpu + server, server
	}

	for b.Loop() {
		runRound(handlers["memory"], "warm-memory", -b.N) // warm both: connections, caches
		runRound(handlers["redis"], "warm-redis", -b.N)
		before, err := srv.CommandCalls()
		if err != nil {
			b.Fatal(err)
		}
		// Pairs of rounds, memory and Redis back to back (the order alternating), so that each
		// pair's ratio compares the two under the same load; the median pair ratio is reported.
		rates := map[string][]float64{}
		cpuPerReq := map[string][]float64{}
		var serverPerReq []float64
		var ratios, cpuRatios []float64
		for round := range rounds {
			order := []string{"memory", "redis"}
			if round%2 == 1 {
				order = []string{"redis", "memory"}
			}
			pair, pairCPU := map[string]float64{}, map[string]float64{}
			for _, store := range order {
				wall, cpu, server := runRound(handlers[store], store, round+b.N*1000)
				if store == "redis" {
					serverPerReq = append(serverPerReq, float64(server.Microseconds())/float64(perRound))
				}
				pair[store] = float64(perRound) / wall.Seconds()
				pairCPU[store] = float64(cpu.Microseconds()) / float64(perRound)
				rates[store] = append(rates[store], pair[store])
				cpuPerReq[store] = append(cpuPerReq[store], pairCPU[store])
			}
			ratios = append(ratios, pair["redis"]/pair["memory"])
			cpuRatios = append(cpuRatios, pairCPU["memory"]/pairCPU["redis"])
		}
		after, err := srv.CommandCalls()
		if err != nil {
			b.Fatal(err)
		}
		redisRequests := float64(rounds * perRound)
		all := 0
		for name, n := range after {
			all += n - before[name]
		}
		mem, red := median(rates["memory"]), median(rates["redis"])
		b.ReportMetric(mem, "memory-req/s")
		b.ReportMetric(red, "redis-req/s")
		b.ReportMetric(median(ratios), "redis/memory")
		b.ReportMetric(median(cpuPerReq["memory"]), "memory-cpu-µs/req")
		b.ReportMetric(median(cpuPerReq["redis"]), "redis-cpu-µs/req")
		b.ReportMetric(median(cpuRatios), "cpu-redis/memory")
		b.ReportMetric(median(serverPerReq), "redis-server-cpu-µs/req")
		b.ReportMetric(float64(after["set"]-before["set"])/redisRequests, "SET/req")
		b.ReportMetric(float64(all-1)/redisRequests, "commands/req") // minus our own INFO
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// redisCPU is the CPU time the redis-server has used.
func redisCPU(b *testing.B, srv *redistest.Server) time.Duration {
	d, err := srv.CPU()
	if err != nil {
		b.Fatal(err)
	}
	return d
}
