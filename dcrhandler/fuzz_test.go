package dcrhandler

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

// FuzzRegisterBody feeds arbitrary bodies to registration under every content type: the answer
// is never a 5xx and always the JSON shape, whatever the input.
func FuzzRegisterBody(f *testing.F) {
	fx := newFixture(f)
	h := fx.handler(f, "generic", nil)
	f.Add(fx.requestJWT("generic", nil, nil), "application/jwt")
	f.Add(fx.requestJWT("generic", nil, func(c map[string]any) { c["redirect_uris"] = "x" }), "application/jose")
	f.Add("", "application/jwt")
	f.Add("a.b.c", "application/jwt")
	f.Add("eyJhbGciOiJub25lIn0.e30.", "application/jwt")
	f.Add(`{"redirect_uris":["https://c.example/cb"],"software_statement":"a.b.c"}`, "application/json")
	f.Add(`{"redirect_uris":[1,{}],"jwks":[]}`, "application/json; charset=utf-8")
	f.Add("\x00\xff", "text/plain")
	f.Fuzz(func(t *testing.T, body, ctype string) {
		w := do(t, h, http.MethodPost, "/register", ctype, body)
		if w.Code >= 500 {
			t.Fatalf("status %d for input %q (%s); body %s", w.Code, body, ctype, w.Body.String())
		}
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatalf("answer is not JSON: %q", w.Body.String())
		}
	})
}

// FuzzMetadata runs a registration body through the path a POST body takes, without network or
// storage I/O: the JSON decoder, then each profile's metadata validation (with a fixed, already
// verified software statement), then the stored record's encoding and decoding. Whatever the
// input: no panic; a refusal is a 400 with a known error code naming a field; an accepted
// registration holds only representable numbers and reads back from its stored form exactly.
func FuzzMetadata(f *testing.F) {
	fx := newFixture(f)
	profiles := []string{"generic", "obie", "cdr", "revolut"}
	handlers := make(map[string]*Handler, len(profiles))
	for _, p := range profiles {
		handlers[p] = fx.handler(f, p, nil)
	}
	cdr, _ := json.Marshal(cdrRequestMetadata())
	for _, seed := range []string{
		`{"redirect_uris":["https://client.example/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://c.example/jwks"}`,
		`{"redirect_uris":["https://client.example/cb"],"response_types":["code id_token"],"grant_types":["implicit"]}`,
		`{"default_max_age":1e400,"x":[9007199254740993,-0.0,5e-324,1E-400]}`,
		`{"token_endpoint_auth_method":"client_secret_basic","client_secret":"x","client_id":"y"}`,
		`{"redirect_uris":"https://client.example/cb","scope":["a"],"jwks":[],"jwks_uri":7}`,
		`{"aud":"revolut","scope":"openid","tls_client_auth_dn":"CN=x","application_type":"web"}`,
		string(cdr),
		`{}`, `[]`, `null`, `{"a":{"b":{"c":[[[]]]}}}`, `{"a":1} x`,
	} {
		f.Add([]byte(seed))
	}
	known := []string{codeInvalidMetadata, codeInvalidRedirect, codeInvalidSSA, codeUnapprovedSSA}
	f.Fuzz(func(t *testing.T, body []byte) {
		obj, rej := decodeJSONMetadata(body)
		if rej != nil {
			checkRefusal(t, rej, known)
			return
		}
		for _, p := range profiles {
			h := handlers[p]
			md, rej := h.buildMetadata(obj, fx.ssaClaims(p))
			if rej != nil {
				checkRefusal(t, rej, known)
				continue
			}
			if !representable(md) {
				t.Fatalf("%s: accepted metadata with an unrepresentable number: %s", p, body)
			}
			want, err := json.Marshal(md)
			if err != nil {
				t.Fatalf("%s: accepted metadata does not encode: %v", p, err)
			}
			stored, err := json.Marshal(&clientRecord{ClientID: "c", TokenSHA256: tokenHash("t"), Metadata: md})
			if err != nil {
				t.Fatal(err)
			}
			rec, err := decodeRecord("c", stored)
			if err != nil || rec.damaged {
				t.Fatalf("%s: the stored record does not read back (err %v, damaged %v): %s", p, err, rec != nil && rec.damaged, stored)
			}
			got, _ := json.Marshal(rec.Metadata)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: metadata changed in storage:\n got %s\nwant %s", p, got, want)
			}
		}
	})
}

func checkRefusal(t *testing.T, rej *rejection, known []string) {
	t.Helper()
	if rej.status != http.StatusBadRequest || !slices.Contains(known, rej.code) || rej.desc == "" {
		t.Fatalf("refusal %d %q %q, want a 400 with a known code and a description", rej.status, rej.code, rej.desc)
	}
}

// TestFuzzMetadataFindings pins what FuzzMetadata's corpus (testdata/fuzz/FuzzMetadata) explored,
// as answers a client sees.
func TestFuzzMetadataFindings(t *testing.T) {
	f := newFixture(t)
	h := openGeneric(t, f)
	for _, tc := range []struct {
		name, body string
		status     int
		field      string // the refusal names it; for 201, a member echoed exactly
		echo       string
	}{
		{"an exponent of 2210 refused", `{"token_endpoint_auth_method":"none","x":[0,89,5e002,1E2210]}`, 400, "x", ""},
		{"a small exponent kept as written", `{"token_endpoint_auth_method":"none","y":5e002}`, 201, "y", "5e002"},
		{"a zero with exponents kept", `{"token_endpoint_auth_method":"none","z":0e+0}`, 201, "z", "0e+0"},
		{"redirect_uris a number refused", `{"redirect_uris":0}`, 400, "redirect_uris", ""},
		{"a member after the object refused", `{"":{"":{"":[[]]}}}}`, 400, "request", ""},
		{"an unterminated object refused", `{"":0 }0`, 400, "request", ""},
		{"invalid UTF-8 in a name reads back as registered", "{\"\xff0\":\"a\",\"token_endpoint_auth_method\":\"none\"}", 201, "\ufffd0", `"a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(t, h, http.MethodPost, "/register", "application/json", tc.body)
			if tc.status != http.StatusCreated {
				expectError(t, w, tc.status, codeInvalidMetadata, tc.field)
				return
			}
			if w.Code != http.StatusCreated {
				t.Fatalf("status %d; body %s", w.Code, w.Body.String())
			}
			reg := decode(t, w)
			get := do(t, h, http.MethodGet, "/register/"+reg["client_id"].(string), "", "", "Authorization", "Bearer "+reg["registration_access_token"].(string))
			for what, body := range map[string][]byte{"POST": w.Body.Bytes(), "GET": get.Body.Bytes()} {
				var m map[string]json.RawMessage
				if err := json.Unmarshal(body, &m); err != nil || string(m[tc.field]) != tc.echo {
					t.Errorf("%s: %q = %s, want %s (err %v)", what, tc.field, m[tc.field], tc.echo, err)
				}
			}
		})
	}
}
