// Package dcrhandler is obgate's Dynamic Client Registration handler (RFC 7591, and RFC 7592 for
// managing a registration), with the open-banking profiles of UK Open Banking (obie), the
// Australian CDR (cdr) and seed 003's bank (revolut).
//
// A registration request is a JWT signed by the software, carrying a software statement (SSA)
// signed by a trusted directory. Both are verified with obgate's one engine (caddyjwt/verify), in
// an order that never lets the request choose a key: the SSA with the configured directories' keys,
// then the request with the keys the verified SSA names. Clients persist in Caddy's configured
// storage; registration access tokens are stored hashed.
package dcrhandler

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/certmagic"

	jwksapp "github.com/obgate/obgate/caddyjwt/jwks"
	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// DefaultMaxBody caps a registration request's body (64 KiB).
const DefaultMaxBody = 64 << 10

// Handler answers Dynamic Client Registration requests itself; it never calls the next handler.
//
// POST to the matched path registers a client: 201 with client_id, client_id_issued_at,
// registration_access_token, registration_client_uri, the accepted metadata and the software
// statement. GET, PUT and DELETE on <that path>/<client_id> with the registration access token as
// a Bearer token read (200), replace (200) and delete (204) the registration (RFC 7592). Errors are
// JSON {"error", "error_description"} per RFC 7591 §3.2.2; a bad or unknown token or client is 401.
// Every answer carries Cache-Control: no-store.
//
// The software's JWKS is fetched, on the request path when not cached, only from a host in
// jwks_uri_allow. EXPERIMENTAL: the storage layout may change.
type Handler struct {
	// Profile selects the registration rules: generic (RFC 7591), obie (UK Open Banking DCR
	// v3.3), cdr (Australian CDR) or revolut (seed 003). Default: generic.
	Profile string `json:"profile,omitempty"`

	// Directories are the trusted software statement issuers, each with its keys. Required for
	// obie, cdr and revolut; under generic without directories, only plain RFC 7591 JSON
	// registrations without a software statement are accepted.
	Directories []Directory `json:"directories,omitempty"`

	// Audience lists the accepted aud values of the request JWT (exact match, any of).
	// Required for obie, cdr and revolut. Its first value also names this handler's storage area,
	// so handlers with the same first audience share their clients.
	Audience []string `json:"audience,omitempty"`

	// Algorithms is the allowlist of JWS algorithms for the request JWT and the software
	// statement. Default: PS256. Under revolut it must be PS256 alone.
	Algorithms []string `json:"algorithms,omitempty"`

	// SSAMaxAge bounds the age (iat) of a software statement that has no exp. Default: 0, no
	// bound. A statement with exp is bounded by its exp.
	SSAMaxAge caddy.Duration `json:"ssa_max_age,omitempty"`

	// RedirectURIPattern, when set, is a regular expression (RE2, unanchored: use ^ and $) that
	// every registered redirect URI must match.
	RedirectURIPattern string `json:"redirect_uri_pattern,omitempty"`

	// JWKSURIAllow lists the hosts a software's JWKS may be fetched from: a host name or IP
	// literal as written (no resolution), optionally with :port to pin the port. Fetches are
	// https only; an entry written http://host[:port] also allows plain http to that host (for
	// tests). It concerns the software's JWKS only: a directory's jwks_url goes through the
	// shared JWKS cache, whose global `jwks { allow_http }` option is the plain-http opt-in.
	// Empty: no software JWKS is fetched (generic statements with inline jwks still work).
	JWKSURIAllow []string `json:"jwks_uri_allow,omitempty"`

	// MaxBody caps the request body in bytes; a larger body is answered 413. Default: 65536.
	MaxBody int64 `json:"max_body,omitempty"`

	// Name, when set, publishes this handler's registrations under it as clients of the token
	// endpoints that name it (`token_endpoint { clients <name> }`), kept in memory and reloaded
	// from storage every 10s.
	Name string `json:"name,omitempty"`

	// TokenEndpoint names a token_endpoint of the same config: GET, PUT and DELETE on a
	// registration then also accept an access token it issued to that client (OB UK DCR v3.2+),
	// besides the registration access token.
	TokenEndpoint string `json:"token_endpoint,omitempty"`

	// ReplayMaxEntries bounds the request jtis the memory store remembers for this handler's
	// registrations; when it is full of live jtis, registrations are refused with 503 and
	// Retry-After rather than a jti forgotten. The store is the replay_store global option's
	// (memory by default, Redis for a cluster). Default: 100000.
	ReplayMaxEntries int `json:"replay_max_entries,omitempty"`

	// ClientCertHeader, where TLS ends before the gateway, names the request header in which a
	// proxy listed in the server's trusted_proxies passes the client certificate (RFC 9440
	// Client-Cert: ":<base64 DER>:"); from any other address the header is ignored. The
	// certificate's subject is then checked against the registered DN as a TLS client certificate
	// is. Default: none (only the TLS connection's verified certificate counts).
	ClientCertHeader string `json:"client_cert_header,omitempty"`

	// AllowUnsignedRequest (generic only) also accepts plain RFC 7591 JSON registrations when
	// directories are configured, with the software statement as the only credential. UNSAFE: a
	// software statement is not secret (every registration response echoes it), so anyone who
	// has seen one can register with their own metadata (auth method, DN, redirect URIs). Without
	// it, a handler with directories takes only request JWTs signed by the software's key.
	// Default: false.
	AllowUnsignedRequest bool `json:"allow_unsigned_request,omitempty"`

	profile      profile
	algorithms   []string
	ssaVerifier  *verify.Verifier
	allow        allowlist
	redirectRE   *regexp.Regexp
	software     *softwareJWKS
	softFetcher  *keys.HTTPFetcher
	store        *clientStore
	directory    *clientDirectory // with Name: the registrations as token-endpoint clients
	replay       *replayCache
	clock        func() time.Time
	logger       *zap.Logger
	releases     []func()       // the leases on shared JWKS caches, given back in Cleanup
	sharedRemote sharedJWKSFunc // nil: the jwks app's pool; tests inject their own
}

