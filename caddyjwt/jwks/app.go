// Package jwks is obgate's process-wide cache of remote keys, as a Caddy app: one refresher per
// JWKS or discovery URL, shared by every handler and every config that names it, kept across
// config reloads. It adds a readiness view to Caddy's admin API (GET /jwks/) and Prometheus
// metrics to Caddy's registry. The fetching and caching itself is keys.Remote.
package jwks

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/internal/trustedca"
)

func init() {
	caddy.RegisterModule(App{})
}

// pool holds one *entry per remote key location (URL, kind and options) for the whole process.
// A value outlives the config that created it as long as another config still uses it, so a
// reload keeps warm keys and the running refresher.
var pool = caddy.NewUsagePool()

// App holds the defaults for remote keys (jwks_url and discovery) and starts their background
// refresh when the config starts. It is loaded on demand by the modules that use remote keys,
// so configuring it is only needed to change the defaults.
//
// The caches themselves are process-wide and survive config reloads: a reload that names the
// same URL with the same settings keeps its keys and its refresher. Changing a setting here
// makes new caches for the URLs (a fresh fetch each) and retires the old ones.
type App struct {
	// MinRefresh is the shortest interval between scheduled refreshes, whatever the response's
	// Cache-Control max-age says. Default: 5m.
	MinRefresh caddy.Duration `json:"min_refresh,omitempty"`

	// MaxRefresh is the longest interval between scheduled refreshes. Default: 24h.
	MaxRefresh caddy.Duration `json:"max_refresh,omitempty"`

	// MaxStale is how long the last good keys stay in use past their refresh interval while
	// fetches fail; past it, tokens of the issuer are answered 503 with Retry-After. 0 means
	// never stale. Default: 1h.
	MaxStale *caddy.Duration `json:"max_stale,omitempty"`

	// MissCooldown is the shortest time between two refreshes of one URL forced by tokens that
	// name an unknown kid; such a kid is remembered as unknown for that long. Default: 30s.
	MissCooldown caddy.Duration `json:"miss_cooldown,omitempty"`

	// FetchTimeout bounds one fetch, body included. Default: 10s.
	FetchTimeout caddy.Duration `json:"fetch_timeout,omitempty"`

	// AllowHTTP lists the URLs that may be fetched over plain http, for tests on loopback: an
	// exact URL, or an origin such as http://127.0.0.1:8080 for every URL on it (a discovered
	// jwks_uri included). Every other URL must be https. Default: none.
	AllowHTTP []string `json:"allow_http,omitempty"`

	// TrustedCA lists PEM files of certificate authorities that verify the TLS certificates of
	// jwks_url and discovery servers (a discovered jwks_uri included), such as an issuer's private
	// CA. When set, only these are trusted, not the system roots; an issuer block's own
	// trusted_ca replaces this list for its URLs. Default: the system roots (where SSL_CERT_FILE
	// applies).
	TrustedCA []string `json:"trusted_ca,omitempty"`

	allowHTTP []*url.URL
	trusted   trustedca.Set
	run       *appRun
	logger    *zap.Logger
}

// appRun is what one config's app instance tracks: the leases acquired through it.
type appRun struct {
	mu      sync.Mutex
	leases  []*Lease // started by Start
	started bool
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "jwks",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision applies the defaults, checks the allow_http list and registers the metrics.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.run = new(appRun)
	for _, d := range []struct {
		name string
		v    caddy.Duration
	}{{"min_refresh", a.MinRefresh}, {"max_refresh", a.MaxRefresh}, {"miss_cooldown", a.MissCooldown}, {"fetch_timeout", a.FetchTimeout}} {
		if d.v < 0 {
			return fmt.Errorf("%s: must not be negative", d.name)
		}
	}
	if a.MaxStale != nil && *a.MaxStale < 0 {
		return errors.New("max_stale: must not be negative")
	}
	if a.MinRefresh > 0 && a.MaxRefresh > 0 && a.MaxRefresh < a.MinRefresh {
		return errors.New("max_refresh: must not be shorter than min_refresh")
	}
	for _, raw := range a.AllowHTTP {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "http" || u.Host == "" || u.User != nil {
			return fmt.Errorf("allow_http %q: want an http URL or origin such as http://127.0.0.1:8080", raw)
		}
		a.allowHTTP = append(a.allowHTTP, u)
	}
	var err error
	if a.trusted, err = trustedca.Load("trusted_ca", a.TrustedCA); err != nil {
		return err
	}
	registerMetrics(ctx.GetMetricsRegistry())
	return nil
}

