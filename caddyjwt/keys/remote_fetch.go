package keys

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/obgate/obgate/caddyjwt/internal/strictjson"
)

// Fetcher fetches one remote document (a JWK Set or a discovery document).
//
// Fetch must return by the time ctx is done. Its errors should be *FetchError, so that the
// result can be counted; any other error counts as FetchNetwork.
type Fetcher interface {
	// Fetch fetches the document at url.
	Fetch(ctx context.Context, url string) (Document, error)
}

// FetcherFunc adapts a function to Fetcher.
type FetcherFunc func(ctx context.Context, url string) (Document, error)

// Fetch calls f.
func (f FetcherFunc) Fetch(ctx context.Context, url string) (Document, error) { return f(ctx, url) }

// Document is a fetched response body and how long the server says it may be cached.
type Document struct {
	// Body is the response body, at most the configured maximum size.
	Body []byte

	// Lifetime is the freshness lifetime from Cache-Control max-age (minus Age) or Expires
	// (RFC 9111 §4.2.1); zero when the response gives none or forbids caching.
	Lifetime time.Duration
}

// FetchResult classifies the outcome of one fetch, as a bounded metric label.
type FetchResult uint8

// The fetch results.
const (
	// FetchOK means the keys were fetched and at least one is usable ("ok").
	FetchOK FetchResult = iota

	// FetchNetwork means the connection was refused or reset, TLS or DNS failed, or the body
	// was cut short ("network_error").
	FetchNetwork

	// FetchTimeout means the fetch did not finish within FetchTimeout ("timeout").
	FetchTimeout

	// FetchHTTPStatus means the server answered a status other than 200 ("http_status").
	FetchHTTPStatus

	// FetchRefused means a redirect to another host or to plain http, or a URL that is not
	// allowed ("refused").
	FetchRefused

	// FetchTooLarge means the body exceeds MaxSize ("too_large").
	FetchTooLarge

	// FetchInvalid means a wrong content type, not JSON, or not a JWK Set or discovery
	// document ("invalid").
	FetchInvalid

	// FetchNoUsableKeys means a JWK Set in which no key may verify signatures ("no_usable_keys").
	FetchNoUsableKeys

	// FetchIssuerMismatch means the discovery document names another issuer ("issuer_mismatch").
	FetchIssuerMismatch

	// FetchPanic means the refresh panicked, a bug; it is logged with its stack ("panic").
	FetchPanic

	fetchResultCount
)

var fetchResultNames = [fetchResultCount]string{
	FetchOK:             "ok",
	FetchNetwork:        "network_error",
	FetchTimeout:        "timeout",
	FetchHTTPStatus:     "http_status",
	FetchRefused:        "refused",
	FetchTooLarge:       "too_large",
	FetchInvalid:        "invalid",
	FetchNoUsableKeys:   "no_usable_keys",
	FetchIssuerMismatch: "issuer_mismatch",
	FetchPanic:          "panic",
}

// String is the result's stable snake_case name.
func (r FetchResult) String() string {
	if r >= fetchResultCount {
		return fetchResultNames[FetchNetwork]
	}
	return fetchResultNames[r]
}

// FetchResults lists every result, for metrics that want to initialise their label values.
func FetchResults() []FetchResult {
	out := make([]FetchResult, fetchResultCount)
	for i := range out {
		out[i] = FetchResult(i)
	}
	return out
}

// FetchError is a failed fetch.
type FetchError struct {
	// Result is the class of failure, for metrics.
	Result FetchResult

	// URL is the URL that failed.
	URL string

	// Err is the cause, for logs.
	Err error

	// Status is the HTTP status of a FetchHTTPStatus failure (the last response, after
	// redirects); zero for every other result.
	Status int
}

// Error names the URL, the result and the cause.
func (e *FetchError) Error() string {
	return fmt.Sprintf("fetch %s: %s: %v", e.URL, e.Result, e.Err)
}

// Unwrap returns the cause.
func (e *FetchError) Unwrap() error { return e.Err }

// ResultOf classifies an error returned by a fetch; nil is FetchOK.
func ResultOf(err error) FetchResult {
	if err == nil {
		return FetchOK
	}
	if fe, ok := errors.AsType[*FetchError](err); ok {
		return fe.Result
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return FetchTimeout
	}
	return FetchNetwork
}

// errRedirect refuses a redirect that leaves the original host or scheme.
var errRedirect = errors.New("redirect refused")

// maxRedirects bounds redirects within the same host.
const maxRedirects = 3

