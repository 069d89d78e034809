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

// logSite runs Caddy with every log at DEBUG (reverse_proxy's "upstream roundtrip" included) in
// one file and a site access log in another, and two jwt_auth policies in front of a
// reverse_proxy upstream, each taking the token from Authorization, CX-Authorization, a cookie or
// a query parameter: /strip/ with strip_token, /keep/ without. No log filter anywhere.
func logSite(t *testing.T, dir, pub string, be *backend) (g *gateway, debugLog, accessLog string) {
	t.Helper()
	debugLog, accessLog = filepath.Join(dir, "debug.log"), filepath.Join(dir, "access.log")
	policy := func(extra string) string {
		return fmt.Sprintf(`jwt_auth {
			issuer %s {
				key %s
			}
			audience bank
			token header Authorization Bearer
			token header CX-Authorization
			token cookie session
			token query access_token
			%s
		}`, issuerA, pub, extra)
	}
	g = startGateway(t, fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %s
	log {
		output file %s
		level DEBUG
	}
}
http://127.0.0.1:{PORT} {
	log {
		output file %s
	}
	handle /strip/* {
		%s
		reverse_proxy %s
	}
	handle /keep/* {
		%s
		reverse_proxy %s
	}
}
`, dir, debugLog, accessLog, policy("strip_token"), be.Addr(), policy(""), be.Addr()))
	return g, debugLog, accessLog
}

// tokenParts are the strings no log line may hold: the token and each of its base64url segments.
func tokenParts(tok string) []string {
	return append([]string{tok}, strings.Split(tok, ".")...)
}

// jwt_auth keeps its configured token locations out of every log line by itself: Caddy's access
// log and, at DEBUG level, every other line (reverse_proxy's "upstream roundtrip" included), for
// a token in Authorization, CX-Authorization, a cookie or the query, valid or rejected. With
// strip_token the upstream never receives it either. The access log still names the caller.
func TestJWTAuthLogsNeverHoldTheToken(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEC(t, "ES256")
	be := newBackend(t)
	g, debugLog, accessLog := logSite(t, dir, a.PublicPEM(t, dir), be)

	type sent struct {
		name, path, tok string
		headers         []string
		status          int
	}
	var all []sent
	now := time.Now()
	for _, prefix := range []string{"/strip/", "/keep/"} {
		for i, where := range []string{"authorization", "cx-authorization", "cookie", "query"} {
			good := a.Token(t, jwttest.Claims(issuerA, "bank", fmt.Sprintf("user-%s%d", prefix[1:2], i), now), nil)
			expired := a.Token(t, map[string]any{"iss": issuerA, "aud": "bank", "sub": where, "exp": now.Add(-time.Hour).Unix()}, nil)
			for _, tc := range []struct {
				tok    string
				status int
			}{{good, 200}, {expired, 401}} {
				s := sent{name: prefix + where, path: prefix + "accounts?page=2", tok: tc.tok, status: tc.status}
				switch where {
				case "authorization":
					s.headers = []string{"Authorization", "Bearer " + tc.tok}
				case "cx-authorization":
					s.headers = []string{"CX-Authorization", tc.tok}
				case "cookie":
					s.headers = []string{"Cookie", "theme=dark; session=" + tc.tok}
				case "query":
					s.path = prefix + "accounts?page=2&access_token=" + tc.tok
				}
				all = append(all, s)
			}
		}
	}
	for _, s := range all {
		before := len(be.Requests())
		res := g.do("GET", s.path, nil, s.headers...)
		if res.Status != s.status {
			t.Fatalf("%s: status %d, want %d (%s)", s.name, res.Status, s.status, res.Body)
		}
		if s.status != 200 {
			continue
		}
		got := be.Requests()[before:]
		if len(got) != 1 {
			t.Fatalf("%s: backend saw %d requests, want 1", s.name, len(got))
		}
		seen := strings.Contains(got[0].Path, s.tok) || strings.Contains(fmt.Sprint(got[0].Header), s.tok)
		if strip := strings.HasPrefix(s.name, "/strip/"); strip == seen {
			t.Errorf("%s: the backend received the token: %v, want %v", s.name, seen, !strip)
		}
		if strings.HasPrefix(s.name, "/strip/") && (!strings.Contains(got[0].Path, "page=2") ||
			(strings.HasSuffix(s.name, "cookie") && !strings.Contains(got[0].Header.Get("Cookie"), "theme=dark"))) {
			t.Errorf("%s: strip_token also took what is not the token: path %q, cookie %q", s.name, got[0].Path, got[0].Header.Get("Cookie"))
		}
	}

	var debug, access string
	eventually(t, "an access log entry for every request and the upstream round trips", func() bool {
		d, _ := os.ReadFile(debugLog)
		ac, _ := os.ReadFile(accessLog)
		debug, access = string(d), string(ac)
		return strings.Count(access, `"msg":"handled request"`) >= len(all) && strings.Count(debug, `"upstream roundtrip"`) >= len(all)/2
	})
	if n := strings.Count(access, `"msg":"handled request"`); n != len(all) {
		t.Errorf("the access log has %d entries for %d requests", n, len(all))
	}
	lines := strings.Split(debug+access, "\n")
	for _, s := range all {
		for _, part := range tokenParts(s.tok)[1:] { // the header segment is the same for every token of the key
			if part == strings.Split(s.tok, ".")[0] {
				continue
			}
			for _, line := range lines {
				if strings.Contains(line, part) {
					// Without strip_token a CX-Authorization token goes upstream, and reverse_proxy's
					// debug line prints what goes upstream: the one documented exception.
					if s.name == "/keep/cx-authorization" && strings.Contains(line, `"upstream roundtrip"`) {
						continue
					}
					t.Errorf("%s (status %d): a log line holds the token: %.300s", s.name, s.status, line)
				}
			}
		}
	}
	for _, line := range strings.Split(access, "\n") {
		if !strings.Contains(line, `"status":200`) {
			continue
		}
		for _, want := range []string{`"jwt_iss":"` + issuerA + `"`, `"jwt_kid":"` + a.KID + `"`, `"jwt_user":"user-`, `page=2`} {
			if !strings.Contains(line, want) {
				t.Errorf("access log entry of a valid request lacks %s: %.400s", want, line)
			}
		}
	}
	if !strings.Contains(access, `REDACTED`) {
		t.Error("the access log shows no REDACTED token location")
	}
	if !strings.Contains(debug, `"reason":"expired"`) || !strings.Contains(debug, `"token_sha256_prefix"`) {
		t.Errorf("the debug log of the rejections lacks their reason or the token's hash prefix")
	}
}
