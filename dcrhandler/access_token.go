package dcrhandler

import (
	"context"
	"net/http"
	"path"
	"strings"

	"go.uber.org/zap"

	"github.com/obgate/obgate/internal/oauthreg"
)

// accessGrantKey carries, in a management request's context, an access token that the handler's
// token_endpoint verified as issued to the client the request names.
type accessGrantKey struct{}

type accessGrant struct{ clientID, token string }

// acceptAccessToken implements OB UK DCR v3.2+ management: with token_endpoint set, the Bearer
// token of a GET, PUT or DELETE on <base>/<client_id> may be an access token that endpoint
// issued to that client_id (signature, iss, aud, exp and certificate binding checked by the
// endpoint). Such a request is marked so that authentication accepts it; anything else is left
// to the registration access token check.
func (h *Handler) acceptAccessToken(r *http.Request) *http.Request {
	if h.TokenEndpoint == "" {
		return r
	}
	token, ok := bearerToken(r)
	if !ok || strings.Count(token, ".") != 2 { // a registration access token is no JWS
		return r
	}
	ep, ok := oauthreg.LookupEndpoint(h.TokenEndpoint)
	if !ok {
		h.logger.Warn("token_endpoint: no token endpoint of that name in the running config", zap.String("token_endpoint", h.TokenEndpoint))
		return r
	}
	clientID, err := ep.VerifyAccessToken(r, token)
	if err != nil || clientID != path.Base(r.URL.Path) {
		if c := h.logger.Check(zap.DebugLevel, "access token refused for management"); c != nil {
			c.Write(zap.Error(err))
		}
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), accessGrantKey{}, accessGrant{clientID: clientID, token: token}))
}

// accessTokenFor reports whether ctx carries a verified access token, token, issued to clientID.
func accessTokenFor(ctx context.Context, clientID, token string) bool {
	g, ok := ctx.Value(accessGrantKey{}).(accessGrant)
	return ok && g.clientID == clientID && g.token == token
}
