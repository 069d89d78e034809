package caddyjwt

import (
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// strip_token takes out the token and nothing else; without it only the request URI string has a
// query token redacted.
func TestHandOnStripsOnlyTheToken(t *testing.T) {
	locs := []TokenLocation{defaultTokenLocation, {From: "header", Name: "CX-Authorization"}, {From: "cookie", Name: "session"}, {From: "query", Name: "access_token"}}
	for _, tc := range []struct {
		name                       string
		strip                      bool
		target                     string
		headers                    [][2]string
		wantURI, wantRaw           string
		wantAuth, wantCX, wantCook string
	}{
		{"bearer header removed", true, "/a?x=1", [][2]string{{"Authorization", "Bearer t"}}, "/a?x=1", "x=1", "", "", ""},
		{"another scheme in Authorization stays", true, "/a", [][2]string{{"Authorization", "Basic Zm9v"}, {"CX-Authorization", "t"}}, "/a", "", "Basic Zm9v", "", ""},
		{"cookie removed, other cookies kept", true, "/a", [][2]string{{"Cookie", "theme=dark; session=t; lang=en"}}, "/a", "", "", "", "theme=dark; lang=en"},
		{"query parameter removed, others kept as sent", true, "/a?page=2&access_token=t&q=a%20b", nil, "/a?page=2&q=a%20b", "page=2&q=a%20b", "", "", ""},
		{"only parameter removed leaves no query", true, "/a?access_token=t", nil, "/a", "", "", "", ""},
		{"without strip the query token is only redacted in the URI string", false, "/a?page=2&access_token=t", nil, "/a?page=2&access_token=REDACTED", "page=2&access_token=t", "", "", ""},
		{"without strip headers go on", false, "/a", [][2]string{{"CX-Authorization", "t"}}, "/a", "", "", "t", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.target, nil)
			for _, h := range tc.headers {
				r.Header.Add(h[0], h[1])
			}
			a := &authenticator{tokens: locs, strip: tc.strip, access: newAccessLog(caddy.Context{}, locs)}
			a.handOn(r)
			if r.RequestURI != tc.wantURI || r.URL.RawQuery != tc.wantRaw {
				t.Errorf("RequestURI %q, RawQuery %q; want %q, %q", r.RequestURI, r.URL.RawQuery, tc.wantURI, tc.wantRaw)
			}
			if got := r.Header.Get("Authorization"); got != tc.wantAuth {
				t.Errorf("Authorization %q, want %q", got, tc.wantAuth)
			}
			if got := r.Header.Get("CX-Authorization"); got != tc.wantCX {
				t.Errorf("CX-Authorization %q, want %q", got, tc.wantCX)
			}
			if got := r.Header.Get("Cookie"); got != tc.wantCook {
				t.Errorf("Cookie %q, want %q", got, tc.wantCook)
			}
		})
	}
}

// The access log's request URI shows a query token as REDACTED in any spelling of its name.
func TestRedactQueryAnySpelling(t *testing.T) {
	for in, want := range map[string]string{
		"/a?access_token=t&x=1":   "/a?access_token=REDACTED&x=1",
		"/a?access%5Ftoken=t":     "/a?access%5Ftoken=REDACTED",
		"/a?Access_Token=t":       "/a?Access_Token=REDACTED",
		"/a?x=access_token":       "/a?x=access_token",
		"/a":                      "/a",
		"/a?access_token":         "/a?access_token=REDACTED",
		"/a?access_token=t;x=abc": "/a?access_token=REDACTED;x=abc",
		// A query that jwt_auth refuses (';' is no separator for url.ParseQuery, so the request is
		// ambiguous_query) is still logged: a parameter after ';' or a second '?' may be the token.
		"/a?x=1;access_token=t":     "/a?x=1;access_token=REDACTED",
		"/a?x=1?access_token=t&y=2": "/a?x=1?access_token=REDACTED&y=2",
		"/a?cb=/b?Access%5Ftoken=t": "/a?cb=/b?Access%5Ftoken=REDACTED",
	} {
		if got := redactQuery(in, []string{"access_token"}); got != want {
			t.Errorf("redactQuery(%q) = %q, want %q", in, got, want)
		}
	}
}