// Start starts the refresh of every cache this config uses that is not running yet. A cache
// kept from the previous config is already running and keeps its keys.
func (a *App) Start() error {
	a.run.mu.Lock()
	defer a.run.mu.Unlock()
	a.run.started = true
	for _, l := range a.run.leases {
		l.e.remote.Start()
	}
	return nil
}

// Stop does nothing: a cache stops when the last config that uses it is cleaned up.
func (a *App) Stop() error { return nil }

// Spec names a remote key location.
type Spec struct {
	// Kind is "jwks_url" (URL is a JWK Set) or "discovery" (URL is an OpenID Connect discovery
	// document or an issuer URL).
	Kind string
	// URL is the configured URL.
	URL string
	// Issuer is the iss the keys are for. Required for discovery, whose document must name it.
	Issuer string
	// TrustedCA, when not empty, lists PEM files of the certificate authorities trusted for this
	// URL instead of the app's TrustedCA (or the system roots).
	TrustedCA []string
}

// Lease is one user's hold on a shared cache. Release it when the module that acquired it is
// cleaned up; the cache stops when its last lease is released.
type Lease struct {
	e      *entry
	key    poolKey
	issuer string
	once   sync.Once
}

// Source returns the cache as a key source: a *keys.Remote, which is also a keys.MissHandler.
func (l *Lease) Source() keys.Source { return l.e.remote }

// Release gives the lease back; calling it again does nothing.
func (l *Lease) Release() {
	l.once.Do(func() {
		l.e.removeIssuer(l.issuer)
		if _, err := pool.Delete(l.key); err != nil {
			caddy.Log().Named("jwks").Error("releasing remote keys", zap.String("url", l.key.url), zap.Error(err))
		}
	})
}

// FromContext returns the jwks app of the config being provisioned, loading it with its
// defaults when the config does not configure it.
func FromContext(ctx caddy.Context) (a *App, err error) {
	defer func() {
		if recover() != nil { // a bare caddy.Context without a config
			a, err = nil, errors.New("remote keys need a running Caddy config")
		}
	}()
	v, err := ctx.App("jwks")
	if err != nil {
		return nil, err
	}
	return v.(*App), nil
}

// Acquire returns a lease on the cache for spec, creating the cache if no config uses it yet.
// A new cache begins fetching when the config starts (never during `caddy validate`); a cache
// that another config already runs is shared as it is, keys and all.
func (a *App) Acquire(spec Spec) (*Lease, error) {
	switch spec.Kind {
	case "jwks_url", "discovery":
	default:
		return nil, fmt.Errorf("unknown kind of remote keys %q", spec.Kind)
	}
	cas := a.trusted
	if len(spec.TrustedCA) > 0 {
		var err error
		if cas, err = trustedca.Load("trusted_ca", spec.TrustedCA); err != nil {
			return nil, err
		}
	}
	key := a.poolKey(spec)
	key.trustedCA = cas.Digest
	v, _, err := pool.LoadOrNew(key, func() (caddy.Destructor, error) {
		return a.newEntry(spec, key, cas.Pool)
	})
	if err != nil {
		return nil, err
	}
	e := v.(*entry)
	e.addIssuer(spec.Issuer)
	l := &Lease{e: e, key: key, issuer: spec.Issuer}
	a.run.mu.Lock()
	a.run.leases = append(a.run.leases, l)
	if a.run.started {
		e.remote.Start()
	}
	a.run.mu.Unlock()
	return l, nil
}

// poolKey identifies a cache: what it fetches and every setting that changes how.
type poolKey struct {
	kind, url, issuer string
	allowHTTP         string
	minRefresh        time.Duration
	maxRefresh        time.Duration
	maxStale          time.Duration
	missCooldown      time.Duration
	fetchTimeout      time.Duration
	trustedCA         string // digest of the trusted CAs; "" for the system roots
}