// httpFetcher is the default Fetcher: GET over https (http only where allowed), with a size cap
// and no redirects to another host. It never follows jku or x5u: it only fetches what it is given.
type httpFetcher struct {
	client    *http.Client
	transport *http.Transport
	maxSize   int64
	allowHTTP func(*url.URL) bool
	now       func() time.Time
}

func newHTTPFetcher(opts RemoteOptions) *httpFetcher {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: opts.FetchTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: opts.RootCAs},
		TLSHandshakeTimeout:   opts.FetchTimeout,
		ResponseHeaderTimeout: opts.FetchTimeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	f := &httpFetcher{transport: tr, maxSize: opts.MaxSize, allowHTTP: opts.AllowHTTP, now: opts.Clock}
	f.client = &http.Client{Transport: tr, CheckRedirect: f.checkRedirect}
	return f
}

// checkRedirect follows a redirect only to the same scheme and host (port included).
func (f *httpFetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("%w: more than %d redirects", errRedirect, maxRedirects)
	}
	first := via[0].URL
	if !strings.EqualFold(req.URL.Host, first.Host) || req.URL.Scheme != first.Scheme {
		return fmt.Errorf("%w: to another host or scheme", errRedirect)
	}
	return nil
}

// Fetch GETs the URL and returns its body when the answer is a 200 with a JSON-like content type
// and a body no larger than the cap.
func (f *httpFetcher) Fetch(ctx context.Context, rawURL string) (Document, error) {
	fail := func(r FetchResult, err error) (Document, error) {
		if ne, ok := errors.AsType[net.Error](err); r == FetchNetwork && (ctx.Err() != nil || ok && ne.Timeout()) {
			r = FetchTimeout
		}
		return Document{}, &FetchError{Result: r, URL: rawURL, Err: err}
	}
	if _, err := checkURL(rawURL, f.allowHTTP); err != nil {
		return fail(FetchRefused, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fail(FetchRefused, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	req.Header.Set("User-Agent", "obgate-jwks")
	resp, err := f.client.Do(req)
	if err != nil {
		if errors.Is(err, errRedirect) {
			return fail(FetchRefused, err)
		}
		return fail(FetchNetwork, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Document{}, &FetchError{Result: FetchHTTPStatus, URL: rawURL, Err: fmt.Errorf("status %d", resp.StatusCode), Status: resp.StatusCode}
	}
	if err := checkContentType(resp.Header.Get("Content-Type")); err != nil {
		return fail(FetchInvalid, err)
	}
	if resp.ContentLength > f.maxSize {
		return fail(FetchTooLarge, fmt.Errorf("content length %d exceeds %d bytes", resp.ContentLength, f.maxSize))
	}
	// The transport decompresses gzip itself; the cap applies to the decompressed body.
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxSize+1))
	if err != nil {
		return fail(FetchNetwork, fmt.Errorf("reading body: %w", err))
	}
	if int64(len(body)) > f.maxSize {
		return fail(FetchTooLarge, fmt.Errorf("body exceeds %d bytes", f.maxSize))
	}
	return Document{Body: body, Lifetime: cacheLifetime(resp.Header, f.now())}, nil
}

// HTTPFetcher is the Fetcher that a Remote uses by default, for one-shot fetches elsewhere with
// exactly the same rules: GET over https (plain http only where RemoteOptions.AllowHTTP allows),
// TLS 1.2 or later with the system roots, redirects only to the same scheme and host (at most 3),
// a JSON-like content type, the MaxSize cap (after decompression), and FetchTimeout for the whole
// fetch, body included. It never follows jku or x5u. Errors are *FetchError. It is safe for
// concurrent use; it keeps idle connections until CloseIdleConnections.
type HTTPFetcher struct {
	f       *httpFetcher
	timeout time.Duration
}

// NewHTTPFetcher returns an HTTPFetcher with opts' AllowHTTP, FetchTimeout, MaxSize and Clock
// (the defaults where unset); the other options do not concern a fetch and are ignored.
func NewHTTPFetcher(opts RemoteOptions) *HTTPFetcher {
	opts.setDefaults()
	return &HTTPFetcher{f: newHTTPFetcher(opts), timeout: opts.FetchTimeout}
}

// Fetch GETs the URL once, bounded by FetchTimeout as well as by ctx.
func (f *HTTPFetcher) Fetch(ctx context.Context, rawURL string) (Document, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	return f.f.Fetch(ctx, rawURL)
}

// CloseIdleConnections drops the fetcher's idle keep-alive connections, for its owner's cleanup.
func (f *HTTPFetcher) CloseIdleConnections() { f.f.closeIdle() }

// FetchJWKS fetches a JWK Set with f and parses it as a Remote does: the body must be one strict
// JSON object (no duplicate member names) with a "keys" array, whose keys are parsed by ParseJWKs;
// skipped lists the keys left out and why. A set with no usable key is a failure. Errors are
// *FetchError (FetchInvalid and FetchNoUsableKeys here, the fetcher's own otherwise); lifetime is
// the response's freshness lifetime.
func FetchJWKS(ctx context.Context, f Fetcher, jwksURL string) (usable []Key, skipped []error, lifetime time.Duration, err error) {
	doc, err := f.Fetch(ctx, jwksURL)
	if err != nil {
		return nil, nil, 0, err
	}
	if err := validateJWKSDocument(doc.Body); err != nil {
		return nil, nil, 0, &FetchError{Result: FetchInvalid, URL: jwksURL, Err: err}
	}
	usable, skipped, err = ParseJWKs(doc.Body, jwksURL, JWKOptions{})
	if err != nil {
		return nil, nil, 0, &FetchError{Result: FetchInvalid, URL: jwksURL, Err: err}
	}
	if len(usable) == 0 {
		return nil, skipped, 0, &FetchError{Result: FetchNoUsableKeys, URL: jwksURL, Err: errors.New("no usable key in the JWK Set")}
	}
	return usable, skipped, doc.Lifetime, nil
}

// closeIdle drops idle keep-alive connections when the Remote closes, so that no connection
// goroutine outlives it.
func (f *httpFetcher) closeIdle() { f.transport.CloseIdleConnections() }

// checkContentType accepts what JWKS and discovery endpoints are seen to send: JSON media types
// (RFC 7517 §8.5 application/jwk-set+json, application/json, any +json), text/plain and
// octet-stream (static file hosting), or none. Anything else, such as the text/html of an error
// page or a captive portal, is a failed fetch. The body is validated as JSON either way.
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ct, err)
	}
	switch {
	case mt == "application/json", strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"),
		mt == "text/plain", mt == "application/octet-stream", mt == "binary/octet-stream":
		return nil
	}
	return fmt.Errorf("content type %q is not JSON", mt)
}

