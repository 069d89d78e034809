package authserver

import (
	"errors"
	"net/http"

	"github.com/obgate/obgate/internal/clientcert"
	"github.com/obgate/obgate/internal/oauthreg"
)

// errAccessToken is any failed check of an access token presented to another handler; the
// cause is not told to the client.
var errAccessToken = errors.New("the access token is not valid here")

// VerifyAccessToken checks an access token this endpoint issued (OB UK DCR v3.2+ management
// calls carry one): signature with the signer's published keys, typ at+jwt (RFC 9068 §4), iss,
// aud, exp, a client_id claim, and, when the token carries cnf.x5t#S256, the request's client
// certificate (RFC 8705 §3, the check jwt_auth makes: clientcert.CheckBinding). It returns the
// token's client_id.
func (t *TokenEndpoint) VerifyAccessToken(r *http.Request, token string) (string, error) {
	res, err := t.tokens.Verify(r.Context(), []byte(token))
	if err != nil {
		return "", errors.Join(errAccessToken, err)
	}
	clientID, _ := res.Claims["client_id"].(string)
	if clientID == "" {
		return "", errAccessToken
	}
	if err := clientcert.CheckBinding(r, t.ClientCertHeader, res.Claims, false); err != nil {
		return "", errors.Join(errAccessToken, err)
	}
	return clientID, nil
}

// Info describes the endpoint for oauth_metadata.
func (t *TokenEndpoint) Info() oauthreg.EndpointInfo { return t.info }
