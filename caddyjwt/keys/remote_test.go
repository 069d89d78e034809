package keys_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/jwttest"
)

const (
	jwksURL      = "https://issuer.example/jwks"
	discoveryDoc = "https://issuer.example/.well-known/openid-configuration"
	issuerName   = "https://issuer.example"
)

// fakeIssuer is a fake Fetcher: per URL, a function that answers, and a record of the calls.
type fakeIssuer struct {
	mu      sync.Mutex
	answers map[string]func() (keys.Document, error)
	calls   map[string][]time.Time
	block   chan struct{} // when set, fetches wait for it to be closed (or their context)
	started chan struct{} // when set, receives one value as each fetch starts
}

func newFakeIssuer() *fakeIssuer {
	return &fakeIssuer{answers: map[string]func() (keys.Document, error){}, calls: map[string][]time.Time{}}
}

func (f *fakeIssuer) Fetch(ctx context.Context, url string) (keys.Document, error) {
	f.mu.Lock()
	f.calls[url] = append(f.calls[url], time.Now())
	answer, block, started := f.answers[url], f.block, f.started
	f.mu.Unlock()
	if started != nil {
		started <- struct{}{}
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return keys.Document{}, &keys.FetchError{Result: keys.FetchTimeout, URL: url, Err: ctx.Err()}
		}
	}
	if answer == nil {
		return keys.Document{}, &keys.FetchError{Result: keys.FetchNetwork, URL: url, Err: errors.New("connection refused")}
	}
	return answer()
}

// serve makes url answer with body and a freshness lifetime.
func (f *fakeIssuer) serve(url string, body []byte, lifetime time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[url] = func() (keys.Document, error) { return keys.Document{Body: body, Lifetime: lifetime}, nil }
}

// down makes url fail like a refused connection.
func (f *fakeIssuer) down(url string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.answers, url)
}

func (f *fakeIssuer) count(url string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls[url])
}

func (f *fakeIssuer) times(url string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.calls[url]...)
}

// signers makes n EC test keys, generated outside any synctest bubble.
func signers(t *testing.T, n int) []*jwttest.Signer {
	t.Helper()
	out := make([]*jwttest.Signer, n)
	for i := range out {
		out[i] = jwttest.NewEC(t, "ES256")
		out[i].KID = fmt.Sprintf("key-%d", i)
	}
	return out
}

// newRemote builds and starts a Remote on the fake issuer; it is closed at the end of the test.
func newRemote(t *testing.T, f *fakeIssuer, opts keys.RemoteOptions) *keys.Remote {
	t.Helper()
	opts.Fetcher = f
	u := jwksURL
	if opts.Discovery {
		u = issuerName
		opts.Issuer = issuerName
	}
	r, err := keys.NewRemote(u, opts)
	if err != nil {
		t.Fatalf("NewRemote() error = %v", err)
	}
	r.Start()
	t.Cleanup(r.Close)
	return r
}

func mustUnavailable(t *testing.T, r *keys.Remote) *keys.UnavailableError {
	t.Helper()
	set, err := r.Keys()
	ue, ok := errors.AsType[*keys.UnavailableError](err)
	if !ok {
		t.Fatalf("Keys() = %v, %v; want *UnavailableError", set, err)
	}
	if ue.RetryAfter < time.Second {
		t.Errorf("RetryAfter = %v, want at least 1s", ue.RetryAfter)
	}
	return ue
}

func mustHave(t *testing.T, r *keys.Remote, kids ...string) {
	t.Helper()
	set, err := r.Keys()
	if err != nil {
		t.Fatalf("Keys() error = %v, want keys %v", err, kids)
	}
	for _, kid := range kids {
		if _, ok := set.Lookup(kid); !ok {
			t.Errorf("Keys() lacks kid %q", kid)
		}
	}
}

