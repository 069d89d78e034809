package dcrhandler

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
)

func TestAllowlist(t *testing.T) {
	a, err := parseAllowlist([]string{"keystore.example", "127.0.0.1:8443", "[::1]:9443", "http://localhost:9000", "https://Mixed.Example"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url       string
		allowed   bool
		plainHTTP bool
	}{
		{"https://keystore.example/a.jwks", true, false},
		{"https://KEYSTORE.example:8443/a.jwks", true, false},
		{"https://mixed.example/x", true, false},
		{"https://sub.keystore.example/a.jwks", false, false},
		{"https://keystore.example.evil/a.jwks", false, false},
		{"http://keystore.example/a.jwks", false, false},
		{"https://127.0.0.1:8443/x", true, false},
		{"https://127.0.0.1/x", false, false},
		{"https://127.0.0.1:8444/x", false, false},
		{"https://[::1]:9443/x", true, false},
		{"http://localhost:9000/x", true, true},
		{"http://localhost:9001/x", false, false},
		{"https://localhost:9000/x", true, false}, // an http:// entry allows https too
		{"https://user@keystore.example/x", false, false},
		{"ftp://keystore.example/x", false, false},
	} {
		u, _ := url.Parse(tc.url)
		if err := a.check(u); (err == nil) != tc.allowed {
			t.Errorf("check(%s) = %v, want allowed %v", tc.url, err, tc.allowed)
		}
		if got := a.plainHTTP(u); got != tc.plainHTTP {
			t.Errorf("plainHTTP(%s) = %v, want %v", tc.url, got, tc.plainHTTP)
		}
	}
	for _, bad := range []string{"", "https://", "host/path", "a b", "user@host"} {
		if _, err := parseAllowlist([]string{bad}); err == nil {
			t.Errorf("parseAllowlist(%q) accepted", bad)
		}
	}
}

// loopbackFetcher is the project's fetcher with plain http allowed to 127.0.0.1, as an
// http://127.0.0.1 jwks_uri_allow entry allows it.
func loopbackFetcher(t *testing.T) *keys.HTTPFetcher {
	t.Helper()
	allow, err := parseAllowlist([]string{"http://127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	f := keys.NewHTTPFetcher(keys.RemoteOptions{AllowHTTP: allow.plainHTTP, FetchTimeout: fetchTimeout})
	t.Cleanup(f.CloseIdleConnections)
	return f
}

// TestSoftwareJWKSFaultIsStatementsOrHosts checks the split that the answer depends on: what the
// software got wrong is a 400, what the host cannot do right now a 503. The fetch hygiene itself
// is the keys package's, tested there.
func TestSoftwareJWKSFaultIsStatementsOrHosts(t *testing.T) {
	_, soft, _, _ := testKeys(t)
	good := jwks(t, soft)
	var otherHits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		_, _ = w.Write(good)
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/good":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(good)
		case "/same-host-redirect":
			http.Redirect(w, r, "/good", http.StatusFound)
		case "/cross-host-redirect":
			http.Redirect(w, r, other.URL+"/good", http.StatusFound)
		case "/huge":
			_, _ = w.Write([]byte(`{"keys":[` + strings.Repeat(" ", keys.DefaultMaxSize) + `]}`))
		case "/empty":
			_, _ = w.Write([]byte(`{"keys":[]}`))
		case "/private":
			_, _ = w.Write([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI"}]}`))
		case "/lone-jwk":
			_, _ = w.Write(good[len(`{"keys":[`) : len(good)-len(`]}`)])
		case "/html":
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write(good)
		case "/missing":
			http.NotFound(w, r)
		case "/busy":
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL + "/jwks"
	closed.Close()

	c := newSoftwareJWKS(loopbackFetcher(t), nil)
	for _, tc := range []struct {
		name        string
		url         string
		ok          bool
		unreachable bool
	}{
		{"a JWK Set is fetched", srv.URL + "/good", true, false},
		{"a redirect on the same host is followed", srv.URL + "/same-host-redirect", true, false},
		{"a redirect to another host is the statement's fault", srv.URL + "/cross-host-redirect", false, false},
		{"a body over 1 MiB is the statement's fault", srv.URL + "/huge", false, false},
		{"an empty set is the statement's fault", srv.URL + "/empty", false, false},
		{"a set of secret keys only is the statement's fault", srv.URL + "/private", false, false},
		{"a lone JWK is not a JWK Set", srv.URL + "/lone-jwk", false, false},
		{"an HTML page is the statement's fault", srv.URL + "/html", false, false},
		{"404 is the statement's fault", srv.URL + "/missing", false, false},
		{"429 is the host's trouble", srv.URL + "/busy", false, true},
		{"503 is the host's trouble", srv.URL + "/down", false, true},
		{"a refused connection is the host's trouble", closedURL, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, err := c.Keys(context.Background(), tc.url)
			if tc.ok {
				if err != nil || set.Len() != 1 {
					t.Fatalf("Keys() = %v, %v; want one key", set, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Keys() = %v, want an error", set)
			}
			if got := unreachable(err); got != tc.unreachable {
				t.Fatalf("unreachable(%v) = %v, want %v", err, got, tc.unreachable)
			}
		})
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("a redirect to another host was followed (%d requests)", n)
	}
	if unreachable(context.DeadlineExceeded) != true || unreachable(context.Canceled) != true {
		t.Error("a request given up is not the host's trouble")
	}
}

func TestSoftwareJWKSRefreshesOnUnknownKidAtMostOncePerCooldown(t *testing.T) {
	_, soft, other, _ := testKeys(t)
	var hits atomic.Int64
	body := atomic.Pointer[[]byte]{}
	first := jwks(t, soft)
	body.Store(&first)
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write(*body.Load())
	}))
	defer srv.Close()
	now := time.Unix(1_760_000_000, 0)
	c := newSoftwareJWKS(loopbackFetcher(t), func() time.Time { return now })
	ctx := context.Background()
	if _, err := c.Keys(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	rotated := jwks(t, soft, other)
	body.Store(&rotated)
	set, _ := c.KeysAfterMiss(ctx, srv.URL) // within the cooldown of the first fetch: no refetch
	if _, ok := set.Lookup(other.kid); ok || hits.Load() != 1 {
		t.Fatalf("refetched within the cooldown (hits %d)", hits.Load())
	}
	now = now.Add(jwksMissCooldown)
	set, _ = c.KeysAfterMiss(ctx, srv.URL)
	if _, ok := set.Lookup(other.kid); !ok || hits.Load() != 2 {
		t.Fatalf("rotated key not found after the cooldown (hits %d)", hits.Load())
	}
	for range 10 {
		_, _ = c.KeysAfterMiss(ctx, srv.URL)
	}
	if hits.Load() != 2 {
		t.Errorf("unknown kids caused %d fetches, want at most one per cooldown", hits.Load()-2)
	}
	// Through a failure, the last good set is served until jwksMaxStale.
	status.Store(http.StatusInternalServerError)
	now = now.Add(jwksTTL)
	if set, err := c.Keys(ctx, srv.URL); err != nil || set.Len() != 2 {
		t.Fatalf("stale set not served through an outage: %v", err)
	}
	now = now.Add(jwksMaxStale + time.Minute)
	if _, err := c.Keys(ctx, srv.URL); err == nil || !unreachable(err) {
		t.Fatalf("a set stale beyond jwksMaxStale: error %v, want the outage", err)
	}
}

// TestDirectoryJWKSURL checks that a directory's jwks_url is a lease on the shared JWKS cache:
// nothing fetched at provision or on the request path, 503 with Retry-After until the cache has
// the keys, the directory's keys afterwards, and the lease given back at Cleanup.
func TestDirectoryJWKSURL(t *testing.T) {
	f := newFixture(t)
	dirJWKS := jwks(t, f.dir)
	var hits atomic.Int64
	dirSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(dirJWKS)
	}))
	defer dirSrv.Close()
	h := f.handler(t, "obie", func(h *Handler) {
		h.Directories = []Directory{{Issuer: testDirectory, JWKSURL: dirSrv.URL + "/directory.jwks"}}
	})
	remote := f.lastRemote()
	if remote.URL() != dirSrv.URL+"/directory.jwks" {
		t.Fatalf("leased %s, want the directory's jwks_url", remote.URL())
	}

	// Before the shared cache has fetched (the config has not started it): 503, no fetch.
	w := post(t, h, f.requestJWT("obie", nil, nil))
	expectError(t, w, http.StatusServiceUnavailable, codeUnavailable, "software statement")
	if w.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the directory's keys were fetched %d times outside the shared cache", n)
	}

	// Once the cache has the keys, statements verify with them.
	remote.Start()
	for i := 0; ; i++ { // bounded wait for the background fetch; no timing is asserted
		if _, err := remote.Keys(); err == nil {
			break
		}
		if i == 2000 {
			t.Fatal("the shared cache never fetched the directory's keys")
		}
		time.Sleep(5 * time.Millisecond)
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

	if err := h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if !remote.released.Load() {
		t.Error("Cleanup did not give the shared cache back")
	}
}

// TestAllowlistRefusesHostsTheClientWouldDialUnderAnotherName: Go's HTTP client dials the IDNA
// (punycode) form of a host name, so a host that only compares equal to an entry after Unicode
// case mapping (U+0130 lower-cases to "i", but dials as xn--idp-8dc.example) must not pass.
func TestAllowlistRefusesHostsTheClientWouldDialUnderAnotherName(t *testing.T) {
	a, err := parseAllowlist([]string{"idp.example", "keys.example"})
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{
		"https://\u0130dp.example/jwks",    // dotted capital I: lower-cases to idp.example
		"https://\u212Aeys.example/jwks",   // Kelvin sign: lower-cases to keys.example
		"https://idp.example./jwks",        // trailing dot: another name as written
		"https://xn--idp-8dc.example/jwks", // the punycode form of the first
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("parse %q: %v", raw, err)
		}
		if err := a.check(u); err == nil {
			t.Errorf("check(%q) allowed a host that is not on the list as written", raw)
		}
	}
	if _, err := parseAllowlist([]string{"\u0130dp.example"}); err == nil {
		t.Error("parseAllowlist accepted a non-ASCII host; entries must be written in punycode")
	}
}

