package caddyjwt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/obgate/obgate/internal/jwttest"
)

// BenchmarkRequestSignature measures the whole handler (find the JWS, read the body once, bind,
// hand the body on) for 1 KiB and 64 KiB bodies, next to jwt_auth alone on the same ES256 key.
//
//	go test ./caddyjwt -run '^$' -bench RequestSignature -benchtime 3000x
func BenchmarkRequestSignature(b *testing.B) {
	dir := b.TempDir()
	s := jwttest.NewEC(b, "ES256")
	pem := s.PublicPEM(b, dir)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { return nil })
	serve := func(b *testing.B, h caddyhttp.MiddlewareHandler, r func() *http.Request) {
		b.ReportAllocs()
		for b.Loop() {
			req := r()
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, req, next); err != nil || w.Code != 200 {
				b.Fatalf("ServeHTTP = %v, status %d: %s", err, w.Code, w.Body)
			}
		}
	}
	withRepl := func(r *http.Request) *http.Request {
		return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
	}

	b.Run("jwt_auth_alone", func(b *testing.B) {
		h := &JWTAuth{Config: Config{Issuers: []IssuerConfig{{Issuer: "https://tpp.example", Keys: []KeyFile{{Path: pem}}}}, Audience: []string{"api"}}}
		if err := h.Provision(ctx); err != nil {
			b.Fatal(err)
		}
		tok := "Bearer " + s.Token(b, jwttest.Claims("https://tpp.example", "api", "alice", time.Now()), nil)
		serve(b, h, func() *http.Request {
			r := httptest.NewRequest("GET", "https://api.bank.example/accounts", nil)
			r.Header.Set("Authorization", tok)
			return withRepl(r)
		})
	})
	h := &RequestSignature{Keys: []KeyFile{{Path: pem}}, Profile: "tokenio"}
	if err := h.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{1 << 10, 64 << 10} {
		body := bytes.Repeat([]byte("a"), size)
		hdr, _ := json.Marshal(map[string]any{
			"alg": "ES256", "kid": s.KID, "exp": time.Now().Add(time.Hour).UnixMilli(),
			"method": "POST", "host": "api.bank.example", "path": "/payments",
		})
		parts := strings.Split(s.SignRaw(b, hdr, body), ".")
		tok := "Bearer " + parts[0] + ".." + parts[2]
		b.Run(fmt.Sprintf("tokenio_detached_%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			serve(b, h, func() *http.Request {
				r := httptest.NewRequest("POST", "https://api.bank.example/payments", bytes.NewReader(body))
				r.Header.Set("Authorization", tok)
				return withRepl(r)
			})
		})
	}
}
