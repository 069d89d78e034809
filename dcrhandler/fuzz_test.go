package dcrhandler

import (
	"encoding/json"
	"net/http"
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
