package dcrhandler

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchmarkHandler is a generic-profile handler on file storage in a temporary directory, with
// the software's JWKS already fetched (warm), and one request JWT. Under generic, jti is
// optional, so the same request can register a new client on every iteration: the benchmark
// measures SSA and request verification, metadata validation and one atomic storage write.
func benchmarkHandler(b *testing.B) (*Handler, string) {
	f := newFixture(b)
	f.storageDir = b.TempDir()
	h := f.handler(b, "generic", nil)
	tok := f.requestJWT("generic", nil, func(c map[string]any) { delete(c, "jti") })
	if w := post(b, h, tok); w.Code != http.StatusCreated { // warms the JWKS cache
		b.Fatalf("warm-up registration: status %d; body %s", w.Code, w.Body.String())
	}
	return h, tok
}

// BenchmarkRegister measures registrations per second, one at a time.
//
//	go test -run='^$' -bench=Register -benchtime=2000x ./dcrhandler
func BenchmarkRegister(b *testing.B) {
	h, tok := benchmarkHandler(b)
	body := []byte(tok)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/register", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/jwt")
		w := httptest.NewRecorder()
		_ = h.ServeHTTP(w, r, nil)
		if w.Code != http.StatusCreated {
			b.Fatalf("status %d; body %s", w.Code, w.Body.String())
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "registrations/s")
}

// BenchmarkRegisterParallel measures registrations per second with 8 concurrent clients per
// CPU, as a server sees them: storage writes (each an fsync) overlap.
func BenchmarkRegisterParallel(b *testing.B) {
	h, tok := benchmarkHandler(b)
	body := []byte(tok)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, "/register", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/jwt")
			w := httptest.NewRecorder()
			_ = h.ServeHTTP(w, r, nil)
			if w.Code != http.StatusCreated {
				b.Errorf("status %d; body %s", w.Code, w.Body.String())
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "registrations/s")
}
