package dcrhandler

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// profile is a set of registration rules: RFC 7591 alone, or an open-banking profile on top.
type profile int

const (
	profileGeneric profile = iota // RFC 7591
	profileOBIE                   // UK Open Banking DCR v3.3
	profileCDR                    // Australian Consumer Data Right
	profileRevolut                // seed 003: a bank's strict DCR
)

var profileNames = map[string]profile{
	"generic": profileGeneric, "obie": profileOBIE, "cdr": profileCDR, "revolut": profileRevolut,
}

func (p profile) String() string {
	for name, q := range profileNames {
		if q == p {
			return name
		}
	}
	return "generic"
}

// requiresJTI: a request JWT's jti is required (and never replayed within the request's
// lifetime) under every profile, generic included, so that a captured registration request
// cannot be played again (RFC 7519 §4.1.7). Plain JSON registrations (generic) carry no JWT and
// nothing to replay: each creates a new client.
func (p profile) requiresJTI() bool { return true }

// issIsSoftwareID: the request JWT's iss must be the statement's software_id (OBIE DCR v3.3; the
// CDR's software product ID).
func (p profile) issIsSoftwareID() bool { return p == profileOBIE || p == profileCDR }

// uniqueSoftware: one registration per software_id (cdr).
func (p profile) uniqueSoftware() bool { return p == profileCDR }

// ssaRedirectClaim is the software statement claim that lists the redirect URIs a registration
// may use (a subset of them, all https), or "" where the profile has none: obie's
// software_redirect_uris (OBIE DCR v3.3) and the CDR Register's redirect_uris.
func (p profile) ssaRedirectClaim() string {
	switch p {
	case profileOBIE:
		return "software_redirect_uris"
	case profileCDR:
		return "redirect_uris"
	}
	return ""
}

// dnClaim is the metadata field holding the client's TLS certificate subject DN.
func (p profile) dnClaim() string {
	if p == profileRevolut {
		return "tls_client_auth_dn"
	}
	return "tls_client_auth_subject_dn" // RFC 8705 §2.1.2
}

// cdrSSALifetime is the CDR Register's software statement lifetime.
const cdrSSALifetime = 10 * time.Minute

// revolutAudience is seed 003's rule for the request's aud.
var revolutAudience = regexp.MustCompile(`^[0-9a-zA-Z]{1,18}$`)

// revolutRequired are the claims seed 003 requires in the request JWT, in its order.
var revolutRequired = []string{
	"iss", "iat", "exp", "aud", "scope", "redirect_uris", "token_endpoint_auth_method",
	"application_type", "id_token_signed_response_alg", "request_object_signing_alg",
	"tls_client_auth_dn", "software_statement",
}

// jwtClaims are the request JWT's own claims (RFC 7519 §4.1): not client metadata.
var jwtClaims = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti"}

// serverFields are assigned by the server (RFC 7591 §3.2.1, RFC 7592): a client cannot set them.
var serverFields = []string{
	"client_id", "client_secret", "client_id_issued_at", "client_secret_expires_at",
	"registration_access_token", "registration_client_uri",
}

// stringFields are RFC 7591 §2 (and RFC 8705, OIDC Registration) metadata that must be strings.
var stringFields = []string{
	"token_endpoint_auth_method", "client_name", "client_uri", "logo_uri", "tos_uri", "policy_uri",
	"jwks_uri", "software_id", "software_version", "application_type", "id_token_signed_response_alg",
	"request_object_signing_alg", "token_endpoint_auth_signing_alg", "tls_client_auth_subject_dn",
	"tls_client_auth_dn", "sector_identifier_uri", "subject_type",
	"id_token_encrypted_response_alg", "id_token_encrypted_response_enc", // OIDC Registration §2
	"authorization_signed_response_alg", "authorization_encrypted_response_alg", // JARM §3
	"authorization_encrypted_response_enc",
}

// stringArrayFields are RFC 7591 §2 metadata that must be arrays of strings.
var stringArrayFields = []string{"redirect_uris", "grant_types", "response_types", "contacts"}

// rfc7591Metadata are the metadata names whose software statement value takes precedence over the
// request's under the generic profile (RFC 7591 §2.3).
var rfc7591Metadata = []string{
	"redirect_uris", "token_endpoint_auth_method", "grant_types", "response_types", "client_name",
	"client_uri", "logo_uri", "scope", "contacts", "tos_uri", "policy_uri", "jwks_uri", "jwks",
	"software_id", "software_version",
}