// sharedJWKSFunc returns the shared cache of a directory's jwks_url as a key source, and the
// function that gives it back.
type sharedJWKSFunc func(ctx caddy.Context, url, issuer string) (keys.Source, func(), error)

// poolJWKS leases the process-wide cache of url from the jwks app, as jwt_auth does: the cache
// starts fetching when the config starts, is refreshed in the background, and is shared with
// every handler (and the next config) that names the same URL.
func poolJWKS(ctx caddy.Context, url, issuer string) (keys.Source, func(), error) {
	app, err := jwksapp.FromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	lease, err := app.Acquire(jwksapp.Spec{Kind: "jwks_url", URL: url, Issuer: issuer})
	if err != nil {
		return nil, nil, err
	}
	return lease.Source(), lease.Release, nil
}

// Directory is a trusted software statement issuer (a directory such as the Open Banking
// Directory or the CDR Register) and its keys.
type Directory struct {
	// Issuer is the exact iss of the directory's software statements.
	Issuer string `json:"issuer"`

	// Keys are local key files: PEM public keys, PEM X.509 certificates, or JWK / JWK Set JSON.
	Keys []KeyFile `json:"keys,omitempty"`

	// JWKSURL is the directory's published JWK Set (https; plain http only for URLs listed in
	// the global jwks allow_http option). It is held in the process-wide JWKS cache (the jwks
	// app): fetched when the config starts and refreshed in the background; until its keys
	// arrive, registrations with that directory's statements are answered 503 with Retry-After.
	JWKSURL string `json:"jwks_url,omitempty"`
}

