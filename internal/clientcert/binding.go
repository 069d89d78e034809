package clientcert

// This file checks a verified token's certificate binding against the request: the one RFC 8705
// §3 check that jwt_auth and token_endpoint's own access tokens (dcr management) share.

import (
	"net/http"

	"github.com/obgate/obgate/caddyjwt/verify"
)

// CheckBinding applies RFC 8705 §3 to a request that presented a token with these verified
// claims: a token that carries cnf x5t#S256 is accepted only with that client certificate
// (FromRequest with header: the TLS connection's, else a trusted proxy's RFC 9440 header); with
// required set, a token that carries none is refused too. The certificate is looked at only for a
// bound token, so an unbound one costs one map lookup. Every refusal is a *verify.Error: a
// malformed or unsupported cnf (verify.CertBindingOf), ReasonNotCertBound, ReasonCertMissing, or
// ReasonCertMismatch (also for a malformed certificate header, which cannot prove the binding).
func CheckBinding(r *http.Request, header string, claims map[string]any, required bool) error {
	cb, err := verify.CertBindingOf(claims)
	if err != nil {
		return err
	}
	if !cb.Bound {
		return cb.Check("", required)
	}
	cert, err := FromRequest(r, header)
	if err != nil {
		return verify.Reject(verify.ReasonCertMismatch, err)
	}
	var tp string
	if cert != nil {
		tp = Thumbprint(cert)
	}
	return cb.Check(tp, required)
}
