package caddyjwt

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/obgate/obgate/caddyjwt/verify"
)

func TestExtractToken(t *testing.T) {
	bearer := []TokenLocation{defaultTokenLocation}
	cx := []TokenLocation{{From: "header", Name: "CX-Authorization"}}
	all := []TokenLocation{defaultTokenLocation, {From: "cookie", Name: "s"}, {From: "query", Name: "t"}}
	for _, tc := range []struct {
		name         string
		target       string
		headers      [][2]string
		locations    []TokenLocation
		requireEmpty []string
		want         string
		wantReason   verify.Reason
	}{
		{"bearer token found", "/", [][2]string{{"Authorization", "Bearer abc"}}, bearer, nil, "abc", 0},
		{"scheme is case-insensitive", "/", [][2]string{{"Authorization", "BEARER abc"}}, bearer, nil, "abc", 0},
		{"extra spaces after the scheme are tolerated", "/", [][2]string{{"Authorization", "Bearer   abc "}}, bearer, nil, "abc", 0},
		{"scheme without separator is not ours", "/", [][2]string{{"Authorization", "Bearerabc"}}, bearer, nil, "", verify.ReasonNoToken},
		{"scheme with empty token is no token", "/", [][2]string{{"Authorization", "Bearer "}}, bearer, nil, "", verify.ReasonNoToken},
		{"other scheme is no token", "/", [][2]string{{"Authorization", "Basic abc"}}, bearer, nil, "", verify.ReasonNoToken},
		{"no header is no token", "/", nil, bearer, nil, "", verify.ReasonNoToken},
		{"two headers are two tokens", "/", [][2]string{{"Authorization", "Bearer a"}, {"Authorization", "Bearer b"}}, bearer, nil, "", verify.ReasonMultipleTokens},
		{"header without scheme takes the whole value", "/", [][2]string{{"CX-Authorization", "abc"}}, cx, nil, "abc", 0},
		{"require_empty absent header is fine", "/", [][2]string{{"CX-Authorization", "abc"}}, cx, []string{"Authorization"}, "abc", 0},
		{"require_empty blank header is fine", "/", [][2]string{{"CX-Authorization", "abc"}, {"Authorization", " "}}, cx, []string{"Authorization"}, "abc", 0},
		{"require_empty with a value is refused", "/", [][2]string{{"CX-Authorization", "abc"}, {"Authorization", "x"}}, cx, []string{"Authorization"}, "", verify.ReasonHeaderNotEmpty},
		{"require_empty is checked before a missing token", "/", [][2]string{{"Authorization", "x"}}, cx, []string{"Authorization"}, "", verify.ReasonHeaderNotEmpty},
		{"cookie found", "/", [][2]string{{"Cookie", "s=abc"}}, all, nil, "abc", 0},
		{"query found", "/?t=abc", nil, all, nil, "abc", 0},
		{"two query parameters are two tokens", "/?t=a&t=b", nil, all, nil, "", verify.ReasonMultipleTokens},
		{"two cookies are two tokens", "/", [][2]string{{"Cookie", "s=a; s=b"}}, all, nil, "", verify.ReasonMultipleTokens},
		{"header and query are two tokens", "/?t=a", [][2]string{{"Authorization", "Bearer b"}}, all, nil, "", verify.ReasonMultipleTokens},
		{"empty query value is no token", "/?t=", nil, all, nil, "", verify.ReasonNoToken},
		{"require_empty NBSP is a value", "/", [][2]string{{"CX-Authorization", "abc"}, {"Authorization", "\u00a0"}}, cx, []string{"Authorization"}, "", verify.ReasonHeaderNotEmpty},
		{"require_empty NEL is a value", "/", [][2]string{{"CX-Authorization", "abc"}, {"Authorization", "\u0085"}}, cx, []string{"Authorization"}, "", verify.ReasonHeaderNotEmpty},
		{"require_empty tab only is empty", "/", [][2]string{{"CX-Authorization", "abc"}, {"Authorization", "\t \t"}}, cx, []string{"Authorization"}, "abc", 0},
		{"query pair joined by a semicolon is refused", "/?t=forged;x=1&t=abc", nil, all, nil, "", verify.ReasonAmbiguousQuery},
		{"query that does not parse is refused", "/?t=abc&x=%zz", nil, all, nil, "", verify.ReasonAmbiguousQuery},
		{"token name in another case is refused", "/?T=forged&t=abc", nil, all, nil, "", verify.ReasonAmbiguousQuery},
		{"token name in another case alone is refused", "/?T=abc", nil, all, nil, "", verify.ReasonAmbiguousQuery},
		{"other parameters in any case are fine", "/?t=abc&X=1&x=2", nil, all, nil, "abc", 0},
		{"semicolon query is fine without a query location", "/?a=1;b=2", [][2]string{{"Authorization", "Bearer abc"}}, bearer, nil, "abc", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			for _, h := range tc.headers {
				r.Header.Add(h[0], h[1])
			}
			got, err := extractToken(r, tc.locations, tc.requireEmpty)
			if tc.wantReason != 0 {
				if verify.ReasonOf(err) != tc.wantReason {
					t.Fatalf("extractToken() error = %v, want reason %v", err, tc.wantReason)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("extractToken() = %q, %v, want %q", got, err, tc.want)
			}
		})
	}
}

