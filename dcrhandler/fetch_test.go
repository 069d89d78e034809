package dcrhandler

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestAllowlist(t *testing.T) {
	a, err := parseAllowlist([]string{"keystore.example", "127.0.0.1:8443", "[::1]:9443", "http://localhost:9000", "https://Mixed.Example"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url     string
		allowed bool
	}{
		{"https://keystore.example/a.jwks", true},
		{"https://KEYSTORE.example:8443/a.jwks", true},
		{"https://mixed.example/x", true},
		{"https://sub.keystore.example/a.jwks", false},
		{"https://keystore.example.evil/a.jwks", false},
		{"http://keystore.example/a.jwks", false},
		{"https://127.0.0.1:8443/x", true},
		{"https://127.0.0.1/x", false},
		{"https://127.0.0.1:8444/x", false},
		{"https://[::1]:9443/x", true},
		{"http://localhost:9000/x", true},
		{"http://localhost:9001/x", false},
		{"https://localhost:9000/x", true}, // an http:// entry allows https too
		{"https://user@keystore.example/x", false},
		{"ftp://keystore.example/x", false},
	} {
		u, _ := url.Parse(tc.url)
		if err := a.check(u); (err == nil) != tc.allowed {
			t.Errorf("check(%s) = %v, want allowed %v", tc.url, err, tc.allowed)
		}
	}
	for _, bad := range []string{"", "https://", "host/path", "a b", "user@host"} {
		if _, err := parseAllowlist([]string{bad}); err == nil {
			t.Errorf("parseAllowlist(%q) accepted", bad)
		}
	}
}

func TestFetcherHygiene(t *testing.T) {
	_, soft, _, _ := testKeys(t)
	good := jwks(t, soft)
	var otherHits atomic.Int64
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		_, _ = w.Write(good)
	}))
	defer other.Close()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/good":
			_, _ = w.Write(good)
		case "/same-host-redirect":
			http.Redirect(w, r, "/good", http.StatusFound)
		case "/cross-host-redirect":
			http.Redirect(w, r, other.URL+"/good", http.StatusFound)
		case "/huge":
			_, _ = w.Write([]byte(`{"keys":[` + strings.Repeat(" ", maxJWKSBytes) + `]}`))
		case "/empty":
			_, _ = w.Write([]byte(`{"keys":[]}`))
		case "/private":
			_, _ = w.Write([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI"}]}`))
		case "/missing":
			http.NotFound(w, r)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	f := newHTTPFetcher(srv.Client(), nil)
	for _, tc := range []struct {
		path        string
		ok          bool
		unreachable bool
	}{
		{"/good", true, false},
		{"/same-host-redirect", true, false},
		{"/cross-host-redirect", false, false},
		{"/huge", false, false},
		{"/empty", false, false},
		{"/private", false, false},
		{"/missing", false, false},
		{"/down", false, true},
	} {
		t.Run(tc.path, func(t *testing.T) {
			set, err := f.Keys(context.Background(), srv.URL+tc.path)
			if tc.ok {
				if err != nil || set.Len() != 1 {
					t.Fatalf("Keys() = %v, %v; want one key", set, err)
				}
				return
			}
			fe, isFetch := errors.AsType[*fetchError](err)
			if !isFetch || fe.unreachable != tc.unreachable {
				t.Fatalf("Keys() error = %v, want a fetch error with unreachable=%v", err, tc.unreachable)
			}
		})
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("a redirect to another host was followed (%d requests)", n)
	}
}

func TestFetcherRefreshesOnUnknownKidAtMostOncePerCooldown(t *testing.T) {
	_, soft, other, _ := testKeys(t)
	var hits atomic.Int64
	body := atomic.Pointer[[]byte]{}
	first := jwks(t, soft)
	body.Store(&first)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write(*body.Load())
	}))
	defer srv.Close()
	now := time.Unix(1_760_000_000, 0)
	f := newHTTPFetcher(srv.Client(), func() time.Time { return now })
	ctx := context.Background()
	if _, err := f.Keys(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	rotated := jwks(t, soft, other)
	body.Store(&rotated)
	set, _ := f.KeysAfterMiss(ctx, srv.URL) // within the cooldown of the first fetch: no refetch
	if _, ok := set.Lookup(other.kid); ok || hits.Load() != 1 {
		t.Fatalf("refetched within the cooldown (hits %d)", hits.Load())
	}
	now = now.Add(jwksMissCooldown)
	set, _ = f.KeysAfterMiss(ctx, srv.URL)
	if _, ok := set.Lookup(other.kid); !ok || hits.Load() != 2 {
		t.Fatalf("rotated key not found after the cooldown (hits %d)", hits.Load())
	}
	for range 10 {
		_, _ = f.KeysAfterMiss(ctx, srv.URL)
	}
	if hits.Load() != 2 {
		t.Errorf("unknown kids caused %d fetches, want at most one per cooldown", hits.Load()-2)
	}
	// Through a failure, the last good set is served until jwksMaxStale.
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	now = now.Add(jwksTTL)
	if set, err := f.Keys(ctx, srv.URL); err != nil || set.Len() != 2 {
		t.Fatalf("stale set not served through an outage: %v", err)
	}
	now = now.Add(jwksMaxStale + time.Minute)
	if _, err := f.Keys(ctx, srv.URL); err == nil {
		t.Fatal("a set stale beyond jwksMaxStale was served")
	}
}

func TestDirectoryJWKSURL(t *testing.T) {
	f := newFixture(t)
	dirJWKS := jwks(t, f.dir)
	var hits atomic.Int64
	dirSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write(dirJWKS)
	}))
	dirSrv.StartTLS()
	defer dirSrv.Close()
	h := f.handler(t, "obie", func(h *Handler) {
		h.Directories = []Directory{{Issuer: testDirectory, JWKSURL: dirSrv.URL + "/directory.jwks"}}
	})
	if hits.Load() != 0 {
		t.Fatal("provision fetched the directory's keys")
	}
	if w := post(t, h, f.requestJWT("obie", nil, nil)); w.Code != http.StatusCreated {
		t.Fatalf("status %d; body %s", w.Code, w.Body.String())
	}
	// An SSA from an issuer that is not configured never causes a fetch.
	before := hits.Load()
	expectError(t, post(t, h, f.requestJWT("obie", set("iss", "https://rogue.example"), nil)), 400, codeInvalidSSA, "iss")
	if hits.Load() != before {
		t.Error("an unknown SSA issuer caused a directory fetch")
	}
	// Directory keys unreachable: 503.
	dirSrv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) })
	h2 := f.handler(t, "obie", func(h *Handler) {
		h.Directories = []Directory{{Issuer: testDirectory, JWKSURL: dirSrv.URL + "/directory.jwks"}}
	})
	w := post(t, h2, f.requestJWT("obie", nil, nil))
	expectError(t, w, http.StatusServiceUnavailable, codeUnavailable, "software statement")
	if w.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}