// cacheLifetime is the response's freshness lifetime (RFC 9111 §4.2.1): max-age minus Age, else
// Expires minus Date; zero for no-store, no-cache or nothing.
func cacheLifetime(h http.Header, now time.Time) time.Duration {
	maxAge := -1
	for _, line := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(line, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return 0
			case "max-age":
				n, err := strconv.Atoi(strings.Trim(val, `"`))
				if err != nil || n < 0 {
					return 0 // RFC 9111 §4.2.1: an invalid max-age makes the response stale
				}
				maxAge = n
			}
		}
	}
	if maxAge >= 0 {
		age, _ := strconv.Atoi(h.Get("Age"))
		return max(time.Duration(maxAge-max(age, 0))*time.Second, 0)
	}
	if exp := h.Get("Expires"); exp != "" {
		t, err := http.ParseTime(exp)
		if err != nil {
			return 0
		}
		date := now
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			date = d
		}
		return max(t.Sub(date), 0)
	}
	return 0
}

// ErrPlainHTTP reports an http URL that the AllowHTTP option does not allow: remote keys are
// fetched over https only, unless the operator opts in for that URL.
var ErrPlainHTTP = errors.New("plain http is not allowed for this URL (https only)")

// checkURL parses an absolute URL and checks that it may be fetched: https, or http where allowed;
// a host; no user info (it would end up in logs and metrics); no fragment.
func checkURL(raw string, allowHTTP func(*url.URL) bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid URL: %w", err)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("URL %q: not an absolute URL with a host", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("URL %q: user info is not allowed", u.Redacted())
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("URL %q: a fragment is not allowed", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if allowHTTP == nil || !allowHTTP(u) {
			return nil, fmt.Errorf("URL %q: %w", raw, ErrPlainHTTP)
		}
	default:
		return nil, fmt.Errorf("URL %q: scheme must be https", raw)
	}
	return u, nil
}

// jsonLimits bounds the structure of fetched documents; the size is already capped.
var jsonLimits = strictjson.Limits{MaxDepth: 8, MaxMembers: 1 << 16}

// validateJWKSDocument checks that a fetched body is one strict JSON object (no duplicate member
// names) with a "keys" array: a JWK Set (RFC 7517 §5), not a lone JWK.
func validateJWKSDocument(body []byte) error {
	obj, err := strictjson.Parse(body, jsonLimits)
	if err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	if _, ok := obj["keys"].([]any); !ok {
		return errors.New(`not a JWK Set: no "keys" array`)
	}
	return nil
}
