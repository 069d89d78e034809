// Package authserver makes the gateway the authorization server of its own clients. This file and
// app.go hold the jwt_signer app (named signing key sets kept in Caddy's storage) and the Signer
// that token-issuing handlers mint with; jwks.go serves a signer's public keys. The key engine is
// authserver/signing.
package authserver

import (
	"context"
	"fmt"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/authserver/signing"
)

// Signer mints tokens with a named jwt_signer's current key.
//
// The value LookupSigner returns is a *signing.Manager, which also answers MaxTokenLifetime()
// (the longest exp - now Mint accepts: a token endpoint should check its lifetime against it at
// provision) and KeyID() (the kid that signs now).
type Signer interface {
	// Mint signs claims as a compact JWS whose protected header is {alg, kid, typ} (kid = RFC 7638
	// thumbprint of the current signing key). claims must carry a numeric exp no further ahead
	// than the signer's max_token_lifetime (default 24h).
	Mint(ctx context.Context, typ string, claims map[string]any) (string, error)
	// Algorithm is the JWS alg of the current key (ES256 by default).
	Algorithm() string
}

// LookupSigner returns the named jwt_signer (global option) of the running config. It fails,
// naming the signer, when the config has none of that name. Call it from Provision; the signer
// mints once the app has started (before that, Mint returns signing.ErrNotReady).
func LookupSigner(ctx caddy.Context, name string) (Signer, error) {
	return lookupManager(ctx, name)
}

// lookupManager finds the named signer's manager in the config's jwt_signer app.
func lookupManager(ctx caddy.Context, name string) (*signing.Manager, error) {
	v, err := ctx.App(appID)
	if err != nil {
		return nil, fmt.Errorf("jwt_signer %q: %w", name, err)
	}
	app, ok := v.(*SignerApp)
	if !ok {
		return nil, fmt.Errorf("jwt_signer %q: unexpected app type %T", name, v)
	}
	return app.manager(name)
}
