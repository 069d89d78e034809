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

// The access log names who called (jwt_iss, jwt_kid, jwt_user), and with the log filter the
// README shows for a token outside Authorization, no log line, access or debug, holds the token:
// neither a valid one nor a rejected one. (Without the filter Caddy logs CX-Authorization in
// full, as it logs every header but Authorization and Cookie.)
func TestJWTAuthLogsNeverHoldTheToken(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEC(t, "ES256")
	be := newBackend(t)
	logFile := filepath.Join(dir, "caddy.log")
	g := startGateway(t, fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %s
	log {
		level ERROR
	}
	log jwt_debug {
		output file %s
		level DEBUG
		include http.handlers.jwt_auth
	}
}
http://127.0.0.1:{PORT} {
	log {
		output file %s
		format filter {
			request>headers>Cx-Authorization delete
		}
	}
	jwt_auth {
		issuer %s {
			key %s
		}
		audience bank
		token header CX-Authorization
	}
	reverse_proxy %s
}
`, dir, logFile, logFile, issuerA, a.PublicPEM(t, dir), be.Addr()))

	good := a.Token(t, jwttest.Claims(issuerA, "bank", "employee-7", time.Now()), nil)
	expired := a.Token(t, map[string]any{"iss": issuerA, "sub": "x", "exp": time.Now().Add(-time.Hour).Unix()}, nil)
	if res := g.do("GET", "/", nil, "CX-Authorization", good); res.Status != 200 {
		t.Fatalf("valid token: status %d (%s)", res.Status, res.Body)
	}
	if res := g.do("GET", "/", nil, "CX-Authorization", expired); res.Status != 401 {
		t.Fatalf("expired token: status %d", res.Status)
	}

	var logs string
	eventually(t, "the access log of both requests", func() bool {
		b, _ := os.ReadFile(logFile)
		logs = string(b)
		return strings.Count(logs, `"msg":"handled request"`) >= 2 && strings.Contains(logs, `"token rejected"`)
	})
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, `"msg":"handled request"`) || !strings.Contains(line, `"status":200`) {
			continue
		}
		for _, want := range []string{`"jwt_iss":"` + issuerA + `"`, `"jwt_kid":"` + a.KID + `"`, `"jwt_user":"employee-7"`} {
			if !strings.Contains(line, want) {
				t.Errorf("access log entry of the valid request lacks %s: %s", want, line)
			}
		}
	}
	for name, tok := range map[string]string{"valid": good, "expired": expired} {
		sig := tok[strings.LastIndex(tok, ".")+1:]
		if strings.Contains(logs, tok) || strings.Contains(logs, sig) {
			t.Errorf("the log holds the %s token or its signature", name)
		}
	}
	if !strings.Contains(logs, `"reason":"expired"`) || !strings.Contains(logs, `"token_sha256_prefix"`) {
		t.Errorf("the debug log of the rejection lacks its reason or the token's hash prefix")
	}
}
