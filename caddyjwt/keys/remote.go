package keys

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Defaults for RemoteOptions.
const (
	// DefaultMinRefresh is the default shortest interval between scheduled refreshes.
	DefaultMinRefresh = 5 * time.Minute

	// DefaultMaxRefresh is the default longest interval between scheduled refreshes.
	DefaultMaxRefresh = 24 * time.Hour

	// DefaultMaxStale is how long, by default, the last good keys stay in use past their
	// refresh interval while fetches fail.
	DefaultMaxStale = time.Hour

	// DefaultMissCooldown is the default shortest time between two refreshes forced by tokens
	// that name an unknown kid.
	DefaultMissCooldown = 30 * time.Second

	// DefaultFetchTimeout is the default bound on one fetch, body included.
	DefaultFetchTimeout = 10 * time.Second

	// DefaultRetryMin is the default first delay of the exponential backoff after a failed fetch.
	DefaultRetryMin = time.Second

	// DefaultRetryMax is the default longest delay of the exponential backoff after failed fetches.
	DefaultRetryMax = 5 * time.Minute

	// DefaultMaxSize is the default cap on a fetched body, in bytes (1 MiB).
	DefaultMaxSize = 1 << 20
)

// maxNegative and maxNegativeKID bound the negative cache of unknown kids (the kids come from
// requests). A kid that does not fit is still answered from the cooldown alone: the cache spares
// waiting for a refresh in flight, the cooldown spares the fetch.
const (
	maxNegative    = 4096
	maxNegativeKID = 256
)

// RemoteOptions configures a Remote. The zero value is usable: https only, the defaults above,
// time.Now and no logging.
type RemoteOptions struct {
	// Discovery makes the URL an OpenID Connect discovery document (OpenID Connect Discovery 1.0
	// §4), or an issuer URL to which /.well-known/openid-configuration is appended. The
	// document's issuer must equal Issuer, and its jwks_uri is where the keys are fetched from.
	Discovery bool

	// Issuer is the iss the keys are trusted for. Required with Discovery; otherwise only used
	// in log lines.
	Issuer string

	// AllowHTTP, when not nil, reports whether plain http may be used for a URL. Nil means https
	// only. A discovered jwks_uri is checked with it too.
	AllowHTTP func(*url.URL) bool

	// MinRefresh and MaxRefresh clamp the refresh interval that the response's
	// Cache-Control max-age (or Expires) asks for. Defaults: 5m and 24h.
	MinRefresh, MaxRefresh time.Duration

	// MaxStale is how long the last good key set stays in use past its refresh interval while
	// fetches fail; past it, Keys reports the keys unavailable. Zero means DefaultMaxStale and
	// a negative value means never stale: keys are unusable as soon as their interval ends.
	MaxStale time.Duration

	// MissCooldown is the shortest time between two refreshes forced by unknown kids; an
	// unknown kid is remembered as unknown for that long. Default: 30s.
	MissCooldown time.Duration

	// FetchTimeout bounds one fetch, body included. Default: 10s.
	FetchTimeout time.Duration

	// RetryMin and RetryMax bound the exponential backoff (with jitter) after a failed fetch.
	// Defaults: 1s and 5m, and never more than MinRefresh.
	RetryMin, RetryMax time.Duration

	// MaxSize caps a response body in bytes, after decompression. Default: 1 MiB.
	MaxSize int64

	// RootCAs, when not nil, are the only certificate authorities trusted to verify the server
	// certificate of the URL (and of a discovered jwks_uri), such as an issuer's private CA.
	// Nil means the system roots (where SSL_CERT_FILE applies).
	RootCAs *x509.CertPool

	// Fetcher fetches documents. Nil means an HTTP fetcher with the rules above (https, no
	// redirect to another host, size cap, timeouts).
	Fetcher Fetcher

	// Clock returns the current time. Nil means time.Now.
	Clock func() time.Time

	// Logger receives fetch failures (warn), skipped keys (one warning per fetch) and key
	// changes (info). Nil means no logging.
	Logger *zap.Logger

	// OnFetch, when set, is called after every fetch attempt with its result, for metrics.
	OnFetch func(FetchResult)

	// OnForcedRefresh, when set, is called when an unknown kid starts a forced refresh.
	OnForcedRefresh func()
}

