package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/jwttest"
)

// For each profile, a request signed by `caddy jwt sign-request` passes request_signature in a
// real Caddy and reaches the backend byte for byte; the same signature over a modified body is
// refused with 401 invalid_token and nothing reaches the backend.
func TestSignRequestCommandPassesRequestSignature(t *testing.T) {
	dir := t.TempDir()
	body := `{"Data": {"Initiation": {"InstructedAmount": {"Amount": "10.00", "Currency": "GBP"}}}}`
	for _, tc := range []struct {
		name      string
		signer    *jwttest.Signer
		directive string // request_signature's lines besides key
		flags     []string
		header    string
		scheme    string
	}{
		{"tokenio", jwttest.NewEC(t, "ES256"), "profile tokenio", []string{"--profile", "tokenio"}, "Authorization", "Bearer "},
		{"tokenio detached, escaped path form", jwttest.NewEd25519(t), "profile tokenio\n\t\tpath_form escaped",
			[]string{"--profile", "tokenio", "--detached", "--path-form", "escaped"}, "Authorization", "Bearer "},
		{"ob_jws 3.1.3", jwttest.NewRSA(t, 2048, "PS256"), "profile ob_jws\n\t\theader x-jws-signature\n\t\tversion 3.1.3",
			[]string{"--profile", "ob_jws", "--iss", "0015800001041REAAY/tpp", "--version", "3.1.3"}, "x-jws-signature", ""},
		{"ob_jws 3.1.4", jwttest.NewRSA(t, 2048, "PS256"), "profile ob_jws\n\t\theader x-jws-signature\n\t\tversion 3.1.4",
			[]string{"--profile", "ob_jws", "--iss", "0015800001041REAAY/tpp"}, "x-jws-signature", ""},
		{"detached", jwttest.NewEC(t, "ES384"), "profile detached", []string{"--profile", "detached"}, "Authorization", "Bearer "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := newBackend(t)
			g := requestSigSite(t, be, fmt.Sprintf("request_signature {\n\t\tkey %s\n\t\t%s\n\t}", tc.signer.PublicPEM(t, dir), tc.directive), "")
			path := "/open-banking/v3.1/pisp/domestic-payments/O%3B1?mode=fast&note=a+b"
			args := append([]string{"sign-request", "--key", tc.signer.PrivatePEM(t, dir), "--method", "POST",
				"--url", "http://" + bankHost + path, "--body", body}, tc.flags...)
			sig := runJWT(t, args...)

			res := g.do("POST", path, strings.NewReader(body), "Host", bankHost, tc.header, tc.scheme+sig)
			if res.Status != 200 {
				t.Fatalf("signed request: status %d (%s), want 200", res.Status, res.Body)
			}
			reqs := be.Requests()
			if len(reqs) != 1 || string(reqs[0].Body) != body {
				t.Fatalf("backend received %d requests (%v), want the body byte for byte", len(reqs), reqs)
			}
			tampered := strings.Replace(body, "10.00", "1000.00", 1)
			res = g.do("POST", path, strings.NewReader(tampered), "Host", bankHost, tc.header, tc.scheme+sig)
			if res.Status != 401 || res.JSON(t)["error"] != "invalid_token" {
				t.Fatalf("modified body: status %d (%s), want 401 invalid_token", res.Status, res.Body)
			}
			if n := len(be.Requests()); n != 1 {
				t.Errorf("backend received %d requests, want only the signed one", n)
			}
		})
	}
}

// A tokenio signature whose exp holds seconds is refused with a description that says
// milliseconds are expected (issue 9: messages that name the fix).
func TestTokenIOExpInSecondsSaysMilliseconds(t *testing.T) {
	dir := t.TempDir()
	s := jwttest.NewEC(t, "ES256")
	be := newBackend(t)
	g := requestSigSite(t, be, fmt.Sprintf("request_signature {\n\t\tkey %s\n\t\tprofile tokenio\n\t}", s.PublicPEM(t, dir)), "")
	h := tokenioHeader(s, "GET", bankHost, "/accounts", "exp", time.Now().Add(time.Minute).Unix())
	res := g.do("GET", "/accounts", nil, "Host", bankHost, "Authorization", "Bearer "+rsSign(t, s, h, nil, true))
	if res.Status != 401 || res.JSON(t)["error"] != "invalid_token" {
		t.Fatalf("exp in seconds: status %d (%s), want 401 invalid_token", res.Status, res.Body)
	}
	if d := res.JSON(t)["error_description"]; !strings.Contains(d, "milliseconds") {
		t.Errorf("error_description %q does not say milliseconds are expected", d)
	}
	if ch := res.Header.Get("WWW-Authenticate"); !strings.Contains(ch, "milliseconds") {
		t.Errorf("WWW-Authenticate %q does not say milliseconds are expected", ch)
	}
	if n := len(be.Requests()); n != 0 {
		t.Errorf("backend received %d requests, want none", n)
	}
}
