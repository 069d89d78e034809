package caddyjwt

import (
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

// signedRequest is a GET to path with a detached tokenio signature by s.
func signedRequest(t *testing.T, s *jwttest.Signer, path string) *http.Request {
	t.Helper()
	hdr, _ := json.Marshal(map[string]any{
		"alg": "ES256", "kid": s.KID, "exp": time.Now().Add(time.Minute).UnixMilli(),
		"method": "GET", "host": "api.bank.example", "path": path,
	})
	parts := strings.Split(s.SignRaw(t, hdr, nil), ".")
	r := httptest.NewRequest("GET", "https://api.bank.example"+path, nil)
	r.Header.Set("Authorization", "Bearer "+parts[0]+".."+parts[2])
	orig := *r.URL
	rctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
	rctx = context.WithValue(rctx, caddyhttp.OriginalRequestCtxKey, http.Request{Method: r.Method, URL: &orig})
	return r.WithContext(rctx)
}

// serve runs h on r and reports the answer and whether the next handler ran.
func serve(t *testing.T, h *RequestSignature, r *http.Request) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	w := httptest.NewRecorder()
	reached := false
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { reached = true; return nil })
	if err := h.ServeHTTP(w, r, next); err != nil {
		t.Fatal(err)
	}
	return w, reached
}

// TestRequestSignatureReplayStoreFullIs503: the replay-flush attack of issue 10. A signer fills
// the handler's bound (replay 3) with valid signatures; the next one is refused with 503 and
// Retry-After instead of an older entry being forgotten, the captured first request is still
// refused as a replay, and nothing of either reaches the backend. Another handler with other
// signers is not affected.
func TestRequestSignatureReplayStoreFullIs503(t *testing.T) {
	flooder := jwttest.NewEC(t, "ES256")
	other := jwttest.NewEC(t, "ES256")
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	provision := func(s *jwttest.Signer) *RequestSignature {
		h := &RequestSignature{Keys: []KeyFile{{Path: s.PublicPEM(t, t.TempDir())}}, Profile: "tokenio", Replay: true, ReplayMaxEntries: 3}
		if err := h.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Cleanup() })
		return h
	}
	h, hOther := provision(flooder), provision(other)

	captured := signedRequest(t, flooder, "/payments/0")
	if w, reached := serve(t, h, captured.Clone(captured.Context())); !reached {
		t.Fatalf("first use: status %d, want it forwarded", w.Code)
	}
	for n := 1; n < 3; n++ {
		if w, reached := serve(t, h, signedRequest(t, flooder, fmt.Sprint("/payments/", n))); !reached {
			t.Fatalf("request %d below the bound: status %d, want it forwarded", n, w.Code)
		}
	}
	w, reached := serve(t, h, signedRequest(t, flooder, "/payments/3"))
	if reached || w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("request over the bound: status %d, Retry-After %q, forwarded %v; want 503 with Retry-After, not forwarded",
			w.Code, w.Header().Get("Retry-After"), reached)
	}
	var body struct{ Error string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != "temporarily_unavailable" {
		t.Errorf("503 body = %s, want error temporarily_unavailable", w.Body.String())
	}
	if w, reached := serve(t, h, captured.Clone(captured.Context())); reached || w.Code != http.StatusUnauthorized {
		t.Fatalf("the captured request after the flood: status %d, forwarded %v; want 401, not forwarded", w.Code, reached)
	}
	if w, reached := serve(t, hOther, signedRequest(t, other, "/payments/0")); !reached {
		t.Fatalf("another signer's handler after the flood: status %d, want it forwarded", w.Code)
	}
}
