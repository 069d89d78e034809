package authserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/obgate/obgate/authserver/grant"
	"github.com/obgate/obgate/authserver/signing"
	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/clientcert"
	"github.com/obgate/obgate/internal/oauthreg"
	"github.com/obgate/obgate/replay"
)

func init() {
	caddy.RegisterModule(TokenEndpoint{})
}

// DefaultTokenMaxBody caps a token request's body (64 KiB): a form with a client assertion
// (at most 16 KiB) fits many times over.
const DefaultTokenMaxBody = 64 << 10

// TokenEndpoint is an OAuth 2.0 token endpoint for the client_credentials grant (RFC 6749
// §4.4). Clients authenticate with private_key_jwt (RFC 7523 §2.2) or tls_client_auth (RFC 8705
// §2.1); the answer is an RFC 9068 JWT access token signed by a jwt_signer, bound to the client's
// certificate (cnf.x5t#S256, RFC 8705 §3.1) whenever the client presented one. It answers every
// request itself and never calls the next handler: 200 {access_token, token_type, expires_in,
// scope}, or an RFC 6749 §5.2 error, both with Cache-Control: no-store.
//
// Clients are static (`clients`) or the registrations of dcr handlers (`dcr_clients`), always
// looked up in memory. Every answer is counted in obgate_token_grants_total{endpoint, outcome}.
// EXPERIMENTAL.
type TokenEndpoint struct {
	// Signer names the jwt_signer (global option) whose keys sign the tokens. Required.
	Signer string `json:"signer"`

	// Issuer is the iss of issued tokens; client assertions may name it as their aud. Required.
	Issuer string `json:"issuer"`

	// Audience is the aud of issued tokens: one value or several. Required.
	Audience []string `json:"audience"`

	// Lifetime of issued tokens. Default: 5m.
	Lifetime caddy.Duration `json:"lifetime,omitempty"`

	// DCRClients names dcr handlers (their `name`) whose registrations are clients here.
	DCRClients []string `json:"dcr_clients,omitempty"`

	// Clients are the static clients.
	Clients []StaticClient `json:"clients,omitempty"`

	// ClientCertHeader, when set, is the request header from which a trusted proxy
	// (the server's trusted_proxies) passes the client certificate in RFC 9440 form. Without
	// it only the TLS connection's verified certificate counts.
	ClientCertHeader string `json:"client_cert_header,omitempty"`

	// Name identifies the endpoint for `dcr { token_endpoint <name> }` and
	// `oauth_metadata { from <name> }`, and scopes its assertion single-use store. Default: the issuer.
	Name string `json:"name,omitempty"`

	// MaxBody caps the request body in bytes; a larger body is answered 413. Default: 65536.
	MaxBody int64 `json:"max_body,omitempty"`

	engine   *grant.Endpoint
	tokens   *verify.Verifier // the endpoint's own access tokens (dcr management)
	info     oauthreg.EndpointInfo
	grants   *grantCounters // obgate_token_grants_total of this endpoint
	releases []func()
	logger   *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (TokenEndpoint) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.token_endpoint",
		New: func() caddy.Module { return new(TokenEndpoint) },
	}
}