func TestRemoteUnavailableUntilFirstFetch(t *testing.T) {
	ks := signers(t, 1)
	synctest.Test(t, func(t *testing.T) {
		f := newFakeIssuer()
		f.serve(jwksURL, jwttest.JWKS(t, ks...), time.Hour)
		r, err := keys.NewRemote(jwksURL, keys.RemoteOptions{Fetcher: f})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		ue := mustUnavailable(t, r)
		if ue.Origin != jwksURL {
			t.Errorf("Origin = %q, want %q", ue.Origin, jwksURL)
		}
		if f.count(jwksURL) != 0 {
			t.Fatal("a Remote that is not started must not fetch")
		}
		r.Start()
		synctest.Wait()
		mustHave(t, r, "key-0")
		if got := f.count(jwksURL); got != 1 {
			t.Errorf("fetches after start = %d, want 1", got)
		}
	})
}

func TestRemoteStartsWithIssuerDownThenRecovers(t *testing.T) {
	ks := signers(t, 1)
	synctest.Test(t, func(t *testing.T) {
		f := newFakeIssuer()
		start := time.Now()
		r := newRemote(t, f, keys.RemoteOptions{})
		synctest.Wait()
		mustUnavailable(t, r)

		// Retries back off exponentially with jitter, starting within seconds.
		time.Sleep(20 * time.Second)
		calls := f.times(jwksURL)
		if len(calls) < 4 {
			t.Fatalf("fetches in 20s while down = %d, want at least 4 (retries start within seconds)", len(calls))
		}
		if d := calls[1].Sub(start); d < 500*time.Millisecond || d > time.Second {
			t.Errorf("first retry after %v, want within [0.5s, 1s]", d)
		}
		for i := 2; i < len(calls); i++ {
			if calls[i].Sub(calls[i-1]) < calls[i-1].Sub(calls[i-2])/2 {
				t.Errorf("retry %d came sooner than backoff allows: %v", i, calls)
			}
		}
		if st := r.Status(); st.Ready || st.LastError == "" || st.ConsecutiveFailures != len(calls) {
			t.Errorf("Status() = %+v, want not ready with the last error and %d failures", st, len(calls))
		}

		// The issuer comes back: keys arrive without a restart.
		f.serve(jwksURL, jwttest.JWKS(t, ks...), time.Hour)
		time.Sleep(DefaultRetryMaxForTest)
		mustHave(t, r, "key-0")
		if st := r.Status(); !st.Ready || st.LastError != "" || st.ConsecutiveFailures != 0 {
			t.Errorf("Status() after recovery = %+v, want ready without error", st)
		}
	})
}

// DefaultRetryMaxForTest is long enough for any backoff step to have fired.
const DefaultRetryMaxForTest = keys.DefaultRetryMax + time.Second

func TestRemoteRefreshFollowsMaxAgeWithinBounds(t *testing.T) {
	ks := signers(t, 1)
	for _, tc := range []struct {
		name     string
		lifetime time.Duration
		interval time.Duration // after clamping
	}{
		{"max-age inside the bounds is followed", time.Hour, time.Hour},
		{"short max-age is raised to min_refresh", time.Second, keys.DefaultMinRefresh},
		{"no caching information means min_refresh", 0, keys.DefaultMinRefresh},
		{"long max-age is cut to max_refresh", 72 * time.Hour, keys.DefaultMaxRefresh},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeIssuer()
				f.serve(jwksURL, jwttest.JWKS(t, ks...), tc.lifetime)
				start := time.Now()
				r := newRemote(t, f, keys.RemoteOptions{})
				synctest.Wait()
				if st := r.Status(); !st.FreshUntil.Equal(start.Add(tc.interval)) {
					t.Errorf("FreshUntil = %v, want start+%v", st.FreshUntil.Sub(start), tc.interval)
				}
				time.Sleep(tc.interval)
				calls := f.times(jwksURL)
				if len(calls) != 2 {
					t.Fatalf("fetches within one interval = %d, want 2 (initial and one refresh)", len(calls))
				}
				// The refresh comes ahead of the interval's end, jittered between 80% and 95%.
				lo, hi := start.Add(tc.interval*80/100), start.Add(tc.interval*95/100)
				if calls[1].Before(lo) || calls[1].After(hi) {
					t.Errorf("refresh at %v, want between %v and %v", calls[1].Sub(start), lo.Sub(start), hi.Sub(start))
				}
			})
		})
	}
}