// checkSSA applies the profile's rules to a verified software statement's claims.
func (h *Handler) checkSSA(ssa map[string]any, now time.Time) *rejection {
	if _, ok := ssa["exp"]; !ok && h.SSAMaxAge > 0 {
		iat, ok := numeric(ssa["iat"])
		if !ok {
			return badSSA("iat: the software statement has neither exp nor iat")
		}
		if now.Sub(time.Unix(iat, 0)) > time.Duration(h.SSAMaxAge)+h.leeway() {
			return badSSA("iat: the software statement is older than ssa_max_age")
		}
	}
	if h.profile != profileGeneric {
		if id, ok := ssa["software_id"].(string); !ok || id == "" {
			return badSSA("software_id: the software statement must carry a software_id")
		}
	}
	switch h.profile {
	case profileOBIE, profileRevolut:
		// An OBIE directory statement says whether the organisation is active; one that is not
		// is valid but must not register here (RFC 7591 §3.2.2 unapproved_software_statement).
		if st, ok := ssa["org_status"]; ok && st != "Active" {
			return unapprovedSSA("org_status: the software statement's organisation is not Active")
		}
	case profileCDR:
		iat, okIat := numeric(ssa["iat"])
		exp, okExp := numeric(ssa["exp"])
		if !okIat || !okExp {
			return badSSA("exp, iat: a CDR software statement must carry both")
		}
		if exp-iat > int64(cdrSSALifetime/time.Second) { // in seconds: no Duration overflow
			return badSSA("exp: a CDR software statement lives at most 10 minutes")
		}
	}
	return nil
}

// jwksLocation returns where the software's keys are, from the verified software statement:
// software_jwks_endpoint (obie, and revolut's OBIE statements), jwks_uri (cdr, generic, revolut),
// or inline jwks (generic only). field names the claim for error messages.
func (h *Handler) jwksLocation(ssa map[string]any) (rawURL string, inline map[string]any, field string, rej *rejection) {
	var fields []string
	switch h.profile {
	case profileOBIE:
		fields = []string{"software_jwks_endpoint"}
	case profileCDR:
		fields = []string{"jwks_uri"}
	case profileRevolut:
		fields = []string{"software_jwks_endpoint", "jwks_uri"}
	default:
		fields = []string{"jwks_uri"}
		if _, ok := ssa["jwks_uri"]; !ok {
			if jwks, ok := ssa["jwks"].(map[string]any); ok {
				return "", jwks, "jwks", nil
			}
		}
	}
	for _, f := range fields {
		v, ok := ssa[f]
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok || s == "" {
			return "", nil, f, badSSA(f + ": must be a URL")
		}
		return s, nil, f, nil
	}
	return "", nil, fields[0], badSSA(fields[0] + ": the software statement does not say where the software's keys are")
}

// buildMetadata validates the request's metadata for the profile and returns what is registered:
// every metadata field of the request (JWT claims and server-assigned fields removed), with the
// software statement's software_id (and, under generic, its RFC 7591 metadata: §2.3).
func (h *Handler) buildMetadata(claims, ssa map[string]any) (map[string]any, *rejection) {
	if h.profile == profileRevolut {
		for _, name := range revolutRequired {
			if v, ok := claims[name]; !ok || v == nil {
				return nil, badMetadata(name + ": required")
			}
		}
	}
	md := make(map[string]any, len(claims))
	for k, v := range claims {
		if slices.Contains(jwtClaims, k) || slices.Contains(serverFields, k) || k == "software_statement" {
			continue
		}
		md[k] = v
	}
	if id, ok := ssa["software_id"].(string); ok {
		if claimed, present := md["software_id"]; present && claimed != id {
			return nil, badMetadata("software_id: differs from the software statement's")
		}
		md["software_id"] = id
	}
	if h.profile == profileGeneric {
		for _, k := range rfc7591Metadata {
			if v, ok := ssa[k]; ok {
				md[k] = v
			}
		}
	}
	if rej := checkNumbers(md); rej != nil {
		return nil, rej
	}
	if rej := checkTypes(md, h.profile); rej != nil {
		return nil, rej
	}
	if _, both := md["jwks"]; both {
		if _, uri := md["jwks_uri"]; uri {
			return nil, badMetadata("jwks, jwks_uri: only one of them may be given (RFC 7591 §2)")
		}
	}
	if rej := h.checkRedirectURIs(md, ssa); rej != nil {
		return nil, rej
	}
	if rej := h.checkProfileMetadata(md, claims); rej != nil {
		return nil, rej
	}
	if rej := checkRules(md, h.profile.rules()); rej != nil {
		return nil, rej
	}
	if h.profile == profileGeneric {
		if rej := checkGenericAuth(md); rej != nil {
			return nil, rej
		}
	}
	return md, nil
}

