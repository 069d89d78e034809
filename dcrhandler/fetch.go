package dcrhandler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
)

// jwksFetcher gives the key set published at a JWKS URL. It is the seam where the project's
// process-wide JWKS cache (caddyjwt/keys remote sources) plugs in; until then httpFetcher is a
// small bounded cache of its own. Callers check the URL against the allowlist first: a fetcher
// connects to whatever it is given.
type jwksFetcher interface {
	// Keys returns the set at url, from cache when fresh. Errors are *fetchError.
	Keys(ctx context.Context, url string) (*keys.Set, error)
	// KeysAfterMiss is called when a token names a kid the set lacks: it may refetch once per
	// cooldown (a key rotation) and returns the set to retry with.
	KeysAfterMiss(ctx context.Context, url string) (*keys.Set, error)
}

// fetchError is why a JWKS could not be had. unreachable errors (connection, timeout, 5xx) are
// answered 503 with Retry-After; the others (4xx, not a JWKS, no usable key) are the software's
// fault and answered 400.
type fetchError struct {
	unreachable bool
	retryAfter  time.Duration
	err         error
}

func (e *fetchError) Error() string { return "jwks fetch: " + e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// Limits of the built-in fetcher.
const (
	maxJWKSBytes      = 1 << 20 // 1 MiB
	fetchTimeout      = 5 * time.Second
	jwksTTL           = 5 * time.Minute
	jwksMaxStale      = time.Hour
	jwksMissCooldown  = 10 * time.Second
	jwksErrorCooldown = 5 * time.Second
	maxJWKSEntries    = 1024
	maxRedirects      = 3
)

// httpFetcher fetches JWKS documents over HTTP with the hygiene of INTERFACE.md (timeouts, a
// 1 MiB cap, no redirect to another host or scheme, keys.ParseJWKs rules) and caches them per
// URL for jwksTTL. Concurrent misses on one URL share one fetch. The number of cached URLs is
// bounded. It is safe for concurrent use.
type httpFetcher struct {
	client *http.Client
	clock  func() time.Time

	mu      sync.Mutex
	entries map[string]*jwksEntry
}

type jwksEntry struct {
	set        *keys.Set
	fetched    time.Time // last success
	failed     time.Time // last failure
	lastErr    error
	lastForced time.Time
	inflight   chan struct{} // closed when the running fetch ends; nil when none runs
}

// newHTTPFetcher returns a fetcher using client, or a fresh client with the default transport's
// settings when client is nil.
func newHTTPFetcher(client *http.Client, clock func() time.Time) *httpFetcher {
	if client == nil {
		client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	c := *client
	c.Timeout = fetchTimeout
	c.CheckRedirect = sameOriginRedirect
	if clock == nil {
		clock = time.Now
	}
	return &httpFetcher{client: &c, clock: clock, entries: make(map[string]*jwksEntry)}
}

// sameOriginRedirect follows at most maxRedirects redirects, and only to the same scheme and host.
func sameOriginRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return http.ErrUseLastResponse
	}
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || !strings.EqualFold(req.URL.Host, first.Host) {
		return http.ErrUseLastResponse
	}
	return nil
}

// Keys returns the cached set when fresh, and fetches otherwise. Through a failed fetch, a set
// fetched less than jwksMaxStale ago is still returned.
func (f *httpFetcher) Keys(ctx context.Context, u string) (*keys.Set, error) {
	return f.get(ctx, u, false)
}

// KeysAfterMiss refetches at most once per jwksMissCooldown per URL.
func (f *httpFetcher) KeysAfterMiss(ctx context.Context, u string) (*keys.Set, error) {
	return f.get(ctx, u, true)
}

// peek returns the cached set without any I/O, if it is not stale beyond jwksMaxStale.
func (f *httpFetcher) peek(u string) (*keys.Set, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.entries[u]
	if e == nil || e.set == nil || f.clock().Sub(e.fetched) > jwksMaxStale {
		return nil, false
	}
	return e.set, true
}

func (f *httpFetcher) get(ctx context.Context, u string, forced bool) (*keys.Set, error) {
	for range 3 { // bounded: wait for at most a couple of fetches run by others
		f.mu.Lock()
		now := f.clock()
		e := f.entries[u]
		if e == nil {
			e = &jwksEntry{}
			f.evictLocked(now)
			f.entries[u] = e
		}
		fresh := e.set != nil && now.Sub(e.fetched) < jwksTTL
		if forced && now.Sub(e.fetched) >= jwksMissCooldown && now.Sub(e.lastForced) >= jwksMissCooldown {
			fresh = false // an unknown kid may be a rotation: refetch, at most once per cooldown
		}
		if fresh {
			set := e.set
			f.mu.Unlock()
			return set, nil
		}
		if e.inflight == nil && e.lastErr != nil && now.Sub(e.failed) < jwksErrorCooldown {
			// A failure moments ago: do not hammer the host; serve stale keys or the error.
			set, err := e.set, e.lastErr
			stale := set != nil && now.Sub(e.fetched) <= jwksMaxStale
			f.mu.Unlock()
			if stale {
				return set, nil
			}
			return nil, err
		}
		if e.inflight != nil {
			ch := e.inflight
			f.mu.Unlock()
			select {
			case <-ch:
				forced = false // the fetch we waited for counts as our refresh
				continue
			case <-ctx.Done():
				return nil, &fetchError{unreachable: true, err: ctx.Err()}
			}
		}
		ch := make(chan struct{})
		e.inflight = ch
		if forced {
			e.lastForced = now
		}
		f.mu.Unlock()

		set, err := f.fetch(ctx, u)

		f.mu.Lock()
		now = f.clock()
		if err == nil {
			e.set, e.fetched, e.lastErr = set, now, nil
		} else {
			e.failed, e.lastErr = now, err
			if e.set != nil && now.Sub(e.fetched) <= jwksMaxStale {
				set, err = e.set, nil
			}
		}
		e.inflight = nil
		close(ch)
		f.mu.Unlock()
		return set, err
	}
	return nil, &fetchError{unreachable: true, err: errors.New("key set fetch did not settle")}
}