// Remote is a Source of keys fetched from a JWKS URL, or through an OpenID Connect discovery
// document, and refreshed in the background.
//
// Keys never does I/O: it returns the last good key set, or an *UnavailableError when no fetch
// has succeeded yet or the keys are stale beyond MaxStale. Refreshes follow the response's
// Cache-Control max-age (clamped, with jitter); failures are retried with exponential backoff.
// A successful fetch replaces the whole set, so a kid that the issuer removed is dropped at once;
// a key that is the same as before (kid, algorithms and public key) keeps its Key value, and with
// it what was prepared for its verifications.
//
// KeysAfterMiss handles a kid the set does not hold: it forces at most one de-duplicated refresh
// per MissCooldown and remembers unknown kids for that window. The request that finds the kid
// unknown waits for that refresh (bounded by its context), so that the first tokens signed with
// a rotated-in key verify; every other request in the window is answered at once.
//
// A Remote does nothing until Start; Close stops its goroutine and waits for it.
type Remote struct {
	url     string // the configured URL (discovery: the document URL)
	opts    RemoteOptions
	fetcher Fetcher
	logger  *zap.Logger
	now     func() time.Time

	state atomic.Pointer[remoteState]

	ctx     context.Context
	cancel  context.CancelFunc
	started atomic.Bool
	wg      sync.WaitGroup
	kick    chan struct{} // a forced refresh is wanted; buffered, sent under mu

	mu         sync.Mutex
	inflight   *flight              // the refresh running now, or about to run
	lastForced time.Time            // when the last forced refresh was started
	negative   map[string]time.Time // unknown kids and until when they are known unknown
}

// remoteState is one immutable snapshot of what a Remote knows; only the refresh goroutine
// stores new ones.
type remoteState struct {
	set         *Set
	jwksURL     string // where the keys came from (differs from url for discovery)
	lastSuccess time.Time
	freshUntil  time.Time // end of the refresh interval of the last good fetch
	lastAttempt time.Time
	nextAttempt time.Time
	lastErr     error
	failures    int // consecutive
}

// flight is one refresh that requests may wait for.
type flight struct {
	done chan struct{}
}

// errNotFetched is the cause reported before the first fetch has finished.
var errNotFetched = errors.New("keys not fetched yet")

// errNotRefreshed is the cause of staleness when no refresh was even tried (a closed Remote).
var errNotRefreshed = errors.New("keys not refreshed")

