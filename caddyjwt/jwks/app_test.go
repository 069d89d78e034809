package jwks

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/obgate/obgate/internal/jwttest"
)

// jwksServer is a loopback JWKS server that counts its requests.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int64
	body atomic.Pointer[[]byte]
}

func newJWKSServer(t *testing.T) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	k := jwttest.NewEC(t, "ES256")
	k.KID = "k1"
	b := jwttest.JWKS(t, k)
	s.body.Store(&b)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

// newApp provisions an app as a config would, with plain http allowed for the test server.
func newApp(t *testing.T, origin string) (*App, context.CancelFunc) {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	a := &App{AllowHTTP: []string{origin}}
	if err := a.Provision(ctx); err != nil {
		t.Fatalf("Provision() error = %v", err)
	}
	return a, cancel
}

// remoteGoroutines counts the refresh goroutines running in the process.
func remoteGoroutines() int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), "keys.(*Remote).run(")
}

// waitFor polls cond for up to five seconds (bounded): for work done by other goroutines.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestReloadSharesWarmCacheAndLastReleaseStopsIt(t *testing.T) {
	srv := newJWKSServer(t)
	spec := Spec{Kind: "jwks_url", URL: srv.URL + "/jwks", Issuer: "https://issuer.example"}
	before := remoteGoroutines()

	// Config 1 provisions, starts and fetches.
	app1, cancel1 := newApp(t, srv.URL)
	defer cancel1()
	l1, err := app1.Acquire(spec)
	if err != nil {
		t.Fatalf("Acquire() error = %v", err)
	}
	if srv.hits.Load() != 0 {
		t.Fatal("a cache fetched before its config started (caddy validate must not fetch)")
	}
	if err := app1.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first fetch", func() bool { _, err := l1.Source().Keys(); return err == nil })

	// Config 2 (a reload) names the same URL: same cache, warm at once, no new fetch.
	app2, cancel2 := newApp(t, srv.URL)
	defer cancel2()
	l2, err := app2.Acquire(spec)
	if err != nil {
		t.Fatal(err)
	}
	if l2.Source() != l1.Source() {
		t.Fatal("a reload got a new cache for the same URL and settings")
	}
	if _, err := l2.Source().Keys(); err != nil {
		t.Fatalf("keys after reload: %v, want warm keys", err)
	}
	if err := app2.Start(); err != nil {
		t.Fatal(err)
	}
	l1.Release() // config 1 is cleaned up after config 2 runs
	l1.Release() // twice is harmless
	if got := srv.hits.Load(); got != 1 {
		t.Errorf("fetches across the reload = %d, want 1", got)
	}
	if got := remoteGoroutines() - before; got != 1 {
		t.Errorf("refresh goroutines after reload = %d, want 1", got)
	}

	// The last user leaves: the refresher stops, nothing is left behind.
	l2.Release()
	if got := remoteGoroutines() - before; got != 0 {
		t.Errorf("refresh goroutines after the last release = %d, want 0", got)
	}
	if len(entries()) != 0 {
		t.Errorf("pool entries after the last release = %d, want 0", len(entries()))
	}
	if n := fetchSeries(t, spec.URL); n != 0 {
		t.Errorf("fetch metric series of the retired URL = %d, want 0", n)
	}
}

// fetchSeries counts the obgate_jwks_fetches_total series labelled with url.
func fetchSeries(t *testing.T, url string) int {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(metrics.fetches); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "url" && l.GetValue() == url {
					n++
				}
			}
		}
	}
	return n
}

func TestMetricSeriesLiveAsLongAsAnyCacheOfTheirURL(t *testing.T) {
	srv := newJWKSServer(t)
	spec := Spec{Kind: "jwks_url", URL: srv.URL + "/jwks"}
	app1, cancel1 := newApp(t, srv.URL)
	defer cancel1()
	app2, cancel2 := newApp(t, srv.URL)
	defer cancel2()
	app2.MissCooldown = caddy.Duration(time.Second) // another setting: a second cache of the URL
	l1, err := app1.Acquire(spec)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := app2.Acquire(spec)
	if err != nil {
		t.Fatal(err)
	}
	all := fetchSeries(t, spec.URL)
	if all == 0 {
		t.Fatal("no fetch series for a live cache")
	}
	l1.Release() // the old config's cache retires; the new one still reports under the URL
	if n := fetchSeries(t, spec.URL); n != all {
		t.Errorf("fetch series after one of two caches retired = %d, want %d", n, all)
	}
	l2.Release()
	if n := fetchSeries(t, spec.URL); n != 0 {
		t.Errorf("fetch series after the last cache retired = %d, want 0", n)
	}
}