// Provision checks the configuration, finds the signer, loads the static clients' keys, opens the
// assertion single-use store, resolves the endpoint's obgate_token_grants_total series and
// publishes the endpoint under its name. It does no network I/O.
func (t *TokenEndpoint) Provision(ctx caddy.Context) (err error) {
	defer func() {
		if err != nil {
			t.release()
		}
	}()
	t.logger = ctx.Logger()
	repl := caddy.NewReplacer()
	if t.Signer == "" {
		return errors.New("signer: required")
	}
	if t.Issuer == "" {
		return errors.New("issuer: required")
	}
	if len(t.Audience) == 0 {
		return errors.New("audience: required")
	}
	if t.Lifetime < 0 {
		return errors.New("lifetime: must not be negative")
	}
	if t.MaxBody < 0 {
		return errors.New("max_body: must not be negative")
	}
	if t.MaxBody == 0 {
		t.MaxBody = DefaultTokenMaxBody
	}
	if t.Name == "" {
		t.Name = t.Issuer
	}
	if len(t.Clients) == 0 && len(t.DCRClients) == 0 {
		return errors.New("no clients: configure client blocks or clients <dcr-name>")
	}
	signer, err := LookupSigner(ctx, t.Signer)
	if err != nil {
		return fmt.Errorf("signer: %w", err)
	}
	signerKeys, err := lookupManager(ctx, t.Signer) // its published keys: a keys.Source
	if err != nil {
		return fmt.Errorf("signer: %w", err)
	}
	opts := grant.Options{
		Issuer:    t.Issuer,
		Audience:  t.Audience,
		Lifetime:  time.Duration(t.Lifetime),
		Minter:    readyMinter{signer},
		DNMatches: clientcert.DNMatches,
	}
	static, err := t.staticClients(ctx, repl, opts)
	if err != nil {
		return err
	}
	opts.Clients = endpointClients{static: static, dcr: t.DCRClients}
	store, release, err := replay.Open(ctx, "token_endpoint/"+t.Name, 0)
	if err != nil {
		return fmt.Errorf("replay store: %w", err)
	}
	t.releases = append(t.releases, release)
	opts.Replay = replayClaimer{store}
	if t.engine, err = grant.New(opts); err != nil {
		return err
	}
	if t.tokens, err = verify.New(verify.Policy{
		// RFC 9068 §4: typ must be at+jwt, the typ mint gives them, so that another token the
		// signer signed (or one without typ) never passes as an access token.
		Issuers:  []verify.Issuer{{Name: t.Issuer, Sources: []keys.Source{signerKeys}, Type: grant.AccessTokenType}},
		Audience: t.Audience,
		Require:  []string{"client_id"},
	}); err != nil {
		return fmt.Errorf("signer: %w", err)
	}
	t.info = t.describe(static)
	t.grants = newGrantCounters(ctx.GetMetricsRegistry(), t.Name)
	t.releases = append(t.releases, oauthreg.PublishEndpoint(t.Name, t))
	return nil
}

// ServeHTTP answers the token request; it never calls next.
func (t *TokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	tok, err := t.serve(r)
	if err != nil {
		e := grant.Answer(err)
		t.grants.observe(e)
		t.logRefusal(r, e)
		writeGrantError(w, e, t.Issuer)
		return nil
	}
	t.grants.observe(nil)
	writeToken(w, tok)
	return nil
}

// serve reads the request and runs the grant.
func (t *TokenEndpoint) serve(r *http.Request) (*grant.Token, error) {
	if r.Method != http.MethodPost {
		return nil, grant.MethodNotAllowed() // RFC 6749 §3.2
	}
	// Trailers could carry fields that were not there when the headers were checked.
	if len(r.Trailer) > 0 {
		return nil, grant.InvalidRequest("request trailers are not accepted")
	}
	if len(r.Header.Values("Content-Type")) > 1 {
		return nil, grant.InvalidRequest("Content-Type is repeated")
	}
	if r.ContentLength > t.MaxBody {
		return nil, grant.BodyTooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, t.MaxBody+1))
	if err != nil {
		return nil, grant.InvalidRequest("the request body could not be read")
	}
	if int64(len(body)) > t.MaxBody {
		return nil, grant.BodyTooLarge()
	}
	if len(r.Trailer) > 0 {
		return nil, grant.InvalidRequest("request trailers are not accepted")
	}
	req, err := grant.ParseForm(r.Header.Get("Content-Type"), body)
	if err != nil {
		return nil, err
	}
	p, err := t.presented(r)
	if err != nil {
		return nil, err
	}
	return t.engine.Grant(r.Context(), req, p)
}

