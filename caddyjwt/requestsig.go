package caddyjwt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/obgate/obgate/caddyjwt/binding"
	"github.com/obgate/obgate/caddyjwt/verify"
)

func init() {
	caddy.RegisterModule(RequestSignature{})
}

// DefaultMaxBody is the default cap on a signed request's body (1 MiB).
const DefaultMaxBody = 1 << 20

// anonymousIssuer names the one issuer that top-level keys (key, jwks_url, discovery, registry)
// form when no issuer blocks are configured. It never appears in a token.
const anonymousIssuer = "request_signature"

// RequestSignature is an HTTP handler that lets a request through only when it carries a JWS
// that a configured key signed for this very request: its method, host, path and query (profile
// tokenio) and its body, byte for byte (all profiles).
//
// The request is compared as the client sent it, before any rewrite. The body is read once, up to
// max_body (a larger one is answered 413 and nothing is forwarded), and the next handler gets the
// identical bytes. Answers follow jwt_auth: no signature 401 without an error attribute; a bad or
// mismatched signature 401 invalid_token naming the field; two signatures 400 invalid_request;
// keys unavailable 503. On success it sets {http.request_signature.issuer} and
// {http.request_signature.kid} and adds jws_iss and jws_kid to the access log entry.
type RequestSignature struct {
	// Name registers this policy for the jwt_check handler under this name. Default: none.
	Name string `json:"name,omitempty"`

	// Header is the request header that carries the JWS. Default: x-jws-signature for profile
	// ob_jws, Authorization (with scheme Bearer) otherwise.
	Header string `json:"header,omitempty"`

	// Scheme is the authentication scheme before the JWS in Header, such as Bearer
	// (case-insensitive). Empty means the whole header value. Default: Bearer when Header is
	// Authorization by default, none otherwise.
	Scheme string `json:"scheme,omitempty"`

	// Keys are local key files of the signers, chosen by kid. Top-level keys (Keys, JWKSURL,
	// Discovery, Registry) and Issuers are exclusive.
	Keys []KeyFile `json:"keys,omitempty"`

	// JWKSURL is a remote JWK Set of the signers, cached and refreshed in the background.
	JWKSURL string `json:"jwks_url,omitempty"`

	// Discovery is an OpenID Connect discovery document URL whose jwks_uri holds the signers' keys.
	Discovery string `json:"discovery,omitempty"`

	// Registry lists counterparties whose keys registered through jwt_keys are accepted.
	Registry []string `json:"registry,omitempty"`

	// Issuers are per-issuer keys, as in jwt_auth. The JWS's protected header names its issuer:
	// "iss" (tokenio, detached) or http://openbanking.org.uk/iss (ob_jws).
	Issuers []IssuerConfig `json:"issuers,omitempty"`

	// Profile is the signing convention: tokenio, ob_jws or detached. Required.
	Profile string `json:"profile,omitempty"`

	// Algorithms is the JWS algorithm allowlist; an issuer block's own list replaces it.
	// Default: what the keys allow. "none" is never accepted.
	Algorithms []string `json:"algorithms,omitempty"`

	// MaxBody caps the request body in bytes; a body of exactly MaxBody bytes is accepted, a
	// larger one is answered 413. Default: 1 MiB.
	MaxBody int64 `json:"max_body,omitempty"`

	// Leeway is the clock skew allowed for tokenio's exp and ob_jws's iat. Default: 30s.
	Leeway *caddy.Duration `json:"leeway,omitempty"`

	// PathForm says in which form a tokenio JWS names the path: decoded (default) or escaped.
	PathForm string `json:"path_form,omitempty"`

	// Version is the Open Banking API version for ob_jws: up to 3.1.3 b64=false must be listed
	// in crit, from 3.1.4 b64 must be absent. Default: both forms are accepted.
	Version string `json:"version,omitempty"`

	// TrustAnchors are the accepted http://openbanking.org.uk/tan values for ob_jws.
	// Default: openbanking.org.uk.
	TrustAnchors []string `json:"trust_anchors,omitempty"`

	// Replay refuses a signed request seen before within its lifetime, through the single-use
	// store of the replay_store global option (memory by default; Redis for a cluster). A store
	// that cannot tell (full, unreachable) is answered 503 with Retry-After. Default: off.
	Replay bool `json:"replay,omitempty"`

	// ReplayMaxEntries bounds the memory store's live entries for this handler's signers (handlers
	// with the same signers share one bound); when it is full of live entries, new signed requests
	// are refused with 503 rather than an entry forgotten. Default: 100000.
	ReplayMaxEntries int `json:"replay_max_entries,omitempty"`

	// Realm is the realm in WWW-Authenticate challenges. Default: the request's host name.
	Realm string `json:"realm,omitempty"`

	binder   *binding.Binder
	location []TokenLocation
	remote   *remoteLeases
	replay   *replayLease
	unname   func()
	logger   *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (RequestSignature) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.request_signature",
		New: func() caddy.Module { return new(RequestSignature) },
	}
}