// TestSoftwareJWKSCallerThatGivesUpDoesNotFailTheNextOne: a registration whose client hangs up
// during the software JWKS fetch must not leave the fetch's failure cached for the next
// registration of that software (which would be answered 503 for the error cooldown).
func TestSoftwareJWKSCallerThatGivesUpDoesNotFailTheNextOne(t *testing.T) {
	_, soft, _, _ := testKeys(t)
	good := jwks(t, soft)
	var calls atomic.Int64
	fetcher := keys.FetcherFunc(func(ctx context.Context, u string) (keys.Document, error) {
		if calls.Add(1) == 1 {
			<-ctx.Done() // the first caller hangs up mid-fetch
			return keys.Document{}, &keys.FetchError{Result: keys.FetchTimeout, URL: u, Err: ctx.Err()}
		}
		return keys.Document{Body: good}, nil
	})
	now := time.Unix(1_760_000_000, 0)
	c := newSoftwareJWKS(fetcher, func() time.Time { return now })
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Keys(gone, "https://keystore.example/a.jwks"); err == nil {
		t.Fatal("a caller that gave up got keys")
	}
	set, err := c.Keys(context.Background(), "https://keystore.example/a.jwks")
	if err != nil {
		t.Fatalf("next caller: %v, want the keys (the first caller's hang-up is not the host's failure)", err)
	}
	if _, ok := set.Lookup(soft.kid); !ok {
		t.Errorf("next caller's set lacks %s", soft.kid)
	}
}
