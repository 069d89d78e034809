package caddyjwt

import (
	"net/http"

	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/clientcert"
)

// certBinding is a policy's RFC 8705 §3 rule: a token that carries cnf x5t#S256 must come with
// that client certificate; with required, every token must carry one.
type certBinding struct {
	required bool
	header   string // client_cert_header, honoured from trusted_proxies only
}

// check runs after the signature and claims were verified (clientcert.CheckBinding).
func (b certBinding) check(r *http.Request, claims map[string]any) error {
	return clientcert.CheckBinding(r, b.header, claims, b.required)
}

// checkWithoutRequest applies what can be checked without a request (jwt_check): the cnf claim is
// well formed, and present when required.
func (b certBinding) checkWithoutRequest(claims map[string]any) error {
	cb, err := verify.CertBindingOf(claims)
	if err != nil {
		return err
	}
	if !cb.Bound {
		return cb.Check("", b.required)
	}
	return nil
}
