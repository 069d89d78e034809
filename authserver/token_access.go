package authserver

import (
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/obgate/obgate/internal/clientcert"
	"github.com/obgate/obgate/internal/oauthreg"
)

// errAccessToken is any failed check of an access token presented to another handler; the
// cause is not told to the client.
var errAccessToken = errors.New("the access token is not valid here")

// VerifyAccessToken checks an access token this endpoint issued (OB UK DCR v3.2+ management
// calls carry one): signature with the signer's published keys, iss, aud, exp, a client_id
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
	if cnf, present := res.Claims["cnf"]; present {
		m, _ := cnf.(map[string]any)
		want, _ := m["x5t#S256"].(string)
		cert, err := clientcert.FromRequest(r, t.ClientCertHeader)
		if want == "" || err != nil || cert == nil || subtle.ConstantTimeCompare([]byte(clientcert.Thumbprint(cert)), []byte(want)) != 1 {
			return "", errAccessToken
		}
	}
	return clientID, nil
}

// Info describes the endpoint for oauth_metadata.
func (t *TokenEndpoint) Info() oauthreg.EndpointInfo { return t.info }
