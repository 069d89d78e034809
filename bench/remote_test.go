// Package bench holds obgate's Go benchmarks that span packages; see README.md for the commands.
package bench

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/jwttest"
)

const benchIssuer = "https://issuer.bench"

// jwksFixture is a loopback JWKS server whose answers take `delay` (a slow issuer), and counts
// the refreshes in progress, so that each verification can be tagged with whether one was.
type jwksFixture struct {
	srv      *httptest.Server
	inFlight atomic.Int64
	served   atomic.Int64
}

func newJWKSFixture(b *testing.B, body []byte, delay time.Duration) *jwksFixture {
	b.Helper()
	f := &jwksFixture{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.inFlight.Add(1)
		defer f.inFlight.Add(-1)
		time.Sleep(delay) // the issuer is slow; this runs in the server, never in a request
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(body)
		f.served.Add(1)
	}))
	b.Cleanup(f.srv.Close)
	return f
}

// remoteVerifier builds a verifier whose issuer's keys come from the fixture, refreshed every
// `every` (far more often than any real deployment, to have refreshes during the run).
func remoteVerifier(b *testing.B, f *jwksFixture, every time.Duration) (*verify.Verifier, *keys.Remote) {
	b.Helper()
	r, err := keys.NewRemote(f.srv.URL+"/jwks", keys.RemoteOptions{
		AllowHTTP:  func(*url.URL) bool { return true },
		MinRefresh: every,
		MaxRefresh: every,
	})
	if err != nil {
		b.Fatal(err)
	}
	r.Start()
	b.Cleanup(r.Close)
	for range 500 { // bounded wait for the first fetch
		if _, err := r.Keys(); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	v, err := verify.New(verify.Policy{Issuers: []verify.Issuer{{Name: benchIssuer, Sources: []keys.Source{r}}}})
	if err != nil {
		b.Fatal(err)
	}
	return v, r
}

// fileVerifier builds a verifier whose issuer's key is a PEM file, as `key <path>` does.
func fileVerifier(b *testing.B, s *jwttest.Signer) *verify.Verifier {
	b.Helper()
	ks, err := keys.LoadFile(s.PublicPEM(b, b.TempDir()), s.KID)
	if err != nil {
		b.Fatal(err)
	}
	v, err := verify.New(verify.Policy{Issuers: []verify.Issuer{{Name: benchIssuer, Sources: []keys.Source{keys.NewStatic(ks...)}}}})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

func benchSigners(b *testing.B) []*jwttest.Signer {
	es := jwttest.NewEC(b, "ES256")
	es.KID = "es256"
	rs := jwttest.NewRSA(b, 2048, "RS256")
	rs.KID = "rs256"
	return []*jwttest.Signer{es, rs}
}

// BenchmarkVerifyKeySource compares a warm JWKS-backed issuer with a file key: same key, same
// token, same verifier. The JWKS case refreshes every 50ms in the background during the run.
func BenchmarkVerifyKeySource(b *testing.B) {
	for _, s := range benchSigners(b) {
		tok := []byte(s.Token(b, jwttest.Claims(benchIssuer, "bench", "user", time.Now()), nil))
		f := newJWKSFixture(b, jwttest.JWKS(b, s), time.Millisecond)
		remote, _ := remoteVerifier(b, f, 50*time.Millisecond)
		for _, tc := range []struct {
			name string
			v    *verify.Verifier
		}{{"file", fileVerifier(b, s)}, {"jwks", remote}} {
			b.Run(s.Alg+"/"+tc.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := tc.v.Verify(b.Context(), tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRefreshInvisible verifies tokens from GOMAXPROCS-1 goroutines against a JWKS-backed
// issuer whose keys are refreshed every 20ms from an issuer that takes 5ms to answer, and reports
// the latency percentiles of the verifications that overlapped a refresh and of those that did
// not, from the same run. Run it with a fixed count, e.g. -benchtime=200000x.
//
// The "control" case runs the same work every 20ms (an HTTP GET of the JWKS from the same slow
// server and keys.ParseJWKs) in a goroutine that has nothing to do with the verifier, whose keys
// are not refreshed during the run. When "refresh" and "control" show the same p99 ratio, what
// is left in the tail is the CPU the work itself takes on the machine, not requests waiting for
// the cache.
func BenchmarkRefreshInvisible(b *testing.B) {
	b.Run("refresh", func(b *testing.B) { refreshScenario(b, false) })
	b.Run("control", func(b *testing.B) { refreshScenario(b, true) })
}

func refreshScenario(b *testing.B, control bool) {
	s := benchSigners(b)[0]
	tok := []byte(s.Token(b, jwttest.Claims(benchIssuer, "bench", "user", time.Now()), nil))
	body := jwttest.JWKS(b, s)
	f := newJWKSFixture(b, body, 5*time.Millisecond)
	every := 20 * time.Millisecond
	if control {
		every = time.Hour
	}
	v, _ := remoteVerifier(b, f, every)
	if control {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
				}
				res, err := http.Get(f.srv.URL + "/jwks")
				if err != nil {
					continue
				}
				data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
				res.Body.Close()
				_, _, _ = keys.ParseJWKs(data, "control", keys.JWKOptions{})
			}
		}()
		b.Cleanup(func() { close(stop); <-done })
	}
	var mu sync.Mutex
	var idle, during []time.Duration
	servedBefore := f.served.Load()
	// One core is left to the refresher, the loopback issuer and the GC, so that the figures
	// show whether a refresh blocks requests, not that a 2-core machine is busy.
	workers := max(1, runtime.GOMAXPROCS(0)-1)
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range workers {
		n := b.N / workers
		if w == 0 {
			n += b.N % workers
		}
		wg.Go(func() {
			myIdle, myDuring := make([]time.Duration, 0, n), make([]time.Duration, 0, n)
			for range n {
				refreshing := f.inFlight.Load() > 0
				start := time.Now()
				_, err := v.Verify(b.Context(), tok)
				d := time.Since(start)
				if err != nil {
					b.Error(err)
					return
				}
				if refreshing || f.inFlight.Load() > 0 {
					myDuring = append(myDuring, d)
				} else {
					myIdle = append(myIdle, d)
				}
			}
			mu.Lock()
			idle, during = append(idle, myIdle...), append(during, myDuring...)
			mu.Unlock()
		})
	}
	wg.Wait()
	b.StopTimer()
	refreshes := f.served.Load() - servedBefore
	b.ReportMetric(float64(refreshes), "refreshes")
	b.ReportMetric(float64(len(during))/float64(max(len(idle)+len(during), 1))*100, "%during")
	if len(idle) < 1000 || len(during) < 1000 {
		return // the calibration runs; the figures need -benchtime=200000x or so
	}
	pi, pd := percentiles(idle), percentiles(during)
	b.ReportMetric(float64(pi[1].Microseconds()), "p99-idle-µs")
	b.ReportMetric(float64(pd[1].Microseconds()), "p99-refresh-µs")
	b.ReportMetric(float64(pd[1])/float64(pi[1]), "p99-ratio")
	if out := os.Getenv("OBGATE_BENCH_OUT"); out != "" {
		line := fmt.Sprintf("refreshes=%d samples idle=%d during=%d p50 idle=%v during=%v p99 idle=%v during=%v p99.9 idle=%v during=%v\n",
			refreshes, len(idle), len(during), pi[0], pd[0], pi[1], pd[1], pi[2], pd[2])
		_ = os.WriteFile(filepath.Clean(out), []byte(line), 0o644)
	}
	b.Logf("refreshes %d; samples idle %d, during refresh %d; p50 %v / %v; p99 %v / %v; p99.9 %v / %v (idle / during)",
		refreshes, len(idle), len(during), pi[0], pd[0], pi[1], pd[1], pi[2], pd[2])
}

// percentiles returns p50, p99 and p99.9 (nearest rank).
func percentiles(ds []time.Duration) [3]time.Duration {
	slices.Sort(ds)
	at := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	return [3]time.Duration{at(0.50), at(0.99), at(0.999)}
}