// NewRemote checks the URL and options and returns a Remote that is not started yet.
func NewRemote(rawURL string, opts RemoteOptions) (*Remote, error) {
	opts.setDefaults()
	u, err := checkURL(rawURL, opts.AllowHTTP)
	if err != nil {
		return nil, err
	}
	if opts.Discovery {
		if opts.Issuer == "" {
			return nil, errors.New("discovery needs the issuer it must name")
		}
		u = discoveryURL(u)
	}
	r := &Remote{
		url:      u.String(),
		opts:     opts,
		fetcher:  opts.Fetcher,
		logger:   opts.Logger,
		now:      opts.Clock,
		kick:     make(chan struct{}, 1),
		negative: make(map[string]time.Time),
	}
	if r.fetcher == nil {
		r.fetcher = newHTTPFetcher(opts)
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.state.Store(&remoteState{lastErr: errNotFetched})
	return r, nil
}

func (o *RemoteOptions) setDefaults() {
	if o.MinRefresh <= 0 {
		o.MinRefresh = DefaultMinRefresh
	}
	if o.MaxRefresh <= 0 {
		o.MaxRefresh = DefaultMaxRefresh
	}
	o.MaxRefresh = max(o.MaxRefresh, o.MinRefresh)
	if o.MaxStale == 0 {
		o.MaxStale = DefaultMaxStale
	} else if o.MaxStale < 0 {
		o.MaxStale = 0
	}
	if o.MissCooldown <= 0 {
		o.MissCooldown = DefaultMissCooldown
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = DefaultFetchTimeout
	}
	if o.RetryMin <= 0 {
		o.RetryMin = DefaultRetryMin
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	o.RetryMax = max(min(o.RetryMax, o.MinRefresh), o.RetryMin)
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
}

// URL is the URL the Remote fetches first: the JWKS URL, or the discovery document's URL.
func (r *Remote) URL() string { return r.url }

// Start starts the background refresh; the first fetch begins at once. It never blocks on the
// network, and calling it again does nothing.
func (r *Remote) Start() {
	if r.ctx.Err() != nil || !r.started.CompareAndSwap(false, true) {
		return
	}
	r.wg.Add(1)
	go r.run()
}

// Close stops the background refresh, cancelling a fetch in flight, and waits until the
// goroutine has exited. Keys keeps answering from the last state.
func (r *Remote) Close() {
	r.cancel()
	r.wg.Wait()
	if c, ok := r.fetcher.(interface{ closeIdle() }); ok {
		c.closeIdle()
	}
}

// Keys returns the current key set without any I/O, or an *UnavailableError when there is none
// yet or it is stale beyond MaxStale.
func (r *Remote) Keys() (*Set, error) {
	st := r.state.Load()
	now := r.now()
	if st.set == nil {
		return nil, &UnavailableError{Origin: r.url, RetryAfter: r.retryAfter(st, now), Err: st.lastErr}
	}
	if deadline := st.freshUntil.Add(r.opts.MaxStale); now.After(deadline) {
		cause := st.lastErr
		if cause == nil {
			cause = errNotRefreshed
		}
		return nil, &UnavailableError{
			Origin:     r.url,
			RetryAfter: r.retryAfter(st, now),
			Err:        fmt.Errorf("keys stale for %s (bound %s): %w", now.Sub(st.freshUntil).Round(time.Second), r.opts.MaxStale, cause),
		}
	}
	return st.set, nil
}

// retryAfter is when a fetch will have been tried again: at least a second, at most RetryMax.
func (r *Remote) retryAfter(st *remoteState, now time.Time) time.Duration {
	d := st.nextAttempt.Sub(now)
	if st.nextAttempt.IsZero() {
		d = r.opts.RetryMin
	}
	return min(max(d.Round(time.Second), time.Second), max(r.opts.RetryMax, time.Second))
}

// KeysAfterMiss is called when a token names a kid that Keys did not hold. It forces at most
// one refresh per MissCooldown, shared by every request that misses meanwhile, and waits for
// it until ctx is done. A kid that is still unknown after a refresh is remembered as unknown
// until the cooldown ends, and answered without waiting.
func (r *Remote) KeysAfterMiss(ctx context.Context, unverifiedKID string) (*Set, error) {
	set, err := r.Keys()
	if err != nil {
		return nil, err
	}
	if _, ok := set.Lookup(unverifiedKID); ok {
		return set, nil // a refresh landed in between
	}
	now := r.now()
	r.mu.Lock()
	if until, ok := r.negative[unverifiedKID]; ok && now.Before(until) {
		r.mu.Unlock()
		return set, nil
	}
	f := r.inflight
	if f == nil {
		if !r.started.Load() || r.ctx.Err() != nil ||
			(!r.lastForced.IsZero() && now.Sub(r.lastForced) < r.opts.MissCooldown) {
			r.rememberLocked(unverifiedKID, now)
			r.mu.Unlock()
			return set, nil
		}
		r.lastForced = now
		f = &flight{done: make(chan struct{})}
		r.inflight = f
		select {
		case r.kick <- struct{}{}:
		default:
		}
		if r.opts.OnForcedRefresh != nil {
			r.opts.OnForcedRefresh()
		}
	}
	r.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
	case <-r.ctx.Done():
	}
	set, err = r.Keys()
	if err != nil {
		return nil, err
	}
	if _, ok := set.Lookup(unverifiedKID); !ok {
		r.mu.Lock()
		r.rememberLocked(unverifiedKID, r.now())
		r.mu.Unlock()
	}
	return set, nil
}

// rememberLocked puts kid in the negative cache until the current cooldown window ends.
func (r *Remote) rememberLocked(kid string, now time.Time) {
	until := r.lastForced.Add(r.opts.MissCooldown)
	if !until.After(now) || len(kid) > maxNegativeKID {
		return
	}
	if len(r.negative) >= maxNegative {
		for k, t := range r.negative {
			if !t.After(now) {
				delete(r.negative, k)
			}
		}
		if len(r.negative) >= maxNegative {
			return
		}
	}
	r.negative[kid] = until
}

// run is the refresh loop: one goroutine per started Remote, exiting when it is closed.
func (r *Remote) run() {
	defer r.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		forced := false
		select {
		case <-r.ctx.Done():
			return
		case <-timer.C:
		case <-r.kick:
			forced = true
		}
		f := r.beginFlight()
		r.safeRefresh(forced)
		r.endFlight(f)
		timer.Reset(max(r.state.Load().nextAttempt.Sub(r.now()), 0))
	}
}