// KeyFile is a local file holding one or more public keys.
type KeyFile struct {
	// Path is the file's path. Placeholders such as {env.KEY_DIR} are expanded once at provision.
	Path string `json:"path"`

	// KeyID, when set, is the kid statements name this key by; the file must hold exactly one key.
	// Default: the JWK's kid, or the key's RFC 7638 thumbprint.
	KeyID string `json:"kid,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.dcr",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision checks the configuration, loads the directories' keys, leases the shared caches of
// their jwks_url and builds the verifier; it names the configuration element at fault. It does no
// network I/O.
func (h *Handler) Provision(ctx caddy.Context) error {
	return h.provision(ctx, ctx.Storage())
}

// provision is Provision with the storage given, so that tests can provision without a config.
func (h *Handler) provision(ctx caddy.Context, storage certmagic.Storage) (err error) {
	defer func() {
		if err != nil {
			h.release() // Caddy calls Cleanup after a failed Provision too; tests do not
		}
	}()
	h.logger = ctx.Logger()
	if h.clock == nil {
		h.clock = time.Now
	}
	if h.Profile == "" {
		h.Profile = "generic"
	}
	p, ok := profileNames[h.Profile]
	if !ok {
		return fmt.Errorf("profile: unknown profile %q (generic, obie, cdr or revolut)", h.Profile)
	}
	h.profile = p
	if h.MaxBody == 0 {
		h.MaxBody = DefaultMaxBody
	}
	if h.MaxBody < 0 {
		return errors.New("max_body: must not be negative")
	}
	if h.SSAMaxAge < 0 {
		return errors.New("ssa_max_age: must not be negative")
	}
	h.algorithms = h.Algorithms
	if len(h.algorithms) == 0 {
		h.algorithms = []string{"PS256"}
	}
	for _, alg := range h.algorithms {
		if !keys.IsSupported(alg) {
			return fmt.Errorf("algorithms: unknown or unsupported algorithm %q", alg)
		}
	}
	if h.AllowUnsignedRequest {
		if p != profileGeneric {
			return fmt.Errorf("allow_unsigned_request: only profile generic takes JSON registrations, not %s", describeProfile(p))
		}
		if len(h.Directories) > 0 {
			h.logger.Warn("allow_unsigned_request: JSON registrations with a copied software statement are accepted; anyone who has seen a statement can register as that software")
		}
	}
	if p != profileGeneric && len(h.Audience) == 0 {
		return fmt.Errorf("audience: required for %s", describeProfile(p))
	}
	if p != profileGeneric && len(h.Directories) == 0 {
		return fmt.Errorf("directory: at least one trusted directory is required for %s", describeProfile(p))
	}
	if p == profileRevolut {
		if !slices.Equal(h.algorithms, []string{"PS256"}) {
			return errors.New("algorithms: profile revolut accepts PS256 only")
		}
		for _, a := range h.Audience {
			if !revolutAudience.MatchString(a) {
				return fmt.Errorf("audience: %q does not match ^[0-9a-zA-Z]{1,18}$ (profile revolut)", a)
			}
		}
	}
	if h.RedirectURIPattern != "" {
		re, err := regexp.Compile(h.RedirectURIPattern)
		if err != nil {
			return fmt.Errorf("redirect_uri_pattern: %w", err)
		}
		h.redirectRE = re
	}
	allow, err := parseAllowlist(h.JWKSURIAllow)
	if err != nil {
		return err
	}
	h.allow = allow
	h.softFetcher = keys.NewHTTPFetcher(keys.RemoteOptions{AllowHTTP: allow.plainHTTP, FetchTimeout: fetchTimeout, Clock: h.clock})
	h.software = newSoftwareJWKS(h.softFetcher, h.clock)
	if err := h.buildSSAVerifier(ctx, caddy.NewReplacer()); err != nil {
		return err
	}
	if storage == nil {
		return errors.New("no storage configured")
	}
	h.store = newClientStore(storage, storageScope(h.Audience))
	rc, release, err := acquireReplayCache(ctx, h.store.prefix, h.ReplayMaxEntries)
	if err != nil {
		return err
	}
	h.replay = rc
	h.releases = append(h.releases, release)
	return h.provisionClients(ctx)
}

// buildSSAVerifier loads the directories' keys into one verifier policy: one issuer per directory.
// A jwks_url is a lease on the shared JWKS cache, recorded for Cleanup.
func (h *Handler) buildSSAVerifier(ctx caddy.Context, repl *caddy.Replacer) error {
	if len(h.Directories) == 0 {
		return nil
	}
	pol := verify.Policy{
		ExpOptional:  true, // OBIE statements carry only iat: ssa_max_age bounds them (checkSSA)
		MaxTokenSize: int(h.MaxBody),
		Clock:        h.clock,
	}
	for _, d := range h.Directories {
		if d.Issuer == "" {
			return errors.New("directory: an issuer is required")
		}
		is := verify.Issuer{Name: d.Issuer, Algorithms: h.algorithms}
		for _, kf := range d.Keys {
			path := repl.ReplaceKnown(kf.Path, "")
			ks, err := keys.LoadFile(path, kf.KeyID)
			if err != nil {
				return fmt.Errorf("directory %q: key %s: %w", d.Issuer, path, err)
			}
			is.Sources = append(is.Sources, keys.NewStatic(ks...))
		}
		if d.JWKSURL != "" {
			shared := h.sharedRemote
			if shared == nil {
				shared = poolJWKS
			}
			src, release, err := shared(ctx, repl.ReplaceKnown(d.JWKSURL, ""), d.Issuer)
			if err != nil {
				return fmt.Errorf("directory %q: jwks_url: %w", d.Issuer, err)
			}
			h.releases = append(h.releases, release)
			is.Sources = append(is.Sources, src)
		}
		if len(is.Sources) == 0 {
			return fmt.Errorf("directory %q: needs a key or a jwks_url", d.Issuer)
		}
		pol.Issuers = append(pol.Issuers, is)
	}
	v, err := verify.New(pol)
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	h.ssaVerifier = v
	return nil
}

// ServeHTTP answers the registration request; it never calls next.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	var (
		status int
		body   map[string]any
		err    error
	)
	switch r.Method {
	case http.MethodPost:
		status, body, err = h.register(r)
	case http.MethodGet, http.MethodPut, http.MethodDelete:
		status, body, err = h.manage(r)
	default:
		err = plain(http.StatusMethodNotAllowed, "method: use POST to register, GET, PUT or DELETE to manage")
	}
	if err != nil {
		rej := rejectionFor(err)
		h.logRejection(r, rej)
		rej.write(w)
		return nil
	}
	writeJSON(w, status, body)
	return nil
}

// logRejection logs at debug level for the client's mistakes and at error level for ours. The
// registration access token and the JWTs are never logged.
func (h *Handler) logRejection(r *http.Request, rej *rejection) {
	lvl := zap.DebugLevel
	if rej.status >= 500 {
		lvl = zap.WarnLevel
		if rej.status == http.StatusInternalServerError {
			lvl = zap.ErrorLevel
		}
	}
	if c := h.logger.Check(lvl, "registration refused"); c != nil {
		c.Write(zap.String("method", r.Method), zap.Int("status", rej.status),
			zap.String("error", rej.code), zap.String("description", rej.desc), zap.Error(rej.err))
	}
}

// leeway is the clock skew allowed for time checks outside the engine (the engine's default).
func (h *Handler) leeway() time.Duration { return verify.DefaultLeeway }

// Cleanup gives back the shared JWKS caches of the directories' jwks_url (a cache that another
// config still uses, such as the one that replaces this config on reload, keeps running with its
// keys) and drops the software JWKS fetcher's idle connections. It works after a failed Provision.
func (h *Handler) Cleanup() error {
	h.release()
	return nil
}

// release gives back what the handler holds beyond the config; calling it again does nothing.
func (h *Handler) release() {
	rs := h.releases
	h.releases = nil
	for _, release := range rs {
		release()
	}
	if h.softFetcher != nil {
		h.softFetcher.CloseIdleConnections()
	}
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
