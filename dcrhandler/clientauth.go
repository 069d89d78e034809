package dcrhandler

import "slices"

// How a registered client authenticates at the token endpoint, under the generic profile (the
// open-banking profiles fix the method themselves: see checkProfileMetadata and rules.go).
//
// The choice for the methods that need a shared secret: client_secret_basic and
// client_secret_post (RFC 7591 §2; client_secret_basic is also the default when the request
// names no method) get a client_secret of 256 random bits, returned once in the registration
// response with client_secret_expires_at 0 (RFC 7591 §3.2.1: it does not expire) and stored only
// as its SHA-256, like the registration access token. client_secret_jwt is refused: its HMAC key
// would have to be stored in clear (RFC 7523 §2.2 verifies the client's MAC with the secret
// itself). Methods that verify the client's own keys need those keys in the metadata.

// defaultAuthMethod is RFC 7591 §2's default token_endpoint_auth_method.
const defaultAuthMethod = "client_secret_basic"

// secretMethods are the methods authenticated with a client_secret the server issues.
var secretMethods = []string{"client_secret_basic", "client_secret_post"}

// keyMethods are the methods authenticated with the client's public keys (jwks or jwks_uri):
// RFC 7523 §2.2 private_key_jwt, RFC 8705 §2.2 self_signed_tls_client_auth.
var keyMethods = []string{"private_key_jwt", "self_signed_tls_client_auth"}

// genericMethods are the token_endpoint_auth_method values the generic profile registers: the
// ones above, RFC 7591 §2 none (a public client) and RFC 8705 §2.1 tls_client_auth.
var genericMethods = append(append([]string{"none", "tls_client_auth"}, secretMethods...), keyMethods...)

// checkGenericAuth applies the rules above to md, filling in the default method so that the
// response names what was registered (RFC 7591 §3.2.1: every registered value, including those
// the server chose).
func checkGenericAuth(md map[string]any) *rejection {
	if _, ok := md["token_endpoint_auth_method"]; !ok {
		md["token_endpoint_auth_method"] = defaultAuthMethod
	}
	method, _ := md["token_endpoint_auth_method"].(string)
	switch {
	case method == "client_secret_jwt":
		return badMetadata("token_endpoint_auth_method: client_secret_jwt is not supported (client secrets are stored hashed); use private_key_jwt")
	case !slices.Contains(genericMethods, method):
		return badMetadata("token_endpoint_auth_method: not a method this server supports")
	case method == "tls_client_auth":
		// RFC 8705 §2.1.2: a tls_client_auth client MUST register the certificate subject the
		// server is to expect; this server compares the subject DN.
		if dn, _ := md["tls_client_auth_subject_dn"].(string); dn == "" {
			return badMetadata("tls_client_auth_subject_dn: required with tls_client_auth (RFC 8705 §2.1.2)")
		}
	case slices.Contains(keyMethods, method):
		_, jwks := md["jwks"]
		_, jwksURI := md["jwks_uri"]
		if !jwks && !jwksURI {
			return badMetadata("jwks, jwks_uri: " + method + " needs the client's keys (RFC 7591 §2)")
		}
	}
	return nil
}

// needsSecret reports whether registered metadata calls for a client_secret.
func needsSecret(md map[string]any) bool {
	method, _ := md["token_endpoint_auth_method"].(string)
	return slices.Contains(secretMethods, method)
}