// beginFlight returns the flight that waiting requests see: the one a miss created, or a new one.
func (r *Remote) beginFlight() *flight {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight == nil {
		r.inflight = &flight{done: make(chan struct{})}
	}
	return r.inflight
}

// endFlight releases the waiters. A kick sent for this flight is dropped: it has been served.
func (r *Remote) endFlight(f *flight) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inflight = nil
	select {
	case <-r.kick:
	default:
	}
	close(f.done)
}

// safeRefresh runs one refresh; a panic is logged with its stack and counted as a failed fetch,
// and the loop goes on.
func (r *Remote) safeRefresh(forced bool) {
	defer func() {
		if v := recover(); v != nil {
			r.logger.Error("jwks refresh panicked",
				zap.String("url", r.url), zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
			r.failed(*r.state.Load(), r.now(), &FetchError{Result: FetchPanic, URL: r.url, Err: fmt.Errorf("panic: %v", v)})
		}
	}()
	r.refresh(forced)
}

// refresh fetches the keys once (the discovery document first, unless a forced refresh already
// knows the jwks_uri) and stores the outcome.
func (r *Remote) refresh(forced bool) {
	now := r.now()
	st := *r.state.Load()
	st.lastAttempt = now
	ctx, cancel := context.WithTimeout(r.ctx, r.opts.FetchTimeout)
	defer cancel()

	jwksURL, lifetime := st.jwksURL, time.Duration(0)
	if !r.opts.Discovery {
		jwksURL = r.url
	} else if !forced || jwksURL == "" {
		var err error
		if jwksURL, lifetime, err = r.discover(ctx); err != nil {
			r.failed(st, now, err)
			return
		}
	}
	ks, jwksLifetime, err := r.fetchKeys(ctx, jwksURL)
	if err != nil {
		r.failed(st, now, err)
		return
	}
	if lifetime == 0 || (jwksLifetime > 0 && jwksLifetime < lifetime) {
		lifetime = jwksLifetime
	}
	// An unchanged key keeps its Key value, and with it what was prepared for its verifications.
	r.succeeded(st, now, jwksURL, NewSet(keepPrepared(st.set, ks)...), lifetime)
}

// fetchKeys fetches and parses a JWK Set (FetchJWKS); it is a failure when no key in it is usable.
func (r *Remote) fetchKeys(ctx context.Context, jwksURL string) ([]Key, time.Duration, error) {
	usable, skipped, lifetime, err := FetchJWKS(ctx, r.fetcher, jwksURL)
	if len(skipped) > 0 {
		r.logger.Warn("jwks: keys skipped",
			zap.String("url", jwksURL), zap.Int("skipped", len(skipped)), zap.Int("usable", len(usable)),
			zap.Errors("reasons", skipped))
	}
	if err != nil {
		return nil, 0, err
	}
	return usable, lifetime, nil
}

// succeeded stores a new key set and schedules the next refresh ahead of the interval's end.
func (r *Remote) succeeded(st remoteState, now time.Time, jwksURL string, set *Set, lifetime time.Duration) {
	r.report(FetchOK)
	interval := min(max(lifetime, r.opts.MinRefresh), r.opts.MaxRefresh)
	recovered := st.failures > 0 && st.set != nil
	r.logKeyChanges(st.set, set, jwksURL, recovered)
	st.set = set
	st.jwksURL = jwksURL
	st.lastSuccess = now
	st.freshUntil = now.Add(interval)
	// Refresh between 80% and 95% of the interval, so that the keys are refreshed before they
	// go stale and the gateway's instances do not all ask at once.
	st.nextAttempt = now.Add(time.Duration(float64(interval) * (0.80 + 0.15*rand.Float64())))
	st.lastErr = nil
	st.failures = 0
	r.state.Store(&st)
}

// failed records a failed fetch and schedules a retry with exponential backoff and jitter.
func (r *Remote) failed(st remoteState, now time.Time, err error) {
	r.report(ResultOf(err))
	st.lastErr = err
	st.failures++
	d := r.opts.RetryMin
	for i := 1; i < st.failures && d < r.opts.RetryMax; i++ { // at most 63 rounds: d doubles
		if d > r.opts.RetryMax/2 {
			d = r.opts.RetryMax // doubling would pass RetryMax (or overflow)
		} else {
			d *= 2
		}
	}
	d = min(d, r.opts.RetryMax)
	d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1)) // jitter: [d/2, d]
	next := now.Add(d)
	if !st.nextAttempt.IsZero() && st.nextAttempt.After(now) && st.nextAttempt.Before(next) {
		next = st.nextAttempt // a forced refresh that failed does not postpone the schedule
	}
	st.nextAttempt = next
	r.state.Store(&st)
	r.logger.Warn("jwks fetch failed",
		zap.String("url", r.url), zap.String("issuer", r.opts.Issuer), zap.Stringer("result", ResultOf(err)),
		zap.Int("consecutive_failures", st.failures), zap.Duration("retry_in", next.Sub(now)),
		zap.Bool("serving_stale", st.set != nil), zap.Error(err))
}

