package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/jwttest"
)

// metricValue reads one series' value from a Prometheus text exposition; 0 when absent.
func metricValue(t *testing.T, exposition, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(exposition, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("series %s: value %q: %v", series, rest, err)
			}
			return v
		}
	}
	return 0
}

// Every answer jwt_auth gives is counted in obgate_jwt_verifications_total, a missing token and
// the 400s included, and verified_cache shows its hits, misses and size; read from /metrics of
// the running Caddy.
func TestJWTAuthMetricsCountEveryAnswer(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEC(t, "ES256")
	adminPort := freePort(t)
	g := startGateway(t, fmt.Sprintf(`{
	admin 127.0.0.1:%d
	persist_config off
	storage file_system %s
	log {
		level ERROR
	}
}
http://127.0.0.1:{PORT} {
	jwt_auth {
		issuer %s {
			key %s
		}
		audience api
		require_empty X-Api-Key
		verified_cache 100
	}
	respond "ok"
}
`, adminPort, dir, issuerA, a.PublicPEM(t, dir)))
	const total = "obgate_jwt_verifications_total"
	series := map[string]string{
		"valid":            total + `{reason="none",result="valid"}`,
		"no_token":         total + `{reason="no_token",result="invalid"}`,
		"multiple_tokens":  total + `{reason="multiple_tokens",result="invalid"}`,
		"header_not_empty": total + `{reason="header_not_empty",result="invalid"}`,
		"expired":          total + `{reason="expired",result="invalid"}`,
		"hits":             "obgate_jwt_verified_cache_hits_total",
		"misses":           "obgate_jwt_verified_cache_misses_total",
		"entries":          "obgate_jwt_verified_cache_entries",
	}
	read := func() map[string]float64 {
		_, m := adminGet(t, adminPort, "/metrics")
		out := map[string]float64{}
		for k, s := range series {
			out[k] = metricValue(t, m, s)
		}
		return out
	}
	before := read()
	now := time.Now()
	good := a.Token(t, jwttest.Claims(issuerA, "api", "alice", now), nil)
	expired := a.Token(t, map[string]any{"iss": issuerA, "aud": "api", "exp": now.Add(-time.Hour).Unix()}, nil)
	for _, tc := range []struct {
		headers []string
		status  int
	}{
		{nil, 401},
		{[]string{"Authorization", "Bearer " + good, "Authorization", "Bearer " + good}, 400},
		{[]string{"Authorization", "Bearer " + good, "X-Api-Key", "k"}, 400},
		{[]string{"Authorization", "Bearer " + expired}, 401},
		{[]string{"Authorization", "Bearer " + good}, 200},
		{[]string{"Authorization", "Bearer " + good}, 200},
	} {
		if res := g.do("GET", "/", nil, tc.headers...); res.Status != tc.status {
			t.Fatalf("headers %d: status %d, want %d (%s)", len(tc.headers), res.Status, tc.status, res.Body)
		}
	}
	after := read()
	for name, want := range map[string]float64{
		"valid": 2, "no_token": 1, "multiple_tokens": 1, "header_not_empty": 1, "expired": 1,
		"hits": 1, "misses": 2, // the expired token and the first good one took the full path
	} {
		if got := after[name] - before[name]; got != want {
			t.Errorf("%s went up by %v, want %v", series[name], got, want)
		}
	}
	if after["entries"] < 1 {
		t.Errorf("%s = %v, want at least the one remembered token", series["entries"], after["entries"])
	}
}

