package dcrhandler

import (
	"net/http"
	"testing"
)

// TestProfileValueRules checks every enumerated rule of the OB UK and CDR profiles both ways: the
// baseline request of each profile is accepted (the first case), and each change turns it into
// 400 invalid_client_metadata naming the field, or keeps it accepted.
func TestProfileValueRules(t *testing.T) {
	f := newFixture(t)
	del := func(k string) func(map[string]any) { return func(c map[string]any) { delete(c, k) } }
	both := func(muts ...func(map[string]any)) func(map[string]any) {
		return func(c map[string]any) {
			for _, m := range muts {
				m(c)
			}
		}
	}
	for _, tc := range []struct {
		profile, name string
		req           func(map[string]any)
		field         string // "" = accepted
	}{
		// UK Open Banking DCR v3.3 data dictionary: response_types and grant_types codes.
		{"obie", "baseline accepted", nil, ""},
		{"obie", "response_types code accepted", set("response_types", []string{"code"}), ""},
		{"obie", "response_types code id_token accepted", set("response_types", []string{"code id_token"}), ""},
		{"obie", "response_types code id_token token refused (DCR-011)", set("response_types", []string{"code id_token token"}), "response_types"},
		{"obie", "response_types token refused", set("response_types", []string{"code", "token"}), "response_types"},
		{"obie", "response_types id_token refused", set("response_types", []string{"id_token"}), "response_types"},
		{"obie", "OB grant types accepted", set("grant_types", []string{"client_credentials", "authorization_code", "refresh_token"}), ""},
		{"obie", "implicit grant refused", set("grant_types", []string{"authorization_code", "implicit"}), "grant_types"},
		{"obie", "password grant refused", set("grant_types", []string{"password"}), "grant_types"},
		{"obie", "response_types not an array refused", set("response_types", "code"), "response_types"},
		{"revolut", "baseline accepted", nil, ""},
		{"revolut", "implicit grant refused", set("grant_types", []string{"implicit"}), "grant_types"},
		{"revolut", "response_types token refused", set("response_types", []string{"token"}), "response_types"},

		// CDR DCR API (cds_dcr v1.28): ClientRegistration / RegistrationProperties.
		{"cdr", "baseline accepted", nil, ""},
		{"cdr", "token_endpoint_auth_method missing refused", del("token_endpoint_auth_method"), "token_endpoint_auth_method"},
		{"cdr", "tls_client_auth refused", set("token_endpoint_auth_method", "tls_client_auth"), "token_endpoint_auth_method"},
		{"cdr", "token_endpoint_auth_signing_alg ES256 accepted", set("token_endpoint_auth_signing_alg", "ES256"), ""},
		{"cdr", "token_endpoint_auth_signing_alg RS256 refused", set("token_endpoint_auth_signing_alg", "RS256"), "token_endpoint_auth_signing_alg"},
		{"cdr", "token_endpoint_auth_signing_alg missing refused", del("token_endpoint_auth_signing_alg"), "token_endpoint_auth_signing_alg"},
		{"cdr", "client_credentials alone accepted", set("grant_types", []string{"client_credentials"}), ""},
		{"cdr", "grant_types missing refused", del("grant_types"), "grant_types"},
		{"cdr", "grant_types empty refused", set("grant_types", []string{}), "grant_types"},
		{"cdr", "implicit grant refused", set("grant_types", []string{"client_credentials", "implicit"}), "grant_types"},
		{"cdr", "jwt-bearer grant refused", set("grant_types", []string{"urn:ietf:params:oauth:grant-type:jwt-bearer"}), "grant_types"},
		{"cdr", "response_types missing refused", del("response_types"), "response_types"},
		{"cdr", "response_types token refused", set("response_types", []string{"code", "token"}), "response_types"},
		{"cdr", "application_type missing accepted", del("application_type"), ""},
		{"cdr", "application_type native refused", set("application_type", "native"), "application_type"},
		{"cdr", "id_token_signed_response_alg ES256 accepted", set("id_token_signed_response_alg", "ES256"), ""},
		{"cdr", "id_token_signed_response_alg RS256 refused", set("id_token_signed_response_alg", "RS256"), "id_token_signed_response_alg"},
		{"cdr", "id_token_signed_response_alg missing refused", del("id_token_signed_response_alg"), "id_token_signed_response_alg"},
		{"cdr", "request_object_signing_alg none refused", set("request_object_signing_alg", "none"), "request_object_signing_alg"},
		{"cdr", "request_object_signing_alg missing refused", del("request_object_signing_alg"), "request_object_signing_alg"},
		{"cdr", "hybrid flow without id_token_encrypted_response_alg refused", del("id_token_encrypted_response_alg"), "id_token_encrypted_response_alg"},
		{"cdr", "hybrid flow without id_token_encrypted_response_enc refused", del("id_token_encrypted_response_enc"), "id_token_encrypted_response_enc"},
		{"cdr", "id_token_encrypted_response_alg empty refused", set("id_token_encrypted_response_alg", ""), "id_token_encrypted_response_alg"},
		{"cdr", "code alone needs no id_token encryption", both(set("response_types", []string{"code"}),
			del("id_token_encrypted_response_alg"), del("id_token_encrypted_response_enc")), ""},
		{"cdr", "code without authorization_signed_response_alg refused", del("authorization_signed_response_alg"), "authorization_signed_response_alg"},
		{"cdr", "hybrid alone needs no authorization_signed_response_alg", both(set("response_types", []string{"code id_token"}),
			del("authorization_signed_response_alg")), ""},
		{"cdr", "authorization_signed_response_alg RS256 refused", set("authorization_signed_response_alg", "RS256"), "authorization_signed_response_alg"},
		{"cdr", "authorization encryption accepted", both(set("authorization_encrypted_response_alg", "RSA-OAEP-256"),
			set("authorization_encrypted_response_enc", "A128CBC-HS256")), ""},
		{"cdr", "authorization_encrypted_response_enc without _alg refused", set("authorization_encrypted_response_enc", "A256GCM"), "authorization_encrypted_response_alg"},
		{"cdr", "authorization_encrypted_response_alg RSA1_5 refused", set("authorization_encrypted_response_alg", "RSA1_5"), "authorization_encrypted_response_alg"},
		{"cdr", "authorization_encrypted_response_enc A128GCM refused", both(set("authorization_encrypted_response_alg", "RSA-OAEP"),
			set("authorization_encrypted_response_enc", "A128GCM")), "authorization_encrypted_response_enc"},
		{"cdr", "a number for an algorithm refused", set("id_token_encrypted_response_enc", 5), "id_token_encrypted_response_enc"},
	} {
		t.Run(tc.profile+"/"+tc.name, func(t *testing.T) {
			f.storageDir = t.TempDir() // cdr registers a software_id once per storage
			h := f.handler(t, tc.profile, nil)
			w := post(t, h, f.requestJWT(tc.profile, nil, tc.req))
			if tc.field == "" {
				if w.Code != http.StatusCreated {
					t.Fatalf("status %d, want 201; body %s", w.Code, w.Body.String())
				}
				return
			}
			expectError(t, w, http.StatusBadRequest, codeInvalidMetadata, tc.field)
		})
	}
}