// Provision applies defaults, loads the keys and builds the binder. Every configuration mistake
// is reported here, naming the element.
func (h *RequestSignature) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	profile, err := binding.ParseProfile(h.Profile)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	if h.Header == "" {
		h.Header, h.Scheme = "Authorization", "Bearer"
		if profile == binding.ProfileOBJWS {
			h.Header, h.Scheme = "x-jws-signature", ""
		}
	}
	if h.MaxBody == 0 {
		h.MaxBody = DefaultMaxBody
	}
	if h.MaxBody < 0 || h.MaxBody > maxBodyCap {
		return fmt.Errorf("max_body: must be between 1 byte and %d bytes (the body is held in memory)", maxBodyCap)
	}
	h.location = []TokenLocation{{From: "header", Name: h.Header, Scheme: h.Scheme}}
	cfg := Config{Realm: h.Realm, Tokens: h.location}
	if err := cfg.validateLocations(); err != nil {
		return err
	}
	bc := binding.Config{
		Profile:      profile,
		OBVersion:    h.Version,
		TrustAnchors: h.TrustAnchors,
		IssuerParam:  len(h.Issuers) > 0,
	}
	switch h.PathForm {
	case "", "decoded":
	case "escaped":
		bc.PathForm = binding.PathEscaped
	default:
		return fmt.Errorf("path_form: %q is neither decoded nor escaped", h.PathForm)
	}
	if h.Leeway != nil {
		bc.Leeway = caddyDurationOrNone(*h.Leeway)
	}
	if cfg.Issuers, err = h.issuers(); err != nil {
		return err
	}
	h.remote = new(remoteLeases)
	p, err := cfg.policy(caddy.NewReplacer(), withSigner(ctx, withRegistry(ctx, remoteSources(ctx, h.logger, h.remote, cfg.Issuers))))
	if err != nil {
		return err
	}
	// A compact JWS carries the body: let the token grow with it, up to what a header can hold.
	p.MaxTokenSize = verify.DefaultMaxTokenSize + base64Len(min(h.MaxBody, DefaultMaxBody))
	v, err := verify.New(p)
	if err != nil {
		return err
	}
	if h.Replay {
		h.replay, err = openReplay(ctx, h)
		if err != nil {
			return err
		}
		bc.Replay = h.replay.store
	}
	if h.binder, err = binding.New(v, bc); err != nil {
		return err
	}
	if h.Name != "" {
		h.unname, err = registerPolicy(ctx, h.Name, &signaturePolicy{h: h})
		if err != nil {
			return err
		}
	}
	return nil
}

// issuers turns the top-level keys into the one anonymous issuer, or checks the issuer blocks.
func (h *RequestSignature) issuers() ([]IssuerConfig, error) {
	topLevel := len(h.Keys) > 0 || h.JWKSURL != "" || h.Discovery != "" || len(h.Registry) > 0
	if len(h.Issuers) == 0 {
		if !topLevel {
			return nil, errors.New("no keys configured: give key, jwks_url, discovery, registry or issuer blocks")
		}
		return []IssuerConfig{{
			Issuer: anonymousIssuer, Keys: h.Keys, JWKSURL: h.JWKSURL, Discovery: h.Discovery,
			Registry: h.Registry, Algorithms: h.Algorithms,
		}}, nil
	}
	if topLevel {
		return nil, errors.New("key, jwks_url, discovery and registry go inside the issuer blocks when issuer blocks are used")
	}
	out := make([]IssuerConfig, len(h.Issuers))
	for i, ic := range h.Issuers {
		if ic.Type != "" {
			return nil, fmt.Errorf("issuer %q: typ: applies to jwt_auth issuers, not to request signatures", ic.Issuer)
		}
		if len(ic.Algorithms) == 0 {
			ic.Algorithms = h.Algorithms
		}
		out[i] = ic
	}
	return out, nil
}

// ServeHTTP checks the request's signature and calls next only when it binds this request.
// Request trailers are never handed on: they are outside the signature, and with them the body
// would go upstream chunked instead of with its Content-Length.
func (h *RequestSignature) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	r = withoutTrailers(r)
	res, bodyRead, err := h.check(r)
	if err != nil {
		h.logRejection(r, err)
		if !bodyRead && r.ProtoMajor == 1 && r.ContentLength != 0 {
			// Refused before the body was read: close the connection after the answer rather
			// than have the server read the unread body to reuse it (RFC 9112 §9.6). Without
			// this, net/http waits for up to 256 KiB of it before sending the answer.
			w.Header().Set("Connection", "close")
		}
		answerFor(err).write(w, realmFor(h.Realm, r))
		return nil
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	repl.Set("http.request_signature.issuer", publicIssuer(res.Issuer))
	repl.Set("http.request_signature.kid", res.KeyID)
	if extra, ok := r.Context().Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields); ok {
		extra.Set(zap.String("jws_iss", publicIssuer(res.Issuer)))
		extra.Set(zap.String("jws_kid", res.KeyID))
	}
	return next.ServeHTTP(w, r)
}

