// Package obgate registers all of obgate's Caddy modules. Import it for its side effects, as
// cmd/caddy does and as `xcaddy build --with github.com/obgate/obgate` does:
//
//	import _ "github.com/obgate/obgate"
package obgate

import (
	// jwt_signer, jwt_jwks, token_endpoint, oauth_metadata: the gateway as authorization server.
	_ "github.com/obgate/obgate/authserver"
	// jwt_auth, the jwt authentication provider and the `caddy jwt` command.
	_ "github.com/obgate/obgate/caddyjwt"
	// dcr, Dynamic Client Registration (RFC 7591/7592).
	_ "github.com/obgate/obgate/dcrhandler"
	// replay_store, the single-use store of every replay check (memory or Redis).
	_ "github.com/obgate/obgate/replay"
)
