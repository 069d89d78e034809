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