// report calls OnFetch, if set.
func (r *Remote) report(res FetchResult) {
	if r.opts.OnFetch != nil {
		r.opts.OnFetch(res)
	}
}

// logKeyChanges logs the kids that appeared and disappeared (kids come from the issuer, not from
// requests, so they may be logged).
func (r *Remote) logKeyChanges(old, cur *Set, jwksURL string, recovered bool) {
	var added, removed []string
	for _, k := range cur.Keys() {
		if _, ok := old.Lookup(k.ID); !ok {
			added = append(added, k.ID)
		}
	}
	for _, k := range old.Keys() {
		if _, ok := cur.Lookup(k.ID); !ok {
			removed = append(removed, k.ID)
		}
	}
	if len(added) == 0 && len(removed) == 0 && !recovered {
		return
	}
	r.logger.Info("jwks keys updated",
		zap.String("url", jwksURL), zap.String("issuer", r.opts.Issuer),
		zap.Strings("added", added), zap.Strings("removed", removed), zap.Bool("recovered", recovered))
}

// RemoteStatus is a snapshot of a Remote's state, for readiness views and metrics.
type RemoteStatus struct {
	// URL is the configured URL (for discovery, the document URL).
	URL string

	// JWKSURL is where the keys were last fetched from.
	JWKSURL string

	// Issuer is the issuer the keys are for, when known.
	Issuer string

	// Ready reports whether Keys returns a key set now.
	Ready bool

	// KeyIDs are the kids of the current set.
	KeyIDs []string

	// LastSuccess is when the last good fetch ended; zero before the first.
	LastSuccess time.Time

	// LastAttempt is when the last fetch started; zero before the first.
	LastAttempt time.Time

	// NextAttempt is when the next fetch is scheduled.
	NextAttempt time.Time

	// FreshUntil is the end of the refresh interval of the last good fetch.
	FreshUntil time.Time

	// StaleFor is how long the current time is past FreshUntil, or 0 while the keys are fresh.
	StaleFor time.Duration

	// LastError is the last fetch error while fetches fail; empty otherwise.
	LastError string

	// ConsecutiveFailures counts the failed fetches since the last good one.
	ConsecutiveFailures int
}

// Status returns a snapshot of the Remote's state.
func (r *Remote) Status() RemoteStatus {
	st := r.state.Load()
	now := r.now()
	s := RemoteStatus{
		URL:                 r.url,
		JWKSURL:             st.jwksURL,
		Issuer:              r.opts.Issuer,
		LastSuccess:         st.lastSuccess,
		LastAttempt:         st.lastAttempt,
		NextAttempt:         st.nextAttempt,
		FreshUntil:          st.freshUntil,
		ConsecutiveFailures: st.failures,
	}
	for _, k := range st.set.Keys() {
		s.KeyIDs = append(s.KeyIDs, k.ID)
	}
	slices.Sort(s.KeyIDs)
	if st.set != nil && now.After(st.freshUntil) {
		s.StaleFor = now.Sub(st.freshUntil)
	}
	if st.lastErr != nil {
		s.LastError = st.lastErr.Error()
	}
	_, err := r.Keys()
	s.Ready = err == nil
	return s
}

// Interface guards
var (
	_ Source      = (*Remote)(nil)
	_ MissHandler = (*Remote)(nil)
)