func (a *App) poolKey(spec Spec) poolKey {
	k := poolKey{
		kind:         spec.Kind,
		url:          spec.URL,
		allowHTTP:    strings.Join(a.AllowHTTP, " "),
		minRefresh:   time.Duration(a.MinRefresh),
		maxRefresh:   time.Duration(a.MaxRefresh),
		missCooldown: time.Duration(a.MissCooldown),
		fetchTimeout: time.Duration(a.FetchTimeout),
	}
	if spec.Kind == "discovery" {
		k.issuer = spec.Issuer // the document must name it
	}
	if a.MaxStale != nil {
		k.maxStale = time.Duration(*a.MaxStale)
		if k.maxStale == 0 {
			k.maxStale = -1 // keys.RemoteOptions: negative means never stale
		}
	}
	return k
}

// allowList returns the AllowHTTP check for keys.RemoteOptions: an entry that is an origin allows
// every URL on it; any other entry allows exactly that URL.
func allowList(list []*url.URL) func(*url.URL) bool {
	if len(list) == 0 {
		return nil
	}
	return func(u *url.URL) bool {
		for _, au := range list {
			if !strings.EqualFold(au.Host, u.Host) {
				continue
			}
			if (au.Path == "" || au.Path == "/") && au.RawQuery == "" {
				return true
			}
			if au.String() == u.String() {
				return true
			}
		}
		return false
	}
}

// entry is a pooled cache: the Remote and the issuers that use it (for metrics and the admin view).
type entry struct {
	remote  *keys.Remote
	kind    string
	url     string
	metrics urlMetric

	mu      sync.Mutex
	issuers map[string]int
}

// newEntry builds a cache. It does not capture the config's context or logger: it outlives the
// config, and owns its own context inside keys.Remote.
func (a *App) newEntry(spec Spec, key poolKey, roots *x509.CertPool) (*entry, error) {
	m := urlMetrics(spec.URL)
	e := &entry{kind: spec.Kind, url: spec.URL, metrics: m, issuers: map[string]int{}}
	r, err := keys.NewRemote(spec.URL, keys.RemoteOptions{
		Discovery:       spec.Kind == "discovery",
		Issuer:          spec.Issuer,
		AllowHTTP:       allowList(slices.Clone(a.allowHTTP)),
		MinRefresh:      key.minRefresh,
		MaxRefresh:      key.maxRefresh,
		MaxStale:        key.maxStale,
		MissCooldown:    key.missCooldown,
		FetchTimeout:    key.fetchTimeout,
		RootCAs:         roots,
		Logger:          caddy.Log().Named("jwks"),
		OnFetch:         m.fetched,
		OnForcedRefresh: m.forced,
	})
	if err != nil {
		m.release()
		return nil, withFix(err, spec.URL)
	}
	e.remote = r
	return e, nil
}

// withFix adds to a refused plain-http URL the setting that allows it, so the config error names
// the fix.
func withFix(err error, raw string) error {
	if !errors.Is(err, keys.ErrPlainHTTP) {
		return err
	}
	origin := raw
	if u, perr := url.Parse(raw); perr == nil && u.Host != "" {
		origin = u.Scheme + "://" + u.Host
	}
	return fmt.Errorf("%w: use https, or allow this URL (a loopback test issuer, say) with the global option "+
		"jwks { allow_http %s } (JSON: apps.jwks.allow_http)", err, origin)
}

// Destruct stops the cache's refresher when its last user is gone, and retires its metrics.
func (e *entry) Destruct() error {
	e.remote.Close()
	e.metrics.release()
	return nil
}

func (e *entry) addIssuer(iss string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.issuers[iss]++
}

func (e *entry) removeIssuer(iss string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.issuers[iss]--; e.issuers[iss] <= 0 {
		delete(e.issuers, iss)
	}
}

// issuerList returns the issuers that use the cache, sorted.
func (e *entry) issuerList() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, 0, len(e.issuers))
	for iss := range e.issuers {
		out = append(out, iss)
	}
	slices.Sort(out)
	return out
}

// entries returns the pooled caches, sorted by URL and kind.
func entries() []*entry {
	var out []*entry
	pool.Range(func(_, v any) bool {
		out = append(out, v.(*entry))
		return true
	})
	slices.SortFunc(out, func(a, b *entry) int {
		if c := strings.Compare(a.url, b.url); c != 0 {
			return c
		}
		return strings.Compare(a.kind, b.kind)
	})
	return out
}

// Interface guards
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
	_ caddy.Destructor  = (*entry)(nil)
)
