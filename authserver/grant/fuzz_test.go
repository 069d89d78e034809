package grant_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/obgate/obgate/authserver/grant"
)

// FuzzParseForm feeds the token endpoint's form parser any body: it never panics, a refusal is
// always a 400 invalid_request, and what it accepts survives a round trip through a form
// encoder (so every client library that encodes the same values is read the same way).
func FuzzParseForm(f *testing.F) {
	for _, seed := range []string{
		"grant_type=client_credentials",
		"grant_type=client_credentials&scope=accounts+payments&client_id=c1",
		"grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJQUzI1NiJ9.e30.c2ln",
		"grant_type=client_credentials&grant_type=client_credentials",
		"grant_type=&grant_type=x",
		"grant_type=a%00b", "grant_type=%zz", "a;b=c", "", "&&&", "=", "grant_type", "\xff\xfe",
		"grant_type=client_credentials&scope=%20accounts", "client_secret=s&grant_type=client_credentials",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, err := grant.ParseForm("application/x-www-form-urlencoded", []byte(body))
		if err != nil {
			var e *grant.Error
			if !errors.As(err, &e) || e.Status != 400 || e.Code != grant.CodeInvalidRequest {
				t.Fatalf("ParseForm(%q) error = %v, want 400 invalid_request", body, err)
			}
			return
		}
		if req.GrantType == "" {
			t.Fatalf("ParseForm(%q) accepted a request without grant_type", body)
		}
		for _, v := range []string{req.GrantType, req.Scope, req.ClientID, req.AssertionType, req.Assertion} {
			if strings.ContainsFunc(v, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
				t.Fatalf("ParseForm(%q) accepted a control character: %q", body, v)
			}
		}
		again := url.Values{}
		for k, v := range map[string]string{
			"grant_type": req.GrantType, "scope": req.Scope, "client_id": req.ClientID,
			"client_assertion_type": req.AssertionType, "client_assertion": req.Assertion,
		} {
			if v != "" {
				again.Set(k, v)
			}
		}
		if req.ClientSecret {
			again.Set("client_secret", "x")
		}
		req2, err := grant.ParseForm("application/x-www-form-urlencoded", []byte(again.Encode()))
		if err != nil || *req2 != *req {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", body, req2, err, req)
		}
	})
}