// presented gathers what the request carries besides its form: the client certificate, this
// endpoint's URL, and the Authorization scheme a client tried.
func (t *TokenEndpoint) presented(r *http.Request) (grant.Presented, error) {
	var p grant.Presented
	cert, err := clientcert.FromRequest(r, t.ClientCertHeader)
	if err != nil {
		return p, grant.InvalidRequest("the client certificate header is malformed")
	}
	if cert != nil {
		p.Certificate, p.Thumbprint = cert, clientcert.Thumbprint(cert)
	}
	p.EndpointURL = endpointURL(r)
	if v := r.Header.Get("Authorization"); v != "" {
		scheme, _, _ := strings.Cut(v, " ")
		p.AuthorizationScheme = scheme
	}
	return p, nil
}

// endpointURL is the URL the client called, from the request's scheme, host and original path
// (before any handle_path stripping), without query.
func endpointURL(r *http.Request) string {
	p := r.URL.Path
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.URL != nil {
		p = orig.URL.Path
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: r.Host, Path: p}).String()
}

// logRefusal logs a refusal at debug level (the client's mistake) or warn/error (ours). The
// assertion and the tokens are never logged.
func (t *TokenEndpoint) logRefusal(r *http.Request, e *grant.Error) {
	lvl := zapcore.DebugLevel
	switch {
	case e.Status == http.StatusInternalServerError:
		lvl = zapcore.ErrorLevel
	case e.Status >= 500:
		lvl = zapcore.WarnLevel
	}
	if c := t.logger.Check(lvl, "token request refused"); c != nil {
		c.Write(zap.String("endpoint", t.Name), zap.Int("status", e.Status), zap.String("error", e.Code),
			zap.String("description", e.Description), zap.Error(e.Err), zap.String("remote", r.RemoteAddr))
	}
}

// Cleanup withdraws the endpoint's publication and gives back the single-use store and the
// shared JWKS caches of its clients. It works after a failed Provision.
func (t *TokenEndpoint) Cleanup() error {
	t.release()
	return nil
}

func (t *TokenEndpoint) release() {
	rs := t.releases
	t.releases = nil
	for i := len(rs) - 1; i >= 0; i-- {
		rs[i]()
	}
}

// readyMinter answers 503 with Retry-After, not 500, while the signer has no keys yet (just
// after the config starts, before the jwt_signer app has loaded or made them).
type readyMinter struct{ s Signer }

// Mint signs with the signer.
func (m readyMinter) Mint(ctx context.Context, typ string, claims map[string]any) (string, error) {
	tok, err := m.s.Mint(ctx, typ, claims)
	if errors.Is(err, signing.ErrNotReady) {
		return "", grant.Unavailable("the signing keys are not ready yet", time.Second, err)
	}
	return tok, err
}

// replayClaimer adapts the replay store to the engine: a replay is grant.ErrReplayed; anything
// else (full, unreachable) refuses the request with 503 and the store's Retry-After.
type replayClaimer struct{ s replay.Store }

// Claim claims an assertion's jti until its exp.
func (c replayClaimer) Claim(ctx context.Context, id [32]byte, until time.Time) error {
	err := c.s.Claim(ctx, id, until)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, replay.ErrReplayed):
		return grant.ErrReplayed
	}
	return retryAfterError{err: err, after: replay.RetryAfter(err)}
}

// retryAfterError carries the store's Retry-After to the engine.
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e retryAfterError) Error() string             { return e.err.Error() }
func (e retryAfterError) Unwrap() error             { return e.err }
func (e retryAfterError) RetryAfter() time.Duration { return e.after }

// Interface guards
var (
	_ caddy.Provisioner           = (*TokenEndpoint)(nil)
	_ caddy.CleanerUpper          = (*TokenEndpoint)(nil)
	_ caddyhttp.MiddlewareHandler = (*TokenEndpoint)(nil)
	_ oauthreg.Endpoint           = (*TokenEndpoint)(nil)
)