// checkTypes checks the JSON types of the known metadata fields.
func checkTypes(md map[string]any, p profile) *rejection {
	for _, f := range stringFields {
		if v, ok := md[f]; ok {
			if _, ok := v.(string); !ok {
				return badMetadata(f + ": must be a string")
			}
		}
	}
	for _, f := range stringArrayFields {
		if v, ok := md[f]; ok {
			if _, ok := stringArray(v); !ok {
				return badMetadata(f + ": must be an array of strings")
			}
		}
	}
	if v, ok := md["scope"]; ok {
		_, isString := v.(string)
		_, isArray := stringArray(v)
		if !isString && !(p == profileRevolut && isArray) { // seed 003's example sends an array
			return badMetadata("scope: must be a string of space-separated scopes")
		}
	}
	if v, ok := md["jwks"]; ok {
		if _, ok := v.(map[string]any); !ok {
			return badMetadata("jwks: must be a JWK Set object")
		}
	}
	return nil
}

// checkRedirectURIs applies RFC 7591 §2 (absolute URIs without fragment), redirect_uri_pattern,
// and the profiles' rules: under obie and cdr, https and a subset of the statement's redirect URIs.
func (h *Handler) checkRedirectURIs(md, ssa map[string]any) *rejection {
	v, present := md["redirect_uris"]
	if !present {
		if h.profile == profileOBIE || h.profile == profileCDR {
			return badRedirect("redirect_uris: required")
		}
		return nil
	}
	uris, _ := stringArray(v)
	if len(uris) == 0 {
		return badRedirect("redirect_uris: must not be empty")
	}
	ssaClaim := h.profile.ssaRedirectClaim()
	allowed, _ := stringArray(ssa[ssaClaim])
	for _, s := range uris {
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" || u.Fragment != "" || strings.Contains(s, "#") {
			return badRedirect("redirect_uris: each must be an absolute URI without a fragment")
		}
		if h.redirectRE != nil && !h.redirectRE.MatchString(s) {
			return badRedirect("redirect_uris: each must match the server's redirect_uri_pattern")
		}
		if ssaClaim != "" {
			if u.Scheme != "https" || u.Host == "" {
				return badRedirect("redirect_uris: each must be an https URI")
			}
			if !slices.Contains(allowed, s) {
				return badRedirect("redirect_uris: each must be one of the software statement's " + ssaClaim)
			}
		}
	}
	return nil
}

// checkProfileMetadata applies the obie and revolut rules on the authentication method, the DN and
// the algorithms. claims are the request's claims (for revolut's aud).
func (h *Handler) checkProfileMetadata(md, claims map[string]any) *rejection {
	method, _ := md["token_endpoint_auth_method"].(string)
	switch h.profile {
	case profileOBIE:
		if method != "tls_client_auth" && method != "private_key_jwt" {
			return badMetadata("token_endpoint_auth_method: must be tls_client_auth or private_key_jwt")
		}
		_, hasDN := md["tls_client_auth_subject_dn"]
		if method == "tls_client_auth" && !hasDN {
			return badMetadata("tls_client_auth_subject_dn: required with tls_client_auth")
		}
		if method != "tls_client_auth" && hasDN {
			return badMetadata("tls_client_auth_subject_dn: only allowed with tls_client_auth")
		}
	case profileRevolut:
		if rej := checkRevolutAudience(claims["aud"]); rej != nil {
			return rej
		}
		if !hasScope(md["scope"], "openid") {
			return badMetadata("scope: must contain openid")
		}
		if method != "tls_client_auth" {
			return badMetadata("token_endpoint_auth_method: must be tls_client_auth")
		}
		for _, f := range []string{"id_token_signed_response_alg", "request_object_signing_alg"} {
			if md[f] != "PS256" {
				return badMetadata(f + ": must be PS256")
			}
		}
		if dn, _ := md["tls_client_auth_dn"].(string); strings.TrimSpace(dn) == "" {
			return badMetadata("tls_client_auth_dn: must not be empty")
		}
	}
	return nil
}

// checkRevolutAudience: every aud value must match ^[0-9a-zA-Z]{1,18}$ (seed 003).
func checkRevolutAudience(aud any) *rejection {
	values, ok := stringArray(aud)
	if s, isString := aud.(string); isString {
		values, ok = []string{s}, true
	}
	if !ok || len(values) == 0 {
		return badMetadata("aud: must be a string")
	}
	for _, a := range values {
		if !revolutAudience.MatchString(a) {
			return badMetadata("aud: must match ^[0-9a-zA-Z]{1,18}$")
		}
	}
	return nil
}

// hasScope reports whether a scope value (a space-separated string, or an array) holds want.
func hasScope(v any, want string) bool {
	if s, ok := v.(string); ok {
		return slices.Contains(strings.Fields(s), want)
	}
	list, _ := stringArray(v)
	return slices.Contains(list, want)
}

// stringArray returns v as []string when it is a JSON array of strings.
func stringArray(v any) ([]string, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		s, ok := item.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// numeric reads a JSON number as whole seconds.
func numeric(v any) (int64, bool) {
	f, ok := jsonFloat(v)
	return int64(f), ok
}

// describeProfile is used in config errors.
func describeProfile(p profile) string { return fmt.Sprintf("profile %s", p) }