func TestChangedSettingsMakeANewCache(t *testing.T) {
	srv := newJWKSServer(t)
	spec := Spec{Kind: "jwks_url", URL: srv.URL + "/jwks"}
	app1, cancel1 := newApp(t, srv.URL)
	defer cancel1()
	app2, cancel2 := newApp(t, srv.URL)
	defer cancel2()
	app2.MissCooldown = caddy.Duration(time.Second)
	l1, err := app1.Acquire(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Release()
	l2, err := app2.Acquire(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Release()
	if l1.Source() == l2.Source() {
		t.Error("different settings share one cache")
	}
}

func TestAcquireRefusesPlainHTTPNotListed(t *testing.T) {
	app, cancel := newApp(t, "http://127.0.0.1:1")
	defer cancel()
	for _, spec := range []Spec{
		{Kind: "jwks_url", URL: "http://127.0.0.1:2/jwks"},
		{Kind: "jwks_url", URL: "ftp://127.0.0.1/jwks"},
		{Kind: "discovery", URL: "https://issuer.example"}, // no issuer
		{Kind: "jku", URL: "https://issuer.example/jwks"},
	} {
		if l, err := app.Acquire(spec); err == nil {
			l.Release()
			t.Errorf("Acquire(%+v) succeeded, want an error", spec)
		}
	}
	if len(entries()) != 0 {
		t.Errorf("pool entries after failed acquisitions = %d, want 0", len(entries()))
	}
}

func TestAllowList(t *testing.T) {
	parse := func(s string) *url.URL { u, _ := url.Parse(s); return u }
	allow := allowList([]*url.URL{parse("http://127.0.0.1:8080"), parse("http://localhost:9/only/this")})
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"http://127.0.0.1:8080/jwks", true},
		{"http://127.0.0.1:8080/.well-known/openid-configuration", true},
		{"http://127.0.0.1:8081/jwks", false},
		{"http://localhost:9/only/this", true},
		{"http://localhost:9/other", false},
		{"http://127.0.0.1/jwks", false},
	} {
		if got := allow(parse(tc.url)); got != tc.want {
			t.Errorf("allowed(%s) = %v, want %v", tc.url, got, tc.want)
		}
	}
	if allowList(nil) != nil {
		t.Error("an empty list must mean https only (nil)")
	}
}

func TestProvisionRejectsBadSettings(t *testing.T) {
	neg := caddy.Duration(-1)
	for _, tc := range []struct {
		name string
		app  App
	}{
		{"allow_http with https", App{AllowHTTP: []string{"https://issuer.example"}}},
		{"allow_http without host", App{AllowHTTP: []string{"http://"}}},
		{"negative max_stale", App{MaxStale: &neg}},
		{"negative min_refresh", App{MinRefresh: -1}},
		{"max_refresh below min_refresh", App{MinRefresh: caddy.Duration(time.Hour), MaxRefresh: caddy.Duration(time.Minute)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			if err := tc.app.Provision(ctx); err == nil {
				t.Error("Provision() succeeded, want an error")
			}
		})
	}
}

