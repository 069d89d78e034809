package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/jwttest"
)

// trailerSite is a gateway that speaks HTTP/1.1 and h2c and puts a jwt_auth (token in
// CX-Authorization, Authorization and X-Api-Key required empty) before /auth/ and a
// request_signature (detached) before /sig/, both proxying to the recording backend.
func trailerSite(t *testing.T, be *backend, authKey, sigKey string) *gateway {
	t.Helper()
	return startGateway(t, fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %[1]s
	log {
		level ERROR
	}
	servers {
		protocols h1 h2c
	}
}
http://127.0.0.1:{PORT} {
	handle /auth/* {
		jwt_auth {
			issuer %[2]s {
				key %[3]s
			}
			audience api://payments
			token header CX-Authorization
			require_empty Authorization X-Api-Key
		}
		reverse_proxy %[5]s
	}
	handle /sig/* {
		request_signature {
			key %[4]s
			profile detached
		}
		reverse_proxy %[5]s
	}
}
`, t.TempDir(), issuerA, authKey, sigKey, be.Addr()))
}

// unsignedToken is an alg=none JWT for issuer A.
func unsignedToken(t *testing.T) string {
	t.Helper()
	claims := jwttest.Claims(issuerA, "api://payments", "mallory", time.Now())
	return jwttest.Encode([]byte(`{"alg":"none"}`)) + "." + jwttest.Encode(mustMarshal(t, claims)) + "."
}

// rawChunked sends one HTTP/1.1 request with a chunked body and the given trailer fields over a
// plain TCP connection, the way a hostile client would, and returns the status.
func rawChunked(t *testing.T, g *gateway, path string, headers []string, body string, trailers []string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", g.Port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var names []string
	for i := 0; i+1 < len(trailers); i += 2 {
		names = append(names, trailers[i])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", path)
	for i := 0; i+1 < len(headers); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", headers[i], headers[i+1])
	}
	fmt.Fprintf(&b, "Transfer-Encoding: chunked\r\nTrailer: %s\r\nConnection: close\r\n\r\n", strings.Join(names, ", "))
	fmt.Fprintf(&b, "%x\r\n%s\r\n0\r\n", len(body), body)
	for i := 0; i+1 < len(trailers); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", trailers[i], trailers[i+1])
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

// h2cDo sends a request over cleartext HTTP/2 (prior knowledge) with the trailers set after the
// body, and returns the status.
func h2cDo(t *testing.T, g *gateway, path string, headers []string, body string, trailers http.Header) int {
	t.Helper()
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest("POST", g.URL+path, chunked{strings.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	req.Trailer = trailers
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("h2c %s: %v", path, err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.ProtoMajor != 2 {
		t.Fatalf("answer came over %s, want HTTP/2", res.Proto)
	}
	return res.StatusCode
}

// Issue 10 item 5: a chunked request's trailers arrive after the handler looked at the headers;
// they must not reach the backend behind jwt_auth or request_signature, and request_signature
// must forward the body it read with its Content-Length.
func TestRequestTrailersNeverReachTheBackend(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEC(t, "ES256")
	s := jwttest.NewEC(t, "ES256")
	be := newBackend(t)
	g := trailerSite(t, be, a.PublicPEM(t, dir), s.PublicPEM(t, dir))
	tok := a.Token(t, jwttest.Claims(issuerA, "api://payments", "alice", time.Now()), nil)
	body := `{"amount": "10.00"}`
	sig := "Bearer " + rsSign(t, s, map[string]any{"kid": s.KID}, []byte(body), true)

	last := func(t *testing.T, before int) recordedRequest {
		t.Helper()
		got := be.Requests()
		if len(got) != before+1 {
			t.Fatalf("backend got %d requests, want 1", len(got)-before)
		}
		r := got[len(got)-1]
		if string(r.Body) != body {
			t.Errorf("backend body = %q, want %q", r.Body, body)
		}
		return r
	}
	noTrailers := func(t *testing.T, r recordedRequest) {
		t.Helper()
		if len(r.Trailer) != 0 {
			t.Errorf("backend got request trailers %v, want none", r.Trailer)
		}
		none := jwttest.Encode([]byte(`{"alg":"none"}`))
		for name, vv := range r.Header {
			for _, v := range vv {
				if strings.Contains(v, none) || strings.Contains(v, "smuggled") || strings.Contains(v, "k-123") {
					t.Errorf("backend got %s: %q from a trailer", name, v)
				}
			}
		}
	}

	t.Run("HTTP/1.1 jwt_auth drops an alg=none Authorization trailer", func(t *testing.T) {
		before := len(be.Requests())
		status := rawChunked(t, g, "/auth/pay", []string{"CX-Authorization", tok}, body,
			[]string{"Authorization", "Bearer " + unsignedToken(t), "X-Api-Key", "k-123"})
		if status != 200 {
			t.Fatalf("status = %d, want 200 (the headers are valid)", status)
		}
		noTrailers(t, last(t, before))
	})
	t.Run("HTTP/1.1 request_signature drops trailers and forwards a Content-Length", func(t *testing.T) {
		before := len(be.Requests())
		status := rawChunked(t, g, "/sig/pay", []string{"Authorization", sig}, body,
			[]string{"Authorization", "Bearer " + unsignedToken(t), "X-Extra", "smuggled"})
		if status != 200 {
			t.Fatalf("status = %d, want 200", status)
		}
		r := last(t, before)
		noTrailers(t, r)
		if r.ContentLength != int64(len(body)) || len(r.TransferEncoding) != 0 {
			t.Errorf("backend framing: Content-Length %d, Transfer-Encoding %v; want %d and none", r.ContentLength, r.TransferEncoding, len(body))
		}
	})
	t.Run("h2c jwt_auth drops a require_empty trailer", func(t *testing.T) {
		before := len(be.Requests())
		status := h2cDo(t, g, "/auth/pay", []string{"CX-Authorization", tok}, body, http.Header{"X-Api-Key": {"k-123"}})
		if status != 200 {
			t.Fatalf("status = %d, want 200", status)
		}
		noTrailers(t, last(t, before))
	})
	t.Run("h2c request_signature drops trailers and forwards a Content-Length", func(t *testing.T) {
		before := len(be.Requests())
		status := h2cDo(t, g, "/sig/pay", []string{"Authorization", sig}, body, http.Header{"X-Extra": {"smuggled"}})
		if status != 200 {
			t.Fatalf("status = %d, want 200", status)
		}
		r := last(t, before)
		noTrailers(t, r)
		if r.ContentLength != int64(len(body)) || len(r.TransferEncoding) != 0 {
			t.Errorf("backend framing: Content-Length %d, Transfer-Encoding %v; want %d and none", r.ContentLength, r.TransferEncoding, len(body))
		}
	})
}

// Issue 10 item 6: with a query token location, a query that does not parse cleanly or names the
// token in another case is refused, so a forged token cannot ride upstream in the raw query.
func TestJWTAuthQueryTokenPollution(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEd25519(t)
	be := newBackend(t)
	g := startGateway(t, fmt.Sprintf(`
http://127.0.0.1:{PORT} {
	jwt_auth {
		issuer %s {
			key %s
		}
		audience api://payments
		token query access_token
	}
	reverse_proxy %s
}
`, issuerA, a.PublicPEM(t, dir), be.Addr()))
	tok := a.Token(t, jwttest.Claims(issuerA, "api://payments", "bob", time.Now()), nil)
	forged := unsignedToken(t)

	for _, tc := range []struct {
		name   string
		query  string
		status int
	}{
		{"the token alone passes", "access_token=" + tok, 200},
		{"the token with other parameters in any case passes", "access_token=" + tok + "&Page=1&page=2", 200},
		{"a forged token joined by a semicolon is refused", "access_token=" + forged + ";x=1&access_token=" + tok, 400},
		{"a query that does not parse is refused", "access_token=" + tok + "&x=%zz", 400},
		{"the name in upper case beside the token is refused", "ACCESS_TOKEN=" + forged + "&access_token=" + tok, 400},
		{"the name in mixed case alone is refused", "Access_Token=" + tok, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(be.Requests())
			res := g.do("GET", "/accounts?"+tc.query, nil)
			if res.Status != tc.status {
				t.Fatalf("status = %d, want %d (%s)", res.Status, tc.status, res.Body)
			}
			if reached := len(be.Requests()) > before; reached != (tc.status == 200) {
				t.Fatalf("backend reached = %v, want %v", reached, tc.status == 200)
			}
			if tc.status == 400 {
				checkRejection(t, res, 400, "invalid_request", "127.0.0.1")
			}
		})
	}
}

// Issue 10: require_empty counts only absent or SP/HTAB-only values as empty; NBSP and NEL are
// values.
func TestJWTAuthRequireEmptyRefusesUnicodeSpaces(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEC(t, "ES256")
	be := newBackend(t)
	g := startGateway(t, fmt.Sprintf(`
http://127.0.0.1:{PORT} {
	jwt_auth {
		issuer %s {
			key %s
		}
		audience bank
		token header CX-Authorization
		require_empty Authorization
		realm dcm
	}
	reverse_proxy %s
}
`, issuerA, a.PublicPEM(t, dir), be.Addr()))
	tok := a.Token(t, jwttest.Claims(issuerA, "bank", "employee-7", time.Now()), nil)
	for _, tc := range []struct {
		name   string
		value  string
		status int
	}{
		{"tabs and spaces are empty", "\t \t", 200},
		{"NBSP is a value", "\u00a0", 400},
		{"NEL is a value", "\u0085", 400},
		{"NBSP around spaces is a value", " \u00a0\u00a0 ", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(be.Requests())
			res := g.do("GET", "/", nil, "CX-Authorization", tok, "Authorization", tc.value)
			if res.Status != tc.status {
				t.Fatalf("status = %d, want %d (%s)", res.Status, tc.status, res.Body)
			}
			if reached := len(be.Requests()) > before; reached != (tc.status == 200) {
				t.Fatalf("backend reached = %v, want %v", reached, tc.status == 200)
			}
		})
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Issue 10 item 8: a request announcing a max_body-sized body with a garbage signature is answered
// 401 through a real Caddy before the client has sent a byte of the body.
func TestRequestSigRefusesGarbageBeforeTheBodyArrives(t *testing.T) {
	dir := t.TempDir()
	s := jwttest.NewEC(t, "ES256")
	be := newBackend(t)
	g := requestSigSite(t, be, fmt.Sprintf(`request_signature {
		key %s
		profile tokenio
	}`, s.PublicPEM(t, dir)), "")
	for _, sig := range []string{
		"garbage",
		rsSign(t, s, tokenioHeader(s, "GET", bankHost, "/pay"), nil, true), // signed for another method
	} {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", g.Port), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		// The bound only keeps a broken gateway from hanging the test: the body never comes.
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "POST /pay HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", bankHost, sig, 1<<20)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			conn.Close()
			t.Fatalf("no answer while the body was withheld: %v", err)
		}
		res.Body.Close()
		conn.Close()
		if res.StatusCode != 401 || !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("status %d, WWW-Authenticate %q; want 401 invalid_token", res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
	}
	if n := len(be.Requests()); n != 0 {
		t.Fatalf("backend got %d requests, want none", n)
	}
}

// Issue 10 item 7: through a real Caddy, jwt_keys refuses a mis-cased "Alg" (it was stored with
// one meaning and reloaded with another) and bounds the keys of one counterparty.
func TestRegistryStrictJWKAndMaxKeys(t *testing.T) {
	g := startGateway(t, fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %s
	log {
		level ERROR
	}
}
http://127.0.0.1:{PORT} {
	handle_path /_registry/* {
		jwt_keys {
			max_keys 2
		}
	}
}
`, t.TempDir()))
	rs := jwttest.NewRSA(t, 2048, "RS256")
	miscased := rs.JWK(t, false)
	miscased["Alg"] = "ES256"
	res := g.do("POST", "/_registry/bank-a/keys", strings.NewReader(string(mustMarshal(t, miscased))))
	if m := res.JSON(t); res.Status != 400 || m["error"] != "invalid_key" || !strings.Contains(m["error_description"], `"Alg"`) {
		t.Fatalf("mis-cased Alg: status %d %s, want 400 invalid_key naming the member", res.Status, res.Body)
	}
	signers := []*jwttest.Signer{jwttest.NewEC(t, "ES256"), jwttest.NewEC(t, "ES256"), jwttest.NewEC(t, "ES256")}
	for i, s := range signers[:2] {
		if res := g.do("POST", "/_registry/bank-a/keys", strings.NewReader(string(mustMarshal(t, s.JWK(t, false))))); res.Status != 201 {
			t.Fatalf("key %d: status %d %s, want 201", i, res.Status, res.Body)
		}
	}
	res = g.do("POST", "/_registry/bank-a/keys", strings.NewReader(string(mustMarshal(t, signers[2].JWK(t, false)))))
	if m := res.JSON(t); res.Status != 409 || m["error"] != "too_many_keys" || !strings.Contains(m["error_description"], "2 keys") {
		t.Fatalf("third key: status %d %s, want 409 too_many_keys", res.Status, res.Body)
	}
	if res := g.do("POST", "/_registry/bank-b/keys", strings.NewReader(string(mustMarshal(t, signers[2].JWK(t, false))))); res.Status != 201 {
		t.Fatalf("another counterparty's first key: status %d %s, want 201", res.Status, res.Body)
	}
	if res := g.do("DELETE", "/_registry/bank-a/keys/"+signers[0].KID, nil); res.Status != 204 {
		t.Fatalf("delete: status %d", res.Status)
	}
	if res := g.do("POST", "/_registry/bank-a/keys", strings.NewReader(string(mustMarshal(t, signers[2].JWK(t, false))))); res.Status != 201 {
		t.Fatalf("after a delete: status %d %s, want 201", res.Status, res.Body)
	}
}

// Issue 9: ob_jws enforces the OB UK message-signing rules on crit, typ and cty, through Caddy.
func TestRequestSigOBJWSHeaderRules(t *testing.T) {
	dir := t.TempDir()
	s := jwttest.NewRSA(t, 2048, "PS256")
	be := newBackend(t)
	g := requestSigSite(t, be, fmt.Sprintf(`request_signature {
		key %s
		profile ob_jws
		algorithms PS256
	}`, s.PublicPEM(t, dir)), "")
	body := []byte(`{"Data": {"Initiation": {"InstructedAmount": {"Amount": "10.00"}}}}`)
	const (
		iat = "http://openbanking.org.uk/iat"
		iss = "http://openbanking.org.uk/iss"
		tan = "http://openbanking.org.uk/tan"
	)
	header := func(kv ...any) map[string]any {
		m := map[string]any{
			"kid": s.KID, "b64": false,
			iat: time.Now().Unix(), iss: "0015800001041REAAY/tpp", tan: "openbanking.org.uk",
			"crit": []string{"b64", iat, iss, tan},
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		header map[string]any
		status int
	}{
		{"all rules met", header("typ", "JOSE", "cty", "application/json"), 200},
		{"typ and cty absent", header(), 200},
		{"cty json", header("cty", "json"), 200},
		{"3.1.4 form without b64", header("b64", nil, "crit", []string{iat, iss, tan}), 200},
		{"crit without tan", header("crit", []string{"b64", iat, iss}), 401},
		{"crit without iat, 3.1.4 form", header("b64", nil, "crit", []string{iss, tan}), 401},
		{"typ JWT", header("typ", "JWT"), 401},
		{"cty text/plain", header("cty", "text/plain"), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(be.Requests())
			res := g.do("POST", "/pisp/domestic-payments", bytes.NewReader(body), "x-jws-signature", rsSign(t, s, tc.header, body, true))
			if res.Status != tc.status {
				t.Fatalf("status = %d, want %d (%s)", res.Status, tc.status, res.Body)
			}
			if reached := len(be.Requests()) > before; reached != (tc.status == 200) {
				t.Fatalf("backend reached = %v, want %v", reached, tc.status == 200)
			}
		})
	}
}

// Issue 10 item 9: every jwt_check request leaves a trace: a count in obgate_jwt_checks_total
// by policy, result and reason, and a debug log line naming policy, result and reason with a
// hash prefix of the token, never the token.
func TestCheckEndpointLeavesATrace(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEC(t, "ES256")
	adminPort := freePort(t)
	logFile := filepath.Join(dir, "debug.log")
	g := startGateway(t, fmt.Sprintf(`{
	admin 127.0.0.1:%d
	persist_config off
	storage file_system %s
	log {
		output file %s
		level DEBUG
		include http.handlers.jwt_check
	}
}
http://127.0.0.1:{PORT} {
	handle /_check {
		jwt_check api
	}
	handle {
		jwt_auth {
			issuer %s {
				key %s
			}
			audience api
			name api
		}
		respond "ok"
	}
}
`, adminPort, dir, logFile, issuerA, a.PublicPEM(t, dir)))
	now := time.Now()
	valid := a.Token(t, jwttest.Claims(issuerA, "api", "alice", now), nil)
	expiredClaims := jwttest.Claims(issuerA, "api", "alice", now)
	expiredClaims["exp"] = now.Add(-time.Hour).Unix()
	expired := a.Token(t, expiredClaims, nil)
	for _, tc := range []struct{ body, want string }{
		{`{"token": "` + valid + `"}`, `"valid":true`},
		{`{"token": "` + expired + `"}`, `"reason":"expired"`},
		{`{"token": "` + expired + `"}`, `"reason":"expired"`},
		{`not json`, `invalid_request`},
	} {
		if res := g.do("POST", "/_check", strings.NewReader(tc.body)); !strings.Contains(res.Body, tc.want) {
			t.Fatalf("check: %d %s, want %s", res.Status, res.Body, tc.want)
		}
	}
	_, m := adminGet(t, adminPort, "/metrics")
	const total = "obgate_jwt_checks_total"
	for series, want := range map[string]float64{
		total + `{policy="api",reason="none",result="valid"}`:       1,
		total + `{policy="api",reason="expired",result="invalid"}`:  2,
		total + `{policy="api",reason="none",result="bad_request"}`: 1,
	} {
		if got := metricValue(t, m, series); got < want {
			t.Errorf("%s = %v, want at least %v", series, got, want)
		}
	}
	var logs string
	eventually(t, "the checks in the debug log", func() bool {
		b, _ := os.ReadFile(logFile)
		logs = string(b)
		return strings.Count(logs, `"token checked"`) >= 4
	})
	for _, want := range []string{`"policy":"api"`, `"result":"valid"`, `"reason":"expired"`, `"token_sha256_prefix":"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("debug log lacks %s:\n%s", want, logs)
		}
	}
	for _, tok := range []string{valid, expired} {
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if strings.Contains(logs, sig) {
			t.Fatal("the debug log holds a token")
		}
	}
}

// Issue 10 item 5, the jwt provider inside Caddy's authentication handler: request trailers do
// not reach the backend either.
func TestAuthenticationProviderDropsRequestTrailers(t *testing.T) {
	dir := t.TempDir()
	a := jwttest.NewEC(t, "ES256")
	be := newBackend(t)
	port := freePort(t)
	cfg := fmt.Sprintf(`{
	"admin": {"disabled": true, "config": {"persist": false}},
	"logging": {"logs": {"default": {"level": "ERROR"}}},
	"storage": {"module": "file_system", "root": %q},
	"apps": {"http": {"servers": {"s": {
		"listen": ["127.0.0.1:%d"],
		"automatic_https": {"disable": true},
		"routes": [{"handle": [
			{"handler": "authentication", "providers": {"jwt": {
				"issuers": [{"issuer": %q, "keys": [{"path": %q}]}],
				"audience": ["api"],
				"tokens": [{"from": "header", "name": "CX-Authorization"}],
				"require_empty": ["Authorization"]
			}}},
			{"handler": "reverse_proxy", "upstreams": [{"dial": %q}]}
		]}]
	}}}}
}`, dir, port, issuerA, a.PublicPEM(t, dir), be.Addr())
	if err := loadCaddy([]byte(cfg)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopCaddy(t) })
	g := &gateway{t: t, Port: port, URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	g.waitListening()
	tok := a.Token(t, jwttest.Claims(issuerA, "api", "carol", time.Now()), nil)
	status := rawChunked(t, g, "/pay", []string{"CX-Authorization", tok}, "{}",
		[]string{"Authorization", "Bearer " + unsignedToken(t)})
	if status != 200 {
		t.Fatalf("status = %d, want 200", status)
	}
	got := be.Requests()
	if len(got) != 1 {
		t.Fatalf("backend got %d requests, want 1", len(got))
	}
	if len(got[0].Trailer) != 0 {
		t.Errorf("backend got request trailers %v, want none", got[0].Trailer)
	}
}
