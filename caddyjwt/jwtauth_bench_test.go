package caddyjwt

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/obgate/obgate/internal/jwttest"
)

// BenchmarkJWTAuthHandler is the whole jwt_auth handler for one request with a typical access
// token, as Caddy calls it (a replacer and the access log's extra fields in the context): token
// extraction, verification, placeholders, log fields and the call to next. "verify" has the
// verified-token cache off, so every request is a full verification; "cached" has the default
// cache and a token it already holds; "+accesslog" is a server that keeps an access log, where
// the handler also adds the caller's fields to the entry. The request itself is built outside the
// measured work, so allocs/op counts the handler's own allocations.
//
//	go test -run='^$' -bench=JWTAuthHandler -benchmem ./caddyjwt
func BenchmarkJWTAuthHandler(b *testing.B) {
	dir := b.TempDir()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { return nil })
	claims := jwttest.Claims("https://tpp.example", "bench", "alice", time.Now())
	claims["scope"], claims["client_id"], claims["jti"] = "accounts payments", "tpp-8d2f1c", "5f0c1e2a-1b7d-4c8e-9f3a-2d6b7e8f9a0b"
	for _, s := range []*jwttest.Signer{jwttest.NewRSA(b, 2048, "RS256"), jwttest.NewEC(b, "ES256")} {
		pem := s.PublicPEM(b, dir)
		tok := "Bearer " + s.Token(b, claims, nil)
		for _, mode := range []struct {
			name      string
			cache     int
			accessLog bool
		}{{"verify", -1, false}, {"verify+accesslog", -1, true}, {"cached", 0, false}, {"cached+accesslog", 0, true}} {
			srv := &caddyhttp.Server{}
			if mode.accessLog {
				srv.Logs = &caddyhttp.ServerLogConfig{}
			}
			h := &JWTAuth{Config: Config{
				Issuers:       []IssuerConfig{{Issuer: "https://tpp.example", Keys: []KeyFile{{Path: pem}}}},
				Audience:      []string{"bench"},
				VerifiedCache: mode.cache,
			}}
			if err := h.Provision(ctx); err != nil {
				b.Fatal(err)
			}
			b.Run(s.Alg+"/"+mode.name, func(b *testing.B) {
				base := httptest.NewRequest("GET", "https://api.bank.example/accounts", nil)
				base.Header.Set("Authorization", tok)
				w := httptest.NewRecorder()
				reqs := make([]*http.Request, 0, 1024)
				fresh := func() {
					reqs = reqs[:0]
					for range cap(reqs) {
						c := context.WithValue(base.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
						c = context.WithValue(c, caddyhttp.ServerCtxKey, srv)
						c = context.WithValue(c, caddyhttp.ExtraLogFieldsCtxKey, new(caddyhttp.ExtraLogFields))
						reqs = append(reqs, base.WithContext(c))
					}
				}
				fresh()
				if err := h.ServeHTTP(w, reqs[0], next); err != nil || w.Code != 200 {
					b.Fatalf("ServeHTTP = %v, status %d: %s", err, w.Code, w.Body)
				}
				b.ReportAllocs()
				b.ResetTimer()
				i := 1
				for b.Loop() {
					if i == len(reqs) {
						b.StopTimer()
						fresh()
						i = 0
						b.StartTimer()
					}
					if err := h.ServeHTTP(w, reqs[i], next); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}