func TestAdminViewAndMetrics(t *testing.T) {
	srv := newJWKSServer(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 500) }))
	defer down.Close()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	app := &App{AllowHTTP: []string{srv.URL, down.URL}}
	if err := app.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	up, err := app.Acquire(Spec{Kind: "jwks_url", URL: srv.URL + "/jwks", Issuer: "https://a.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Release()
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "keys", func() bool { _, err := up.Source().Keys(); return err == nil })

	check := func(wantStatus int, wantReady map[string]bool) []URLState {
		t.Helper()
		rec := httptest.NewRecorder()
		if err := serveStatus(rec, httptest.NewRequest(http.MethodGet, "/jwks/", nil)); err != nil {
			t.Fatal(err)
		}
		if rec.Code != wantStatus {
			t.Errorf("GET /jwks/ status = %d, want %d", rec.Code, wantStatus)
		}
		var states []URLState
		if err := json.Unmarshal(rec.Body.Bytes(), &states); err != nil {
			t.Fatalf("GET /jwks/ body: %v: %s", err, rec.Body)
		}
		if len(states) != len(wantReady) {
			t.Fatalf("GET /jwks/ lists %d URLs, want %d", len(states), len(wantReady))
		}
		for _, s := range states {
			if s.Ready != wantReady[s.URL] {
				t.Errorf("%s ready = %v, want %v", s.URL, s.Ready, wantReady[s.URL])
			}
		}
		return states
	}
	states := check(http.StatusOK, map[string]bool{srv.URL + "/jwks": true})
	if s := states[0]; len(s.Keys) != 1 || s.Keys[0] != "k1" || s.LastSuccess == nil || s.Issuers[0] != "https://a.example" {
		t.Errorf("admin state = %+v, want kid k1, a last success and the issuer", s)
	}

	bad, err := app.Acquire(Spec{Kind: "jwks_url", URL: down.URL + "/jwks", Issuer: "https://b.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Release()
	waitFor(t, "a failed fetch", func() bool { return bad.e.remote.Status().ConsecutiveFailures > 0 })
	states = check(http.StatusServiceUnavailable, map[string]bool{srv.URL + "/jwks": true, down.URL + "/jwks": false})
	if s := states[0]; s.URL == down.URL+"/jwks" && (s.LastError == "" || s.Kind != "jwks_url") {
		t.Errorf("admin state of the failing URL = %+v, want its last error", s)
	}

	reg := ctx.GetMetricsRegistry()
	for _, tc := range []struct {
		name   string
		labels map[string]string
		min    float64
		max    float64
	}{
		{"obgate_jwks_fetches_total", map[string]string{"url": srv.URL + "/jwks", "result": "ok"}, 1, 1e9},
		{"obgate_jwks_fetches_total", map[string]string{"url": down.URL + "/jwks", "result": "http_status"}, 1, 1e9},
		{"obgate_jwks_fetches_total", map[string]string{"url": down.URL + "/jwks", "result": "ok"}, 0, 0},
		{"obgate_jwks_ready", map[string]string{"url": srv.URL + "/jwks"}, 1, 1},
		{"obgate_jwks_ready", map[string]string{"url": down.URL + "/jwks"}, 0, 0},
		{"obgate_jwks_keys", map[string]string{"url": srv.URL + "/jwks", "issuer": "https://a.example"}, 1, 1},
		{"obgate_jwks_keys", map[string]string{"url": down.URL + "/jwks", "issuer": "https://b.example"}, 0, 0},
		{"obgate_jwks_staleness_seconds", map[string]string{"url": srv.URL + "/jwks"}, 0, 0},
		{"obgate_jwks_last_success_timestamp_seconds", map[string]string{"url": srv.URL + "/jwks"}, float64(time.Now().Add(-time.Minute).Unix()), float64(time.Now().Unix() + 1)},
		{"obgate_jwks_consecutive_failures", map[string]string{"url": down.URL + "/jwks"}, 1, 1e9},
	} {
		v, ok := metricValue(t, reg, tc.name, tc.labels)
		if !ok || v < tc.min || v > tc.max {
			t.Errorf("%s%v = %v (found %v), want between %v and %v", tc.name, tc.labels, v, ok, tc.min, tc.max)
		}
	}
}

// metricValue gathers reg and returns the value of the series name{labels}.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() error = %v (the metrics must be consistent)", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

func TestCaddyfileGlobalOption(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		fail           bool
	}{
		{"all options", `jwks {
			min_refresh 1m
			max_refresh 2h
			max_stale 0
			miss_cooldown 5s
			fetch_timeout 3s
			allow_http http://127.0.0.1:8080 http://127.0.0.1:9090/jwks
		}`, `{"min_refresh":60000000000,"max_refresh":7200000000000,"max_stale":0,"miss_cooldown":5000000000,"fetch_timeout":3000000000,"allow_http":["http://127.0.0.1:8080","http://127.0.0.1:9090/jwks"]}`, false},
		{"empty block", `jwks`, `{}`, false},
		{"unknown option", "jwks {\n\tfoo 1\n}", "", true},
		{"repeated option", "jwks {\n\tmax_stale 1h\n\tmax_stale 2h\n}", "", true},
		{"bad duration", "jwks {\n\tmax_stale soon\n}", "", true},
		{"allow_http without URL", "jwks {\n\tallow_http\n}", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a App
			err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in))
			if tc.fail {
				if err == nil {
					t.Fatal("UnmarshalCaddyfile() succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(a)
			if string(got) != tc.want {
				t.Errorf("JSON = %s, want %s", got, tc.want)
			}
		})
	}
}