// check finds the signature, checks its header against the request, then reads the body and
// binds them to the request as it was sent. On success r's body holds the bytes that were read.
// bodyRead says whether the body was read.
func (h *RequestSignature) check(r *http.Request) (res *binding.Result, bodyRead bool, err error) {
	if r.ContentLength > h.MaxBody {
		return nil, false, verify.Reject(verify.ReasonBodyTooLarge, nil)
	}
	tok, err := extractToken(r, h.location, nil)
	if err != nil {
		return nil, false, err
	}
	// Everything the header alone can refuse is refused before the body is read, so a garbage
	// or mismatched signature never makes the gateway wait for and buffer up to max_body.
	facts := requestFacts(r, nil)
	if err := h.binder.Precheck(r.Context(), []byte(tok), facts); err != nil {
		return nil, false, err
	}
	if facts.Body, err = readBody(r, h.MaxBody); err != nil {
		return nil, true, err
	}
	res, err = h.binder.Accept(r.Context(), []byte(tok), facts)
	return res, true, err
}

// requestFacts describes the request as the client sent it: method, path and query from the
// original request Caddy keeps before any rewrite; host and scheme from the connection.
func requestFacts(r *http.Request, body []byte) *binding.Request {
	orig := r
	if or, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && or.URL != nil {
		orig = &or
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return &binding.Request{
		Method:   orig.Method,
		Scheme:   scheme,
		Host:     r.Host,
		RawPath:  wirePath(orig.URL),
		RawQuery: orig.URL.RawQuery,
		Body:     body,
	}
}

// wirePath is the path exactly as the client sent it. Go keeps the sent form in RawPath whenever
// re-encoding the decoded path would give something else; EscapedPath alone would re-encode a
// sent form it finds non-canonical (raw UTF-8, '{', '}', ...).
func wirePath(u *url.URL) string {
	if u.RawPath != "" {
		return u.RawPath
	}
	return u.EscapedPath()
}

// readChunk is the most readBody allocates ahead of the bytes that arrive: a client that announces
// a large Content-Length and sends little makes the gateway hold little.
const readChunk = 64 << 10

// readBody reads the whole body once, up to limit bytes, and puts the same bytes back for the next
// handler. The buffer grows with the bytes that arrive (readChunk, then doubling) up to the
// Content-Length, or limit+1 bytes for a chunked body. Over the limit is ReasonBodyTooLarge.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	want := limit + 1 // unknown length: one byte past the limit shows that it is exceeded
	if r.ContentLength >= 0 {
		want = r.ContentLength
	}
	body, err := readUpTo(r.Body, want)
	if err == nil && r.ContentLength >= 0 && int64(len(body)) < want {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && int64(len(body)) > limit {
		return nil, verify.Reject(verify.ReasonBodyTooLarge, nil)
	}
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, verify.Reject(verify.ReasonBodyTooLarge, err)
		}
		return nil, verify.Reject(verify.ReasonMalformed, fmt.Errorf("reading the body: %w", err))
	}
	_ = r.Body.Close()
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil // the length is known now; the backend gets the same bytes
	if len(body) == 0 {
		r.Body = http.NoBody
	} else {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return body, nil
}

// readUpTo reads from rd until EOF or max bytes. Its buffer starts at readChunk (or max, when
// smaller) and doubles when full, so that it never runs more than twice ahead of what was read;
// a body of up to readChunk bytes, or of a known length up to that, is one allocation.
func readUpTo(rd io.Reader, max int64) ([]byte, error) {
	buf := make([]byte, 0, min(max, readChunk))
	for int64(len(buf)) < max {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(max, 2*int64(cap(buf))))
			copy(grown, buf)
			buf = grown
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// logRejection logs a rejected signature at debug level, with a short hash instead of the JWS.
func (h *RequestSignature) logRejection(r *http.Request, err error) {
	c := h.logger.Check(zapcore.DebugLevel, "request signature rejected")
	if c == nil {
		return
	}
	c.Write(zap.Stringer("reason", verify.ReasonOf(err)), zap.String("remote_ip", r.RemoteAddr), zap.Error(err))
}

// Cleanup releases the remote key caches, the replay cache and the policy name. It works after a
// failed Provision.
func (h *RequestSignature) Cleanup() error {
	h.remote.release()
	h.replay.release()
	if h.unname != nil {
		h.unname()
	}
	return nil
}

// publicIssuer hides the internal name of the anonymous issuer.
func publicIssuer(name string) string {
	if name == anonymousIssuer {
		return ""
	}
	return name
}

// caddyDurationOrNone maps a configured duration to the engine's convention: an explicit zero
// means no leeway at all (negative), as for jwt_auth.
func caddyDurationOrNone(d caddy.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return time.Duration(d)
}

// base64Len is the unpadded base64 length of n bytes.
func base64Len(n int64) int {
	return int((n*8 + 5) / 6)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*RequestSignature)(nil)
	_ caddy.CleanerUpper          = (*RequestSignature)(nil)
	_ caddyhttp.MiddlewareHandler = (*RequestSignature)(nil)
)
