package authserver

import (
	"errors"
	"net/http"

	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/clientcert"
	"github.com/obgate/obgate/internal/oauthreg"
)

// errAccessToken is any failed check of an access token presented to another handler; the
// cause is not told to the client.
var errAccessToken = errors.New("the access token is not valid here")

// VerifyAccessToken checks an access token this endpoint issued (OB UK DCR v3.2+ management
// calls carry one): signature with the signer's published keys, typ at+jwt (RFC 9068 §4), iss,
// aud, exp, a client_id
// claim, and, when the token carries cnf.x5t#S256, the request's client certificate (RFC 8705
// §3). It returns the token's client_id.
func (t *TokenEndpoint) VerifyAccessToken(r *http.Request, token string) (string, error) {
	res, err := t.tokens.Verify(r.Context(), []byte(token))
	if err != nil {
		return "", errors.Join(errAccessToken, err)
	}
	clientID, _ := res.Claims["client_id"].(string)
	if clientID == "" {
		return "", errAccessToken
	}
	if err := checkCertBinding(r, t.ClientCertHeader, res.Claims); err != nil {
		return "", errors.Join(errAccessToken, err)
	}
	return clientID, nil
}

// checkCertBinding applies RFC 8705 §3 to a token this endpoint issued, with the same rules as
// jwt_auth (verify.CertBindingOf): a bound token needs the request's client certificate.
func checkCertBinding(r *http.Request, header string, claims map[string]any) error {
	cb, err := verify.CertBindingOf(claims)
	if err != nil || !cb.Bound {
		return err
	}
	cert, err := clientcert.FromRequest(r, header)
	if err != nil {
		return err
	}
	var tp string
	if cert != nil {
		tp = clientcert.Thumbprint(cert)
	}
	return cb.Check(tp, false)
}

// Info describes the endpoint for oauth_metadata.
func (t *TokenEndpoint) Info() oauthreg.EndpointInfo { return t.info }