func TestRemoteOutageAfterWarmServesStaleUpToBound(t *testing.T) {
	ks := signers(t, 1)
	for _, tc := range []struct {
		name     string
		maxStale time.Duration
		bound    time.Duration
	}{
		{"default bound is one hour", 0, keys.DefaultMaxStale},
		{"configured bound", 10 * time.Minute, 10 * time.Minute},
		{"never stale", -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeIssuer()
				f.serve(jwksURL, jwttest.JWKS(t, ks...), time.Hour)
				r := newRemote(t, f, keys.RemoteOptions{MaxStale: tc.maxStale})
				synctest.Wait()
				mustHave(t, r, "key-0")
				freshUntil := r.Status().FreshUntil

				f.down(jwksURL)
				time.Sleep(time.Until(freshUntil)) // the refresh-ahead fails, and its retries
				synctest.Wait()
				mustHave(t, r, "key-0")
				if st := r.Status(); st.ConsecutiveFailures == 0 || st.StaleFor != 0 || !st.Ready {
					t.Errorf("Status() at interval end = %+v, want failures, not stale yet, ready", st)
				}
				if tc.bound > 0 {
					time.Sleep(tc.bound - time.Second)
					mustHave(t, r, "key-0")
					if st := r.Status(); st.StaleFor != tc.bound-time.Second {
						t.Errorf("StaleFor = %v, want %v", st.StaleFor, tc.bound-time.Second)
					}
				}
				time.Sleep(time.Until(freshUntil.Add(tc.bound)) + time.Millisecond)
				ue := mustUnavailable(t, r)
				if !errors.Is(ue, ue.Err) || ue.Err == nil {
					t.Errorf("UnavailableError.Err = %v, want the cause", ue.Err)
				}
				if st := r.Status(); st.Ready || st.StaleFor <= tc.bound {
					t.Errorf("Status() past the bound = %+v, want not ready, stale beyond %v", st, tc.bound)
				}

				// Recovery after the bound: keys are usable again at the next fetch.
				f.serve(jwksURL, jwttest.JWKS(t, ks...), time.Hour)
				time.Sleep(DefaultRetryMaxForTest)
				mustHave(t, r, "key-0")
			})
		})
	}
}

func TestRemoteRotation(t *testing.T) {
	ks := signers(t, 3)
	synctest.Test(t, func(t *testing.T) {
		f := newFakeIssuer()
		f.serve(jwksURL, jwttest.JWKS(t, ks[0]), time.Hour)
		r := newRemote(t, f, keys.RemoteOptions{})
		synctest.Wait()
		before := f.count(jwksURL)

		// The issuer adds key-1 and signs with it: the first token waits for one forced fetch.
		f.serve(jwksURL, jwttest.JWKS(t, ks[0], ks[1]), time.Hour)
		set, err := r.KeysAfterMiss(t.Context(), "key-1")
		if err != nil {
			t.Fatalf("KeysAfterMiss() error = %v", err)
		}
		if _, ok := set.Lookup("key-1"); !ok {
			t.Fatal("KeysAfterMiss() after rotation lacks the new kid")
		}
		if got := f.count(jwksURL) - before; got != 1 {
			t.Errorf("forced fetches = %d, want 1", got)
		}

		// The issuer removes key-0: the next successful fetch drops it at once.
		time.Sleep(keys.DefaultMissCooldown)
		f.serve(jwksURL, jwttest.JWKS(t, ks[1], ks[2]), time.Hour)
		if _, err := r.KeysAfterMiss(t.Context(), "key-2"); err != nil {
			t.Fatal(err)
		}
		set, _ = r.Keys()
		if _, ok := set.Lookup("key-0"); ok {
			t.Error("a kid the issuer removed is still accepted after a successful fetch")
		}
		mustHave(t, r, "key-1", "key-2")
	})
}