// unknown_kid names the fix: jwt_check's verdict and the debug log give the token's kid and the
// issuer's key IDs (a PEM key's thumbprint), never the token.
func TestJWTAuthUnknownKIDNamesTheKnownKIDs(t *testing.T) {
	dir := t.TempDir()
	rsaKey := jwttest.NewRSA(t, 2048, "RS256")
	rsaKey.KID = "rsa-2026"
	jwk := filepath.Join(dir, "rsa.jwk")
	doc, _ := json.Marshal(rsaKey.JWK(t, false))
	if err := os.WriteFile(jwk, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	ec := jwttest.NewEC(t, "ES256") // a PEM key without kid: known by its thumbprint
	logFile := filepath.Join(dir, "debug.log")
	g := startGateway(t, fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %s
	log {
		output file %s
		level DEBUG
		include http.handlers.jwt_auth
	}
}
http://127.0.0.1:{PORT} {
	handle /check {
		jwt_check api
	}
	handle {
		jwt_auth {
			issuer %s {
				key %s
				key %s
			}
			audience api
			name api
		}
		respond "ok"
	}
}
`, dir, logFile, issuerA, jwk, ec.PublicPEM(t, dir)))
	stale := &jwttest.Signer{Alg: "ES384", KID: "rotated-out-2025", Key: jwttest.NewEC(t, "ES384").Key}
	tok := stale.Token(t, jwttest.Claims(issuerA, "api", "alice", time.Now()), nil)

	res := g.do("POST", "/check", strings.NewReader(`{"token": "`+tok+`"}`))
	var v struct {
		Valid     bool     `json:"valid"`
		Reason    string   `json:"reason"`
		TokenKID  string   `json:"token_kid"`
		KnownKIDs []string `json:"known_kids"`
	}
	if err := json.Unmarshal([]byte(res.Body), &v); err != nil || res.Status != 200 {
		t.Fatalf("check: %d %s (%v)", res.Status, res.Body, err)
	}
	if v.Valid || v.Reason != "unknown_kid" || v.TokenKID != "rotated-out-2025" ||
		len(v.KnownKIDs) != 2 || v.KnownKIDs[0] != "rsa-2026" || v.KnownKIDs[1] != ec.KID {
		t.Errorf("verdict %s, want unknown_kid naming rotated-out-2025 and [rsa-2026 %s]", res.Body, ec.KID)
	}

	if res := g.do("GET", "/", nil, "Authorization", "Bearer "+tok); res.Status != 401 {
		t.Fatalf("request: status %d, want 401", res.Status)
	}
	var logs string
	eventually(t, "the rejection in the debug log", func() bool {
		b, _ := os.ReadFile(logFile)
		logs = string(b)
		return strings.Contains(logs, `"token rejected"`)
	})
	for _, want := range []string{`"reason":"unknown_kid"`, `"token_kid":"rotated-out-2025"`, `"known_kids":["rsa-2026","` + ec.KID + `"]`} {
		if !strings.Contains(logs, want) {
			t.Errorf("debug log lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, tok) || strings.Contains(logs, tok[strings.LastIndex(tok, ".")+1:]) {
		t.Error("the debug log holds the token")
	}
}

// A token header value in a scheme the config did not declare gets a 401 that says so.
func TestJWTAuthNamesAnUndeclaredScheme(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEC(t, "ES256")
	g := startGateway(t, fmt.Sprintf(`
http://127.0.0.1:{PORT} {
	handle /whole/* {
		jwt_auth {
			issuer %[1]s {
				key %[2]s
			}
			audience api
			token header Authorization
		}
		respond "ok"
	}
	handle /bearer/* {
		jwt_auth {
			issuer %[1]s {
				key %[2]s
			}
			audience api
		}
		respond "ok"
	}
}
`, issuerA, a.PublicPEM(t, dir)))
	tok := a.Token(t, jwttest.Claims(issuerA, "api", "alice", time.Now()), nil)
	for _, tc := range []struct {
		name, path, value string
		status            int
		desc              string
	}{
		{"Bearer where the whole header is the token", "/whole/x", "Bearer " + tok, 401, "starts with the scheme Bearer, which is not configured (token header Authorization Bearer takes it)"},
		{"the bare token where the whole header is the token", "/whole/x", tok, 200, ""},
		{"DPoP where Bearer is configured", "/bearer/x", "DPoP " + tok, 401, "header Authorization uses the scheme DPoP, not Bearer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := g.do("GET", tc.path, nil, "Authorization", tc.value)
			if res.Status != tc.status {
				t.Fatalf("status %d, want %d (%s)", res.Status, tc.status, res.Body)
			}
			if tc.desc != "" && !strings.Contains(res.JSON(t)["error_description"], tc.desc) {
				t.Errorf("error_description %q does not say %q", res.JSON(t)["error_description"], tc.desc)
			}
			if strings.Contains(res.Body, tok) {
				t.Error("the answer echoes the token")
			}
		})
	}
}
