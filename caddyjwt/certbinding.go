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

// check runs after the signature and claims were verified. The client certificate is looked at only
// when the token is bound (or binding is required), so unbound tokens cost one map lookup.
func (b certBinding) check(r *http.Request, claims map[string]any) error {
	cb, err := verify.CertBindingOf(claims)
	if err != nil {
		return err
	}
	if !cb.Bound {
		return cb.Check("", b.required)
	}
	cert, err := clientcert.FromRequest(r, b.header)
	if err != nil {
		return verify.Reject(verify.ReasonCertMismatch, err)
	}
	var tp string
	if cert != nil {
		tp = clientcert.Thumbprint(cert)
	}
	return cb.Check(tp, b.required)
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