func TestRemoteUnknownKidsBoundedByCooldown(t *testing.T) {
	ks := signers(t, 1)
	synctest.Test(t, func(t *testing.T) {
		f := newFakeIssuer()
		f.serve(jwksURL, jwttest.JWKS(t, ks...), time.Hour)
		forced := 0
		r := newRemote(t, f, keys.RemoteOptions{OnForcedRefresh: func() { forced++ }})
		synctest.Wait()
		start := time.Now()
		before := f.count(jwksURL)

		// 10 000 tokens with random kids over five minutes of virtual time.
		const n = 10000
		step := 5 * time.Minute / n
		for i := range n {
			set, err := r.KeysAfterMiss(t.Context(), fmt.Sprintf("random-%d", i))
			if err != nil {
				t.Fatalf("KeysAfterMiss() error = %v", err)
			}
			if _, ok := set.Lookup(fmt.Sprintf("random-%d", i)); ok {
				t.Fatal("a random kid was found")
			}
			time.Sleep(step)
		}
		elapsed := time.Since(start)
		maxForced := int(elapsed/keys.DefaultMissCooldown) + 1
		if got := f.count(jwksURL) - before; got > maxForced {
			t.Errorf("fetches for %d unknown kids in %v = %d, want at most %d (one per cooldown)", n, elapsed, got, maxForced)
		}
		if forced > maxForced || forced == 0 {
			t.Errorf("forced refreshes = %d, want between 1 and %d", forced, maxForced)
		}
	})
}

func TestRemoteMissesShareOneFetch(t *testing.T) {
	ks := signers(t, 2)
	synctest.Test(t, func(t *testing.T) {
		f := newFakeIssuer()
		f.serve(jwksURL, jwttest.JWKS(t, ks[0]), time.Hour)
		r := newRemote(t, f, keys.RemoteOptions{})
		synctest.Wait()
		before := f.count(jwksURL)

		f.mu.Lock()
		f.block = make(chan struct{})
		f.mu.Unlock()
		f.serve(jwksURL, jwttest.JWKS(t, ks...), time.Hour)
		var wg sync.WaitGroup
		found := make([]bool, 100)
		for i := range found {
			wg.Go(func() {
				set, err := r.KeysAfterMiss(t.Context(), "key-1")
				_, found[i] = set.Lookup("key-1")
				if err != nil {
					t.Errorf("KeysAfterMiss() error = %v", err)
				}
			})
		}
		synctest.Wait() // all hundred wait on the one fetch in flight
		close(f.block)
		wg.Wait()
		for i, ok := range found {
			if !ok {
				t.Fatalf("request %d did not get the new key", i)
			}
		}
		if got := f.count(jwksURL) - before; got != 1 {
			t.Errorf("fetches for 100 concurrent misses = %d, want 1", got)
		}
	})
}

func TestRemoteMissWaitIsBoundedByContext(t *testing.T) {
	ks := signers(t, 1)
	synctest.Test(t, func(t *testing.T) {
		f := newFakeIssuer()
		f.serve(jwksURL, jwttest.JWKS(t, ks...), time.Hour)
		r := newRemote(t, f, keys.RemoteOptions{})
		synctest.Wait()

		f.mu.Lock()
		f.block = make(chan struct{}) // the issuer hangs
		f.mu.Unlock()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		start := time.Now()
		set, err := r.KeysAfterMiss(ctx, "key-9")
		if err != nil {
			t.Fatalf("KeysAfterMiss() error = %v, want the current keys", err)
		}
		if waited := time.Since(start); waited != 2*time.Second {
			t.Errorf("waited %v, want the context's 2s", waited)
		}
		if _, ok := set.Lookup("key-0"); !ok {
			t.Error("the current keys were not returned")
		}
		// The same kid is now answered at once, without waiting.
		start = time.Now()
		if _, err := r.KeysAfterMiss(ctx, "key-9"); err != nil || time.Since(start) != 0 {
			t.Errorf("second miss waited %v (err %v), want no wait", time.Since(start), err)
		}
		close(f.block)
	})
}

