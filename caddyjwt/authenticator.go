package caddyjwt

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/caddyjwt/verify"
)

// authenticator is a provisioned Config: the verifier and the request-side settings. The handler
// and the authentication provider both use it, so they behave the same.
type authenticator struct {
	verifier     *verify.Verifier
	tokens       []TokenLocation
	requireEmpty []string
	userClaim    string
	realm        string
	logger       *zap.Logger
	certBinding  certBinding
	strip        bool          // strip_token: the token leaves the request handed on
	access       *accessLog    // nil when Caddy's access log redacts every token location
	remote       *remoteLeases // the remote key caches in use; released by Cleanup
	unname       func()        // removes the jwt_check name, if any; called by Cleanup
}

// provision applies defaults, checks the configuration and builds the verifier. Every config
// mistake is reported here, naming the element, so that it fails at `caddy validate`.
func (c *Config) provision(ctx caddy.Context, logger *zap.Logger) (*authenticator, error) {
	if len(c.Tokens) == 0 {
		c.Tokens = []TokenLocation{defaultTokenLocation}
	}
	if c.UserClaim == "" {
		c.UserClaim = "sub"
	}
	if err := c.validateLocations(); err != nil {
		return nil, err
	}
	anyAud, err := c.resolveAudiences()
	if err != nil {
		return nil, err
	}
	remote := new(remoteLeases)
	p, err := c.policy(caddy.NewReplacer(), withSigner(ctx, withRegistry(ctx, remoteSources(ctx, logger, remote, c.Issuers))))
	if err != nil {
		remote.release()
		return nil, err
	}
	p.OnCacheLookup = observeCacheLookup
	v, err := verify.New(p)
	if err != nil {
		remote.release()
		return nil, err
	}
	if c.VerifiedCache > 0 {
		liveCaches.add(v) // for obgate_jwt_verified_cache_entries; removed by release
	}
	a := &authenticator{
		verifier:     v,
		tokens:       c.Tokens,
		requireEmpty: c.RequireEmpty,
		userClaim:    c.UserClaim,
		realm:        c.Realm,
		certBinding:  certBinding{required: c.RequireCertBinding, header: c.ClientCertHeader},
		strip:        c.StripToken,
		access:       newAccessLog(ctx, c.Tokens),
		logger:       logger,
		remote:       remote,
	}
	if err := a.nameAuthenticator(ctx, c.Name); err != nil {
		a.release()
		return nil, err
	}
	warnAnyAudience(logger, anyAud)
	return a, nil
}

// authenticate extracts and verifies the request's token. Every failure is a *verify.Error.
func (a *authenticator) authenticate(r *http.Request) (*verify.Result, error) {
	tok, err := extractToken(r, a.tokens, a.requireEmpty)
	if err != nil {
		observeVerification(err) // a missing token and the 400s are rejections too
		return nil, err
	}
	res, err := a.verifier.Verify(r.Context(), []byte(tok))
	if err == nil {
		// After the signature, on every request (a verified-cache hit included): RFC 8705 §3.
		err = a.certBinding.check(r, res.Claims)
	}
	observeVerification(err)
	if err != nil {
		a.logRejection(r, tok, err)
		return nil, err
	}
	return res, nil
}

// logRejection logs a rejected token at debug level: the client decides how often that happens.
// The token itself is never logged, only a short hash to correlate.
func (a *authenticator) logRejection(r *http.Request, tok string, err error) {
	c := a.logger.Check(zapcore.DebugLevel, "token rejected")
	if c == nil {
		return
	}
	sum := sha256.Sum256([]byte(tok))
	fields := []zap.Field{
		zap.Stringer("reason", verify.ReasonOf(err)),
		zap.String("token_sha256_prefix", hex.EncodeToString(sum[:6])),
		zap.String("remote_ip", r.RemoteAddr),
		zap.Error(err),
	}
	if uk, ok := errors.AsType[*verify.UnknownKIDError](err); ok {
		// The fix is visible: the kid the token names next to the kids its issuer has.
		fields = append(fields, zap.String("token_kid", uk.ShownKID()), zap.Strings("known_kids", uk.KnownKIDs()))
	}
	c.Write(fields...)
}

// userID returns the user claim as a string, or "" when it is absent or not a scalar, and the
// same as an interface value (the claim's own when it is a string, so that nothing is boxed again).
func (a *authenticator) userID(res *verify.Result) (string, any) {
	v, ok := res.Claims[a.userClaim]
	if !ok {
		return "", ""
	}
	if s, ok := v.(string); ok {
		return s, v
	}
	s, _ := claimString(v)
	return s, s
}

// errNoKeys is what the authentication provider returns when keys are unavailable: a technical
// failure in Caddy's Authenticator contract, not a bad credential.
var errNoKeys = errors.New("issuer keys unavailable")

func wrapUnavailable(err error) error {
	return fmt.Errorf("%w: %v", errNoKeys, err)
}