// evictLocked makes room for one more entry: first entries stale beyond use, then any one idle
// entry. The loop is bounded by maxJWKSEntries.
func (f *httpFetcher) evictLocked(now time.Time) {
	if len(f.entries) < maxJWKSEntries {
		return
	}
	var victim string
	for u, e := range f.entries {
		if e.inflight != nil {
			continue
		}
		if e.set == nil || now.Sub(e.fetched) > jwksMaxStale {
			delete(f.entries, u)
			return
		}
		victim = u
	}
	if victim != "" {
		delete(f.entries, victim)
	}
}

// fetch performs one GET and parses the document with keys.ParseJWKs (signature keys only, no
// private or symmetric keys, RSA at least 2048 bits).
func (f *httpFetcher) fetch(ctx context.Context, u string) (*keys.Set, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &fetchError{err: err}
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	res, err := f.client.Do(req)
	if err != nil {
		return nil, &fetchError{unreachable: true, err: err}
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests:
		return nil, &fetchError{unreachable: true, err: fmt.Errorf("status %d", res.StatusCode)}
	case res.StatusCode != http.StatusOK:
		return nil, &fetchError{err: fmt.Errorf("status %d", res.StatusCode)}
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, &fetchError{unreachable: true, err: err}
	}
	if len(data) > maxJWKSBytes {
		return nil, &fetchError{err: errors.New("document larger than 1 MiB")}
	}
	usable, _, err := keys.ParseJWKs(data, u, keys.JWKOptions{})
	if err != nil {
		return nil, &fetchError{err: err}
	}
	if len(usable) == 0 {
		return nil, &fetchError{err: errors.New("no usable signature key")}
	}
	return keys.NewSet(usable...), nil
}

// allowlist is the parsed jwks_uri_allow: the hosts a software's JWKS may be fetched from.
type allowlist []allowEntry

type allowEntry struct {
	host      string // lower-case host name or IP literal, as written (no brackets)
	port      string // "" for any port
	plainHTTP bool   // written as http://host: plain http is allowed (tests, loopback)
}

// parseAllowlist parses jwks_uri_allow entries: "host", "host:port", "[v6]:port", or the same
// prefixed with https:// or http:// (the explicit opt-in for plain http to that host).
func parseAllowlist(entries []string) (allowlist, error) {
	var out allowlist
	for _, raw := range entries {
		var e allowEntry
		s := raw
		switch {
		case strings.HasPrefix(s, "http://"):
			e.plainHTTP, s = true, strings.TrimPrefix(s, "http://")
		case strings.HasPrefix(s, "https://"):
			s = strings.TrimPrefix(s, "https://")
		}
		s = strings.TrimSuffix(s, "/")
		if s == "" || strings.ContainsAny(s, "/?#@ *") {
			return nil, fmt.Errorf("jwks_uri_allow: %q is not a host or host:port", raw)
		}
		if h, p, err := net.SplitHostPort(s); err == nil {
			e.host, e.port = h, p
		} else {
			e.host = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		}
		if e.host == "" {
			return nil, fmt.Errorf("jwks_uri_allow: %q has no host", raw)
		}
		e.host = strings.ToLower(e.host)
		out = append(out, e)
	}
	return out, nil
}

// check reports whether u may be fetched: https (or http where an http:// entry allows it), no
// user info, and a host (and port, where pinned) on the list. Host names compare as written, case
// aside; nothing is resolved, so this runs before any connection.
func (a allowlist) check(u *url.URL) error {
	if u.User != nil {
		return errors.New("URL carries user info")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return errors.New("scheme is not https")
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	for _, e := range a {
		if e.host != host || (e.port != "" && e.port != port) {
			continue
		}
		if u.Scheme == "http" && !e.plainHTTP {
			continue
		}
		return nil
	}
	if u.Scheme == "http" {
		return errors.New("plain http to a host without an http:// allow entry")
	}
	return errors.New("host is not in jwks_uri_allow")
}

// remoteDirectorySource is a directory's jwks_url as a keys.Source for the SSA verifier. Keys does
// no I/O: it serves what the fetcher holds. The handler warms it before verifying an SSA of that
// directory (see Handler.warmDirectory). When the shared JWKS cache lands, this becomes the shared
// remote source.
type remoteDirectorySource struct {
	url     string
	fetcher *httpFetcher
}

// Keys returns the cached key set, or an *keys.UnavailableError when none is usable.
func (s *remoteDirectorySource) Keys() (*keys.Set, error) {
	if set, ok := s.fetcher.peek(s.url); ok {
		return set, nil
	}
	return nil, &keys.UnavailableError{Origin: s.url, RetryAfter: defaultRetryAfter, Err: errors.New("not fetched yet")}
}

// KeysAfterMiss lets the verifier refetch once per cooldown when an SSA names an unknown kid.
func (s *remoteDirectorySource) KeysAfterMiss(ctx context.Context, _ string) (*keys.Set, error) {
	set, err := s.fetcher.KeysAfterMiss(ctx, s.url)
	if err != nil {
		return nil, &keys.UnavailableError{Origin: s.url, RetryAfter: defaultRetryAfter, Err: err}
	}
	return set, nil
}
