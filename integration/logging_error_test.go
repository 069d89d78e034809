package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/jwttest"
)

// A handler after jwt_auth that fails (reverse_proxy to an upstream that is down: 502) makes
// Caddy log the error with the request as it arrived, at ERROR level, in the default log. A
// token in CX-Authorization or in the query must not be in that line either, and the client
// still gets the 502.
func TestJWTAuthErrorLogNeverHoldsTheToken(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEC(t, "ES256")
	logFile := filepath.Join(dir, "caddy.log")
	g := startGateway(t, fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %s
	log {
		output file %s
	}
}
http://127.0.0.1:{PORT} {
	log
	jwt_auth {
		issuer %s {
			key %s
		}
		audience bank
		token header CX-Authorization
		token query access_token
	}
	reverse_proxy 127.0.0.1:%d
}
`, dir, logFile, issuerA, a.PublicPEM(t, dir), freePort(t)))

	tok := a.Token(t, jwttest.Claims(issuerA, "bank", "user-1", time.Now()), nil)
	for _, req := range []struct {
		path    string
		headers []string
	}{
		{"/accounts", []string{"CX-Authorization", tok}},
		{"/accounts?page=2&access_token=" + tok, nil},
	} {
		if res := g.do("GET", req.path, nil, req.headers...); res.Status != 502 {
			t.Fatalf("%s: status %d, want 502 (%s)", req.path, res.Status, res.Body)
		}
	}
	var logged string
	eventually(t, "two error lines and two access log entries", func() bool {
		b, _ := os.ReadFile(logFile)
		logged = string(b)
		return strings.Count(logged, `"logger":"http.log.error`) >= 2 && strings.Count(logged, `"msg":"handled request"`) >= 2
	})
	sig := strings.Split(tok, ".")[2]
	for _, line := range strings.Split(logged, "\n") {
		if strings.Contains(line, sig) {
			t.Errorf("a log line holds the token: %.400s", line)
		}
	}
	if n := strings.Count(logged, `"status":502`); n < 2 {
		t.Errorf("%d log lines with status 502, want the access entries and the error lines:\n%s", n, logged)
	}
}

// Two jwt_auth policies on one request, each with its token in its own custom header: the
// access log entry the first one writes and the error line of a failing upstream hold neither
// token.
func TestJWTAuthTwoPoliciesLogsHoldNeitherToken(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEC(t, "ES256")
	logFile, accessFile := filepath.Join(dir, "caddy.log"), filepath.Join(dir, "access.log")
	policy := func(header string) string {
		return fmt.Sprintf(`jwt_auth {
			issuer %s {
				key %s
			}
			audience bank
			token header %s
		}`, issuerA, a.PublicPEM(t, dir), header)
	}
	g := startGateway(t, fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %s
	log {
		output file %s
	}
}
http://127.0.0.1:{PORT} {
	log {
		output file %s
	}
	route {
		%s
		%s
		reverse_proxy 127.0.0.1:%d
	}
}
`, dir, logFile, accessFile, policy("X-Client-Token"), policy("X-Customer-Token"), freePort(t)))

	now := time.Now()
	client := a.Token(t, jwttest.Claims(issuerA, "bank", "client-1", now), nil)
	customer := a.Token(t, jwttest.Claims(issuerA, "bank", "customer-1", now), nil)
	if res := g.do("GET", "/accounts", nil, "X-Client-Token", client, "X-Customer-Token", customer); res.Status != 502 {
		t.Fatalf("status %d, want 502 (%s)", res.Status, res.Body)
	}
	var logged string
	eventually(t, "the error line and the access log entry", func() bool {
		l, _ := os.ReadFile(logFile)
		ac, _ := os.ReadFile(accessFile)
		logged = string(l) + string(ac)
		return strings.Contains(logged, `"logger":"http.log.error`) && strings.Contains(logged, `"msg":"handled request"`)
	})
	for _, tok := range []string{client, customer} {
		sig := strings.Split(tok, ".")[2]
		for _, line := range strings.Split(logged, "\n") {
			if strings.Contains(line, sig) {
				t.Errorf("a log line holds a token: %.400s", line)
			}
		}
	}
}
