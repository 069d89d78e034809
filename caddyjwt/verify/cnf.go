package verify

import (
	"crypto/subtle"
	"errors"
)

// CertBinding is the certificate binding a verified token carries (RFC 8705 §3.1).
type CertBinding struct {
	// Thumbprint is the token's cnf x5t#S256: base64url SHA-256 of the client certificate's DER.
	Thumbprint string
	// Bound reports whether the token carries cnf x5t#S256.
	Bound bool
}

// CertBindingOf reads cnf x5t#S256 from verified claims. A cnf that is not a JSON object, or an
// x5t#S256 that is not a non-empty string, is a ReasonCertMismatch rejection: a binding the
// gateway cannot read must not pass as no binding (RFC 7800 §3.1 makes cnf an object). A cnf
// whose only confirmation methods are ones the gateway cannot check (jkt, jwk, jwe, jku, kid,
// RFC 7800 §3.1 and RFC 9449 §6) is a ReasonUnsupportedBinding rejection: the issuer bound the
// token to a proof this gateway does not verify, so taking it as a bearer token would fail open.
func CertBindingOf(claims map[string]any) (CertBinding, error) {
	raw, ok := claims["cnf"]
	if !ok {
		return CertBinding{}, nil
	}
	cnf, ok := raw.(map[string]any)
	if !ok {
		return CertBinding{}, Reject(ReasonCertMismatch, errors.New("cnf is not a JSON object"))
	}
	v, ok := cnf["x5t#S256"]
	if !ok {
		return CertBinding{}, Reject(ReasonUnsupportedBinding, errors.New("cnf carries no x5t#S256"))
	}
	tp, ok := v.(string)
	if !ok || tp == "" {
		return CertBinding{}, Reject(ReasonCertMismatch, errors.New("cnf x5t#S256 is not a non-empty string"))
	}
	return CertBinding{Thumbprint: tp, Bound: true}, nil
}

// Check applies RFC 8705 §3 to a request: a bound token needs the request's client certificate,
// whose thumbprint (clientThumbprint, "" when the request presents none) must equal the token's;
// with required set, an unbound token is rejected too.
func (b CertBinding) Check(clientThumbprint string, required bool) error {
	if !b.Bound {
		if required {
			return Reject(ReasonNotCertBound, nil)
		}
		return nil
	}
	if clientThumbprint == "" {
		return Reject(ReasonCertMissing, nil)
	}
	if subtle.ConstantTimeCompare([]byte(b.Thumbprint), []byte(clientThumbprint)) != 1 {
		return Reject(ReasonCertMismatch, nil)
	}
	return nil
}
