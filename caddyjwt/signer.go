package caddyjwt

import (
	"errors"
	"fmt"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/caddyjwt/keys"
)

// signerApp is what jwt_auth needs of the jwt_signer app (package authserver): the public keys of a
// named signer. Asking the app through this interface keeps caddyjwt free of an import of
// authserver, which builds on caddyjwt's engines.
type signerApp interface {
	Keys(name string) (keys.Source, error)
}

// withSigner extends a key source builder with "signer" sources: the published keys of a local
// jwt_signer, read from memory (no network), following its rotations.
func withSigner(ctx caddy.Context, remote remoteSourceFunc) remoteSourceFunc {
	return func(kind, name, issuer string) (keys.Source, error) {
		if kind != "signer" {
			if remote == nil {
				return nil, errors.New("remote keys are not available here")
			}
			return remote(kind, name, issuer)
		}
		v, err := ctx.App("jwt_signer")
		if err != nil {
			return nil, fmt.Errorf("the jwt_signer app is not available: %w", err)
		}
		app, ok := v.(signerApp)
		if !ok {
			return nil, fmt.Errorf("unexpected jwt_signer app type %T", v)
		}
		return app.Keys(name)
	}
}
