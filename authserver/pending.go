package authserver

// TEMPORARY: stand-ins for APIs other worktrees are landing (authserver.LookupSigner and
// LookupKeys, replay.Open, internal/clientcert). This file is deleted when they land.

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/caddyjwt/keys"
)

// Signer mints tokens with a named jwt_signer's current key.
type Signer interface {
	Mint(ctx context.Context, typ string, claims map[string]any) (string, error)
	Algorithm() string
}

var errPending = errors.New("jwt_signer: not available in this build yet")

// LookupSigner returns the named jwt_signer.
func LookupSigner(ctx caddy.Context, name string) (Signer, error) { return nil, errPending }

// LookupKeys returns the public keys of the named jwt_signer.
func LookupKeys(ctx caddy.Context, name string) (keys.Source, error) { return nil, errPending }

func clientCertFromRequest(r *http.Request, header string) (*x509.Certificate, error) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		return r.TLS.VerifiedChains[0][0], nil
	}
	return nil, nil
}

func certThumbprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
