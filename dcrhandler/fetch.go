package dcrhandler

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
)

// Limits of the software JWKS cache.
const (
	fetchTimeout      = 5 * time.Second
	jwksTTL           = 5 * time.Minute
	jwksMaxStale      = time.Hour
	jwksMissCooldown  = 10 * time.Second
	jwksErrorCooldown = 5 * time.Second
	maxJWKSEntries    = 1024
)

// softwareJWKS is a small on-demand cache of software JWK Sets, per URL. Software JWKS URLs come
// from software statements, so they are fetched when a registration needs them rather than
// refreshed in the background. The fetch itself is the project's (keys.FetchJWKS with a
// keys.HTTPFetcher: https, or http where allowed; timeouts, a 1 MiB cap, same-host redirects, a
// JSON content type, strict JSON, keys.ParseJWKs rules). A set is reused for jwksTTL; concurrent
// misses on one URL share one fetch; the number of cached URLs is bounded. Callers check the URL
// against jwks_uri_allow first: the cache connects to whatever it is given. Errors are the
// fetcher's *keys.FetchError, or the context's; see unreachable. It is safe for concurrent use.
type softwareJWKS struct {
	fetcher keys.Fetcher
	clock   func() time.Time

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

// newSoftwareJWKS returns an empty cache that fetches with fetcher.
func newSoftwareJWKS(fetcher keys.Fetcher, clock func() time.Time) *softwareJWKS {
	if clock == nil {
		clock = time.Now
	}
	return &softwareJWKS{fetcher: fetcher, clock: clock, entries: make(map[string]*jwksEntry)}
}

// unreachable reports whether a failed JWKS fetch is the host's trouble, answered 503 with
// Retry-After (a connection failure, a timeout, a 5xx or 429 answer, a request given up), rather
// than the software's fault, answered 400 (any other status, a redirect elsewhere, a document too
// large or not a JWK Set, no usable key).
func unreachable(err error) bool {
	switch keys.ResultOf(err) {
	case keys.FetchNetwork, keys.FetchTimeout, keys.FetchPanic:
		return true
	case keys.FetchHTTPStatus:
		fe, ok := errors.AsType[*keys.FetchError](err)
		return ok && (fe.Status >= 500 || fe.Status == http.StatusTooManyRequests)
	}
	return false
}

// Keys returns the cached set when fresh, and fetches otherwise. Through a failed fetch, a set
// fetched less than jwksMaxStale ago is still returned.
func (c *softwareJWKS) Keys(ctx context.Context, u string) (*keys.Set, error) {
	return c.get(ctx, u, false)
}

// KeysAfterMiss is called when a token names a kid the set lacks: it refetches (a key rotation)
// at most once per jwksMissCooldown per URL, and returns the set to retry with.
func (c *softwareJWKS) KeysAfterMiss(ctx context.Context, u string) (*keys.Set, error) {
	return c.get(ctx, u, true)
}

func (c *softwareJWKS) get(ctx context.Context, u string, forced bool) (*keys.Set, error) {
	for range 3 { // bounded: wait for at most a couple of fetches run by others
		c.mu.Lock()
		now := c.clock()
		e := c.entries[u]
		if e == nil {
			e = &jwksEntry{}
			c.evictLocked(now)
			c.entries[u] = e
		}
		fresh := e.set != nil && now.Sub(e.fetched) < jwksTTL
		if forced && now.Sub(e.fetched) >= jwksMissCooldown && now.Sub(e.lastForced) >= jwksMissCooldown {
			fresh = false // an unknown kid may be a rotation: refetch, at most once per cooldown
		}
		if fresh {
			set := e.set
			c.mu.Unlock()
			return set, nil
		}
		if e.inflight == nil && e.lastErr != nil && now.Sub(e.failed) < jwksErrorCooldown {
			// A failure moments ago: do not hammer the host; serve stale keys or the error.
			set, err := e.set, e.lastErr
			stale := set != nil && now.Sub(e.fetched) <= jwksMaxStale
			c.mu.Unlock()
			if stale {
				return set, nil
			}
			return nil, err
		}
		if e.inflight != nil {
			ch := e.inflight
			c.mu.Unlock()
			select {
			case <-ch:
				forced = false // the fetch we waited for counts as our refresh
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		e.inflight = ch
		if forced {
			e.lastForced = now
		}
		c.mu.Unlock()

		set, err := c.fetch(ctx, u)

		c.mu.Lock()
		now = c.clock()
		switch {
		case err == nil:
			e.set, e.fetched, e.lastErr = set, now, nil
		case ctx.Err() != nil:
			// This caller gave up: that says nothing about the host, so nothing is cached and
			// the next caller fetches again.
			if e.set != nil && now.Sub(e.fetched) <= jwksMaxStale {
				set, err = e.set, nil
			}
		default:
			e.failed, e.lastErr = now, err
			if e.set != nil && now.Sub(e.fetched) <= jwksMaxStale {
				set, err = e.set, nil
			}
		}
		e.inflight = nil
		close(ch)
		c.mu.Unlock()
		return set, err
	}
	return nil, errors.New("software JWKS fetch did not settle")
}

// evictLocked makes room for one more entry: first entries stale beyond use, then any one idle
// entry. The loop is bounded by maxJWKSEntries.
func (c *softwareJWKS) evictLocked(now time.Time) {
	if len(c.entries) < maxJWKSEntries {
		return
	}
	var victim string
	for u, e := range c.entries {
		if e.inflight != nil {
			continue
		}
		if e.set == nil || now.Sub(e.fetched) > jwksMaxStale {
			delete(c.entries, u)
			return
		}
		victim = u
	}
	if victim != "" {
		delete(c.entries, victim)
	}
}

// fetch performs one fetch of the JWK Set at u, bounded by fetchTimeout.
func (c *softwareJWKS) fetch(ctx context.Context, u string) (*keys.Set, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	usable, _, _, err := keys.FetchJWKS(ctx, c.fetcher, u)
	if err != nil {
		return nil, err
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
		if !isASCII(e.host) {
			return nil, fmt.Errorf("jwks_uri_allow: %q: write an international host name in its ASCII (xn--) form", raw)
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
	// Only ASCII names compare: the HTTP client dials the IDNA form of a Unicode name, which
	// Unicode case mapping does not give (U+0130 lower-cases to "i" but dials as xn--...).
	if !isASCII(u.Hostname()) {
		return errors.New("host is not ASCII")
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

func isASCII(s string) bool {
	return strings.IndexFunc(s, func(c rune) bool { return c > 0x7e || c <= 0x20 }) < 0
}

// plainHTTP reports whether an http:// entry allows plain http to u; it is the software JWKS
// fetcher's AllowHTTP, so the fetcher's own https rule agrees with the allowlist.
func (a allowlist) plainHTTP(u *url.URL) bool { return u.Scheme == "http" && a.check(u) == nil }