func TestRemoteFailedFetchKeepsLastGoodSet(t *testing.T) {
	ks := signers(t, 1)
	for _, tc := range []struct {
		name   string
		body   string
		result keys.FetchResult
	}{
		{"invalid JSON", `{"keys": [`, keys.FetchInvalid},
		{"empty key set", `{"keys":[]}`, keys.FetchNoUsableKeys},
		{"lone JWK instead of a set", `{"kty":"EC"}`, keys.FetchInvalid},
		{"duplicate member names", `{"keys":[],"keys":[]}`, keys.FetchInvalid},
		{"only an encryption key", `{"keys":[{"kty":"EC","use":"enc","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`, keys.FetchNoUsableKeys},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeIssuer()
				f.serve(jwksURL, jwttest.JWKS(t, ks...), time.Minute)
				var results []keys.FetchResult
				r := newRemote(t, f, keys.RemoteOptions{OnFetch: func(res keys.FetchResult) { results = append(results, res) }})
				synctest.Wait()
				f.serve(jwksURL, []byte(tc.body), time.Minute)
				time.Sleep(keys.DefaultMinRefresh)
				mustHave(t, r, "key-0")
				if len(results) < 2 || results[0] != keys.FetchOK || results[1] != tc.result {
					t.Errorf("fetch results = %v, want [ok %v ...]", results, tc.result)
				}
			})
		})
	}
}

func TestRemoteWarnsOncePerFetchForSkippedKeys(t *testing.T) {
	ks := signers(t, 2)
	enc := ks[1].JWK(t, false)
	enc["use"] = "enc"
	body, err := json.Marshal(map[string]any{"keys": []any{ks[0].JWK(t, false), enc}})
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zapcore.WarnLevel)
		f := newFakeIssuer()
		f.serve(jwksURL, body, time.Hour)
		r := newRemote(t, f, keys.RemoteOptions{Logger: zap.New(core)})
		synctest.Wait()
		mustHave(t, r, "key-0")
		for range 100 {
			if _, err := r.Keys(); err != nil {
				t.Fatal(err)
			}
		}
		if got := logs.FilterMessage("jwks: keys skipped").Len(); got != 1 {
			t.Errorf("skipped-key warnings after one fetch and 100 lookups = %d, want 1", got)
		}
	})
}

func TestRemoteRecoversFromPanickingFetcher(t *testing.T) {
	ks := signers(t, 1)
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zapcore.ErrorLevel)
		f := newFakeIssuer()
		f.mu.Lock()
		f.answers[jwksURL] = func() (keys.Document, error) { panic("boom") }
		f.mu.Unlock()
		var results []keys.FetchResult
		r := newRemote(t, f, keys.RemoteOptions{Logger: zap.New(core), OnFetch: func(res keys.FetchResult) { results = append(results, res) }})
		synctest.Wait()
		if len(results) != 1 || results[0] != keys.FetchPanic {
			t.Errorf("results = %v, want [panic]", results)
		}
		if e := logs.FilterMessage("jwks refresh panicked").All(); len(e) != 1 || e[0].ContextMap()["stack"] == nil {
			t.Errorf("panic log entries = %v, want one with a stack", e)
		}
		f.serve(jwksURL, jwttest.JWKS(t, ks...), time.Hour)
		time.Sleep(DefaultRetryMaxForTest)
		mustHave(t, r, "key-0")
	})
}

func TestRemoteCloseStopsFetchInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeIssuer()
		f.block = make(chan struct{}) // never closed: only Close can end the fetch
		f.started = make(chan struct{}, 1)
		r, err := keys.NewRemote(jwksURL, keys.RemoteOptions{Fetcher: f})
		if err != nil {
			t.Fatal(err)
		}
		r.Start()
		<-f.started
		r.Close() // returns only when the goroutine has exited; synctest fails on a leak
		r.Start() // a closed Remote does not start again
		synctest.Wait()
		if got := f.count(jwksURL); got != 1 {
			t.Errorf("fetches = %d, want 1", got)
		}
		if _, err := r.KeysAfterMiss(t.Context(), "any"); err == nil {
			t.Error("KeysAfterMiss() on a closed Remote without keys must report them unavailable")
		}
	})
}