func FuzzWithScheme(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  x", "Bearer", "Bearer\t", "", "Basic x", "Bearer\x00y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tok, ok := withScheme(v, "Bearer")
		if ok && tok == "" {
			t.Fatalf("withScheme(%q) accepted an empty token", v)
		}
		if ok && len(tok) >= len(v) {
			t.Fatalf("withScheme(%q) = %q: the scheme was not removed", v, tok)
		}
	})
}

// TestExtractTokenNamesAnUndeclaredScheme: a header value in a scheme the config did not declare
// is answered with a description that says so and names the fix; the description repeats only
// registered scheme names, never what else the client sent.
func TestExtractTokenNamesAnUndeclaredScheme(t *testing.T) {
	bare := []TokenLocation{{From: "header", Name: "Authorization"}}
	for _, tc := range []struct {
		name      string
		value     string
		locations []TokenLocation
		reason    verify.Reason
		desc      string // "" = the reason's plain description
	}{
		{"Bearer value where the whole header is the token", "Bearer eyJ.x.y", bare, verify.ReasonMalformed,
			"the token is not a well-formed compact JWS: header Authorization starts with the scheme Bearer, which is not configured (token header Authorization Bearer takes it)"},
		{"lower-case bearer is named in its registered spelling", "bearer eyJ.x.y", bare, verify.ReasonMalformed,
			"the token is not a well-formed compact JWS: header Authorization starts with the scheme Bearer, which is not configured (token header Authorization Bearer takes it)"},
		{"DPoP where Bearer is configured", "DPoP eyJ.x.y", []TokenLocation{defaultTokenLocation}, verify.ReasonNoToken,
			"no token was presented: header Authorization uses the scheme DPoP, not Bearer"},
		{"an unregistered word is not repeated", "Secret-Scheme eyJ.x.y", []TokenLocation{defaultTokenLocation}, verify.ReasonNoToken,
			"no token was presented"},
		{"a bare token is still a token", "eyJ.x.y", bare, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", tc.value)
			_, err := extractToken(r, tc.locations, nil)
			if tc.reason == 0 {
				if err != nil {
					t.Fatalf("extractToken() error = %v, want the token", err)
				}
				return
			}
			e, ok := err.(*verify.Error)
			if !ok || e.Reason != tc.reason || e.Description() != tc.desc {
				t.Fatalf("extractToken() error = %v, want %v with description %q", err, tc.reason, tc.desc)
			}
		})
	}
}
