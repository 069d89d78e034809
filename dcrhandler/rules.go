package dcrhandler

import (
	"slices"
	"strings"
)

// The enumerated metadata rules of the profiles, each from its standard's text. A rule names one
// metadata field, the values it may take, and when it is required; checkRules applies a profile's
// list and answers invalid_client_metadata naming the field.

// valueRule constrains one metadata field: a string (or, with each set, every string of an
// array) must be one of allowed (any non-empty string when allowed is nil). required makes the
// field mandatory; requiredIf makes it mandatory when the metadata holds some condition.
type valueRule struct {
	field      string
	allowed    []string
	each       bool
	required   bool
	requiredIf func(md map[string]any) bool
	when       string // what requiredIf tests, for the error description
}

// obResponseTypes and obGrantTypes are the codes of UK Open Banking DCR v3.3 (and v3.2), "Data
// Model / OBClientRegistrationRequest1 / Data Dictionary": response_types "code" or "code
// id_token", grant_types client_credentials, authorization_code or refresh_token. Anything else,
// implicit included, is refused: the specification lets an ASPSP reject an unsupported value
// (RFC 7591 §3.2.2 invalid_client_metadata) or replace it, and a gateway that replaced it would
// register a client with metadata it did not ask for.
var (
	obResponseTypes = []string{"code", "code id_token"}
	obGrantTypes    = []string{"client_credentials", "authorization_code", "refresh_token"}
)

// obieRules apply under obie and revolut (whose statements are OB Directory statements and whose
// request is an OB DCR request).
var obieRules = []valueRule{
	{field: "response_types", allowed: obResponseTypes, each: true},
	{field: "grant_types", allowed: obGrantTypes, each: true},
}

// cdrSigningAlgs are the JWS algorithms of the CDR standards (FAPI: PS256, ES256).
var cdrSigningAlgs = []string{"PS256", "ES256"}

// cdrRules are the CDR Dynamic Client Registration API's (Consumer Data Standards, cds_dcr v1.28)
// rules for the request JWT's metadata: schema ClientRegistration = the JWT claims and
// RegistrationProperties. The members RegistrationProperties requires that the Data Recipient
// chooses are required here; client_name, logo_uri, org_id and the like come from the CDR
// Register's software statement, not the request.
var cdrRules = []valueRule{
	// token_endpoint_auth_method: enum [private_key_jwt]; token_endpoint_auth_signing_alg: enum
	// [PS256, ES256]; both required.
	{field: "token_endpoint_auth_method", allowed: []string{"private_key_jwt"}, required: true},
	{field: "token_endpoint_auth_signing_alg", allowed: cdrSigningAlgs, required: true},
	// grant_types: items enum [client_credentials, authorization_code, refresh_token]; required.
	{field: "grant_types", allowed: obGrantTypes, each: true, required: true},
	// response_types: items enum [code, code id_token]; required.
	{field: "response_types", allowed: []string{"code", "code id_token"}, each: true, required: true},
	// application_type: "The only supported application type will be web".
	{field: "application_type", allowed: []string{"web"}},
	// id_token_signed_response_alg, request_object_signing_alg: enum [PS256, ES256]; required.
	{field: "id_token_signed_response_alg", allowed: cdrSigningAlgs, required: true},
	{field: "request_object_signing_alg", allowed: cdrSigningAlgs, required: true},
	// id_token_encrypted_response_alg / _enc: "Required if OIDC Hybrid Flow (response type
	// code id_token) is registered." The standard leaves their values to JWA (ExternalRef).
	{field: "id_token_encrypted_response_alg", requiredIf: hasResponseType("code id_token"), when: "with response type code id_token"},
	{field: "id_token_encrypted_response_enc", requiredIf: hasResponseType("code id_token"), when: "with response type code id_token"},
	// authorization_signed_response_alg: enum [PS256, ES256], "Required if response_type of code
	// is registered by the client" (JARM).
	{field: "authorization_signed_response_alg", allowed: cdrSigningAlgs, requiredIf: hasResponseType("code"), when: "with response type code"},
	// authorization_encrypted_response_alg: enum [RSA-OAEP, RSA-OAEP-256], "Required if
	// authorization_encrypted_response_enc is included"; _enc: enum [A256GCM, A128CBC-HS256].
	{field: "authorization_encrypted_response_alg", allowed: []string{"RSA-OAEP", "RSA-OAEP-256"},
		requiredIf: present("authorization_encrypted_response_enc"), when: "with authorization_encrypted_response_enc"},
	{field: "authorization_encrypted_response_enc", allowed: []string{"A256GCM", "A128CBC-HS256"}},
}

// rules returns the profile's enumerated rules.
func (p profile) rules() []valueRule {
	switch p {
	case profileOBIE, profileRevolut:
		return obieRules
	case profileCDR:
		return cdrRules
	}
	return nil
}

// checkRules applies rules to md (whose JSON types checkTypes has already checked).
func checkRules(md map[string]any, rules []valueRule) *rejection {
	for _, r := range rules {
		v, ok := md[r.field]
		if !ok || v == nil {
			if r.required {
				return badMetadata(r.field + ": required")
			}
			if r.requiredIf != nil && r.requiredIf(md) {
				return badMetadata(r.field + ": required " + r.when)
			}
			continue
		}
		values, ok := stringArray(v)
		if !r.each {
			s, isString := v.(string)
			values, ok = []string{s}, isString
		}
		if !ok {
			return badMetadata(r.field + ": has the wrong type")
		}
		if r.each && r.required && len(values) == 0 {
			return badMetadata(r.field + ": must not be empty")
		}
		for _, s := range values {
			if s == "" || (r.allowed != nil && !slices.Contains(r.allowed, s)) {
				return badMetadata(r.field + ": must be " + describeAllowed(r))
			}
		}
	}
	return nil
}

func describeAllowed(r valueRule) string {
	if r.allowed == nil {
		return "a non-empty string"
	}
	quoted := make([]string, len(r.allowed))
	for i, a := range r.allowed {
		quoted[i] = `"` + a + `"`
	}
	prefix := ""
	if r.each {
		prefix = "values among "
	} else {
		prefix = "one of "
	}
	return prefix + strings.Join(quoted, ", ")
}

// hasResponseType reports whether the metadata registers response type t.
func hasResponseType(t string) func(map[string]any) bool {
	return func(md map[string]any) bool {
		list, _ := stringArray(md["response_types"])
		return slices.Contains(list, t)
	}
}

// present reports whether the metadata holds field.
func present(field string) func(map[string]any) bool {
	return func(md map[string]any) bool {
		v, ok := md[field]
		return ok && v != nil
	}
}