func TestRemoteDiscovery(t *testing.T) {
	ks := signers(t, 2)
	const keysAt = "https://keys.example/jwks"
	for _, tc := range []struct {
		name   string
		doc    string
		result keys.FetchResult
	}{
		{"issuer matches: its jwks_uri is used", `{"issuer":"https://issuer.example","jwks_uri":"` + keysAt + `"}`, keys.FetchOK},
		{"issuer differs: refused", `{"issuer":"https://evil.example","jwks_uri":"` + keysAt + `"}`, keys.FetchIssuerMismatch},
		{"issuer with trailing slash differs: refused", `{"issuer":"https://issuer.example/","jwks_uri":"` + keysAt + `"}`, keys.FetchIssuerMismatch},
		{"no jwks_uri", `{"issuer":"https://issuer.example"}`, keys.FetchInvalid},
		{"plain http jwks_uri", `{"issuer":"https://issuer.example","jwks_uri":"http://keys.example/jwks"}`, keys.FetchInvalid},
		{"duplicate issuer member", `{"issuer":"https://evil.example","issuer":"https://issuer.example","jwks_uri":"` + keysAt + `"}`, keys.FetchInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeIssuer()
				f.serve(discoveryDoc, []byte(tc.doc), time.Hour)
				f.serve(keysAt, jwttest.JWKS(t, ks[0]), time.Hour)
				var results []keys.FetchResult
				r := newRemote(t, f, keys.RemoteOptions{Discovery: true, OnFetch: func(res keys.FetchResult) { results = append(results, res) }})
				synctest.Wait()
				if len(results) != 1 || results[0] != tc.result {
					t.Fatalf("results = %v, want [%v]", results, tc.result)
				}
				if tc.result != keys.FetchOK {
					mustUnavailable(t, r)
					if f.count(keysAt) != 0 {
						t.Error("keys were fetched from a discovery document that was refused")
					}
					return
				}
				mustHave(t, r, "key-0")
				if st := r.Status(); st.JWKSURL != keysAt || st.URL != discoveryDoc {
					t.Errorf("Status() URLs = %q, %q; want %q, %q", st.URL, st.JWKSURL, discoveryDoc, keysAt)
				}
				// A forced refresh re-reads only the key set; the schedule re-reads both.
				f.serve(keysAt, jwttest.JWKS(t, ks...), time.Hour)
				if _, err := r.KeysAfterMiss(t.Context(), "key-1"); err != nil {
					t.Fatal(err)
				}
				mustHave(t, r, "key-1")
				if f.count(discoveryDoc) != 1 || f.count(keysAt) != 2 {
					t.Errorf("fetches: document %d, keys %d; want 1 and 2", f.count(discoveryDoc), f.count(keysAt))
				}
				time.Sleep(time.Hour)
				if f.count(discoveryDoc) != 2 {
					t.Errorf("document fetches after one interval = %d, want 2", f.count(discoveryDoc))
				}
			})
		})
	}
}

func TestNewRemoteRejectsUnsafeURLs(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  string
		opts keys.RemoteOptions
	}{
		{"plain http without opt-in", "http://issuer.example/jwks", keys.RemoteOptions{}},
		{"relative URL", "/jwks", keys.RemoteOptions{}},
		{"other scheme", "file:///etc/jwks.json", keys.RemoteOptions{}},
		{"user info", "https://user:secret@issuer.example/jwks", keys.RemoteOptions{}},
		{"discovery without issuer", "https://issuer.example", keys.RemoteOptions{Discovery: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r, err := keys.NewRemote(tc.url, tc.opts); err == nil {
				r.Close()
				t.Fatalf("NewRemote(%q) succeeded, want an error", tc.url)
			}
		})
	}
}

func TestDiscoveryURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://issuer.example", "https://issuer.example/.well-known/openid-configuration"},
		{"https://issuer.example/", "https://issuer.example/.well-known/openid-configuration"},
		{"https://issuer.example/tenant/", "https://issuer.example/tenant/.well-known/openid-configuration"},
		{"https://issuer.example/.well-known/openid-configuration", "https://issuer.example/.well-known/openid-configuration"},
		{"https://issuer.example/.well-known/oauth-authorization-server", "https://issuer.example/.well-known/oauth-authorization-server"},
	} {
		r, err := keys.NewRemote(tc.in, keys.RemoteOptions{Discovery: true, Issuer: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if r.URL() != tc.want {
			t.Errorf("discovery URL for %q = %q, want %q", tc.in, r.URL(), tc.want)
		}
		r.Close()
	}
}

func TestVerifierWithRemoteKeys(t *testing.T) {
	ks := signers(t, 2)
	synctest.Test(t, func(t *testing.T) {
		f := newFakeIssuer()
		f.serve(jwksURL, jwttest.JWKS(t, ks[0]), time.Hour)
		f.block = make(chan struct{}) // the first fetch hangs until released
		forced := 0
		r := newRemote(t, f, keys.RemoteOptions{OnForcedRefresh: func() { forced++ }})
		v, err := verify.New(verify.Policy{Issuers: []verify.Issuer{{Name: issuerName, Sources: []keys.Source{r}}}})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		good := ks[0].Token(t, jwttest.Claims(issuerName, "api", "alice", now), nil)

		// Before the first fetch has finished: keys unavailable (503), with a retry hint.
		synctest.Wait()
		_, err = v.Verify(t.Context(), []byte(good))
		if d, ok := verify.IsUnavailable(err); !ok || d < time.Second {
			t.Fatalf("Verify() before the first fetch = %v, want keys unavailable with Retry-After", err)
		}
		f.mu.Lock()
		close(f.block)
		f.block = nil
		f.mu.Unlock()
		synctest.Wait()
		if _, err := v.Verify(t.Context(), []byte(good)); err != nil {
			t.Fatalf("Verify() with warm keys = %v", err)
		}
		fetches := f.count(jwksURL)

		// Random issuers never cause a fetch.
		{
			for i := range 10000 {
				tok := forged(t, "key-0", jwttest.Claims(fmt.Sprintf("https://random-%d.example", i), "api", "x", now))
				if _, err := v.Verify(t.Context(), []byte(tok)); verify.ReasonOf(err) != verify.ReasonUnknownIssuer {
					t.Fatalf("Verify(random issuer) = %v, want unknown issuer", err)
				}
			}
			if got := f.count(jwksURL) - fetches; got != 0 || forced != 0 {
				t.Errorf("fetches for 10000 random issuers = %d (forced %d), want 0", got, forced)
			}
		}

		// Random kids of a valid issuer: fetches bounded by the cooldown.
		{
			start := time.Now()
			for i := range 10000 {
				tok := forged(t, fmt.Sprintf("random-%d", i), jwttest.Claims(issuerName, "api", "x", now))
				if _, err := v.Verify(t.Context(), []byte(tok)); verify.ReasonOf(err) != verify.ReasonUnknownKey {
					t.Fatalf("Verify(random kid) = %v, want unknown kid", err)
				}
				time.Sleep(10 * time.Millisecond) // 100 s of virtual time in all
			}
			maxFetches := int(time.Since(start)/keys.DefaultMissCooldown) + 1
			if got := f.count(jwksURL) - fetches; got > maxFetches || got != forced {
				t.Errorf("fetches for 10000 random kids in %v = %d (forced %d), want at most %d", time.Since(start), got, forced, maxFetches)
			}
		}
	})
}

// forged is a well-formed ES256 token whose signature is garbage: what an attacker sends to make
// the gateway look keys up. It is rejected before any signature check.
func forged(t *testing.T, kid string, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(map[string]any{"alg": "ES256", "kid": kid, "typ": "JWT"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return jwttest.Encode(h) + "." + jwttest.Encode(p) + "." + jwttest.Encode(make([]byte, 64))
}

// TestRemoteBackoffNeverDropsBelowRetryMin: however many fetches fail in a row, the retry
// interval stays within [RetryMin/2, RetryMax]; the exponential step must not overflow and wrap
// to a short interval that hammers the issuer.
func TestRemoteBackoffNeverDropsBelowRetryMin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeIssuer()
		retryMin := time.Duration(1<<34 + 8) // ~17.2s; shifted left 30 times it wraps to ~8.6s
		newRemote(t, f, keys.RemoteOptions{RetryMin: retryMin, RetryMax: 5 * time.Minute})
		time.Sleep(4 * time.Hour) // ~50 failed fetches at most 5 minutes apart
		calls := f.times(jwksURL)
		if len(calls) < 40 {
			t.Fatalf("only %d fetches in 4h while down", len(calls))
		}
		for i := 1; i < len(calls); i++ {
			if d := calls[i].Sub(calls[i-1]); d < retryMin/2 || d > 5*time.Minute {
				t.Errorf("retry %d after %v, want within [%v, 5m]", i, d, retryMin/2)
			}
		}
	})
}
