package integration

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/authserver/signing"
	"github.com/obgate/obgate/internal/jwttest"
)

// TestAccessTokenTypeOnSignerIssuers: RFC 9068 §4 says a resource server MUST check that an
// access token's typ is at+jwt (or application/at+jwt). A token signed by the signer's own key
// with the same claims but another typ, or none, is refused by jwt_auth (`issuer { signer }`,
// 401 invalid_token) and by dcr management (401); a verifier that knows the signer only by its
// JWKS (an ordinary issuer, no typ configured) still takes it.
func TestAccessTokenTypeOnSignerIssuers(t *testing.T) {
	w := newASWorld(t)
	w.start("")
	id, _ := w.registerDCRFull(t, &w.client, nil)
	_, _, claims := granted(t, w.token(&w.client, pkForm(w.assertion(w.dcr.software, id, nil))))
	m := signerInstance(t, w.dcr.storage, signing.Options{})
	remint := func(typ string) string {
		t.Helper()
		c := maps.Clone(claims)
		c["jti"] = fmt.Sprintf("typ-%s-%d", typ, time.Now().UnixNano())
		tok, err := m.Mint(t.Context(), typ, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, tc := range []struct {
		typ  string
		want bool
	}{
		{"at+jwt", true},
		{"application/at+jwt", true},
		{"JWT", false},
		{"", false},
		{"id_token+jwt", false},
	} {
		t.Run("typ "+tc.typ, func(t *testing.T) {
			tok := remint(tc.typ)
			api := w.api(&w.client, tok)
			manage := w.send(&w.client, "GET", "/register/"+id, nil, "Authorization", "Bearer "+tok)
			if tc.want {
				if api.Status != http.StatusOK || manage.Status != http.StatusOK {
					t.Fatalf("API = %d %s, management = %d %s; want 200 and 200", api.Status, api.Body, manage.Status, manage.Body)
				}
				return
			}
			checkRejection(t, api, http.StatusUnauthorized, "invalid_token", "localhost")
			if manage.Status != http.StatusUnauthorized {
				t.Errorf("management with typ %q = %d %s, want 401", tc.typ, manage.Status, manage.Body)
			}
			if res := w.remoteAPI(&w.client, tok); res.Status != http.StatusOK {
				t.Errorf("jwks_url API (no typ configured) = %d %s, want 200", res.Status, res.Body)
			}
		})
	}
}

// TestJWTAuthIssuerType: `typ` in an issuer block requires that typ of the issuer's tokens; the
// other issuer, without it, takes any.
func TestJWTAuthIssuerType(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEC(t, "ES256")
	b := jwttest.NewEC(t, "ES256")
	g := startGateway(t, fmt.Sprintf(`
http://127.0.0.1:{PORT} {
	jwt_auth {
		issuer %s {
			key %s
			typ application/at+jwt
		}
		issuer %s {
			key %s
		}
		audience api
		realm typed
	}
	respond "ok"
}
`, issuerA, a.PublicPEM(t, dir), issuerB, b.PublicPEM(t, dir)))
	now := time.Now()
	for _, tc := range []struct {
		name string
		tok  string
		want int
	}{
		{"typed issuer, at+jwt", a.Token(t, jwttest.Claims(issuerA, "api", "alice", now), map[string]any{"typ": "at+jwt"}), 200},
		{"typed issuer, application/at+jwt", a.Token(t, jwttest.Claims(issuerA, "api", "alice", now), map[string]any{"typ": "application/at+jwt"}), 200},
		{"typed issuer, JWT", a.Token(t, jwttest.Claims(issuerA, "api", "alice", now), nil), 401},
		{"typed issuer, no typ", a.Token(t, jwttest.Claims(issuerA, "api", "alice", now), map[string]any{"typ": nil}), 401},
		{"untyped issuer, JWT", b.Token(t, jwttest.Claims(issuerB, "api", "alice", now), nil), 200},
		{"untyped issuer, no typ", b.Token(t, jwttest.Claims(issuerB, "api", "alice", now), map[string]any{"typ": nil}), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := g.do("GET", "/", nil, bearer(tc.tok)...)
			if tc.want == 200 {
				if res.Status != 200 {
					t.Fatalf("status = %d %s, want 200", res.Status, res.Body)
				}
				return
			}
			checkRejection(t, res, tc.want, "invalid_token", "typed")
			if !strings.Contains(res.Body, "typ") {
				t.Errorf("body = %s, want a description naming typ", res.Body)
			}
		})
	}
}

// TestIssuerTypeConfigErrors: a typ that is not a media type fails validation naming the issuer
// and typ, and request_signature refuses typ in its issuer blocks.
func TestIssuerTypeConfigErrors(t *testing.T) {
	dir := t.TempDir()
	key := jwttest.NewEC(t, "ES256").PublicPEM(t, dir)
	for _, tc := range []struct{ name, site, want string }{
		{"typ not a media type", fmt.Sprintf(`jwt_auth {
		issuer %s {
			key %s
			typ "at jwt"
		}
		audience api
	}`, issuerA, key), `issuer "` + issuerA + `": typ: "at jwt" is not a media type`},
		{"typ repeated", fmt.Sprintf(`jwt_auth {
		issuer %s {
			key %s
			typ at+jwt
			typ JWT
		}
		audience api
	}`, issuerA, key), "typ: already specified"},
		{"typ in request_signature", fmt.Sprintf(`request_signature {
		profile detached
		issuer %s {
			key %s
			typ at+jwt
		}
	}`, issuerA, key), `issuer "` + issuerA + `": typ: applies to jwt_auth issuers`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateCaddyfile(t, fmt.Sprintf("{\n\tadmin off\n}\nhttp://127.0.0.1:8080 {\n\t%s\n\trespond ok\n}\n", tc.site))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("validate error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
