package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/jwttest"
)

// rsSign signs a request-signature JWS: header (alg added) over payload, compact or detached
// (RFC 7515 App. F). With "b64": false in the header the payload is signed unencoded (RFC 7797).
func rsSign(t *testing.T, s *jwttest.Signer, header map[string]any, payload []byte, detached bool) string {
	t.Helper()
	header["alg"] = s.Alg
	hj, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	if header["b64"] == false {
		hseg := jwttest.Encode(hj)
		return hseg + ".." + s.SignInput(t, hseg+"."+string(payload))
	}
	tok := s.SignRaw(t, hj, payload)
	if detached {
		parts := strings.Split(tok, ".")
		tok = parts[0] + ".." + parts[2]
	}
	return tok
}

// tokenioHeader is a tokenio header for a request to host/path, valid for a minute.
func tokenioHeader(s *jwttest.Signer, method, host, path string, kv ...any) map[string]any {
	h := map[string]any{
		"kid": s.KID, "typ": "jwt", "exp": time.Now().Add(time.Minute).UnixMilli(), "mid": "m:test",
		"method": method, "host": host, "path": path,
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(h, kv[i].(string))
			continue
		}
		h[kv[i].(string)] = kv[i+1]
	}
	return h
}

// requestSigSite is a gateway on any host name (loopback only) that checks request signatures
// before proxying to the recording backend.
func requestSigSite(t *testing.T, be *backend, directive string, extra string) *gateway {
	t.Helper()
	return startGateway(t, fmt.Sprintf(`
http://:{PORT} {
	bind 127.0.0.1
	%s
	%s
	reverse_proxy %s
}
`, extra, directive, be.Addr()))
}

const bankHost = "api.bank.example"

func TestRequestSigTokenIO(t *testing.T) {
	dir := t.TempDir()
	s := jwttest.NewEC(t, "ES256")
	be := newBackend(t)
	g := requestSigSite(t, be, fmt.Sprintf(`request_signature {
		key %s
		profile tokenio
		realm bank
	}`, s.PublicPEM(t, dir)), "")

	body := `{"requestPayload": {"amount": "2.00"}}`
	sig := func(detached bool, kv ...any) string {
		return rsSign(t, s, tokenioHeader(s, "POST", bankHost, "/banks/iron/consents", kv...), []byte(body), detached)
	}
	type call struct {
		method, path, host, body string
		auth                     []string
	}
	send := func(c call) response {
		hdr := append([]string{"Host", c.host}, c.auth...)
		return g.do(c.method, c.path, strings.NewReader(c.body), hdr...)
	}
	ok := call{"POST", "/banks/iron/consents", bankHost, body, bearer(sig(true))}
	for _, tc := range []struct {
		name   string
		call   call
		status int
		desc   string // what the error_description must name
	}{
		{"detached signature passes", ok, 200, ""},
		{"compact signature passes", call{"POST", "/banks/iron/consents", bankHost, body, bearer(sig(false))}, 200, ""},
		{"signed default port passes", call{"POST", "/banks/iron/consents", bankHost, body, bearer(sig(true, "host", bankHost+":80"))}, 200, ""},
		{"sent default port passes", call{"POST", "/banks/iron/consents", bankHost + ":80", body, bearer(sig(true))}, 200, ""},
		{"tampered method rejected", call{"PUT", "/banks/iron/consents", bankHost, body, bearer(sig(true))}, 401, "method"},
		{"tampered host rejected", call{"POST", "/banks/iron/consents", "evil.example", body, bearer(sig(true))}, 401, "host"},
		{"tampered path rejected", call{"POST", "/banks/iron/consents2", bankHost, body, bearer(sig(true))}, 401, "path"},
		{"added query rejected", call{"POST", "/banks/iron/consents?type=access", bankHost, body, bearer(sig(true))}, 401, "query"},
		{"tampered query rejected", call{"POST", "/banks/iron/consents?type=other", bankHost, body, bearer(sig(true, "query", "type=access"))}, 401, "query"},
		{"one body byte tampered rejected", call{"POST", "/banks/iron/consents", bankHost, strings.Replace(body, "2.00", "3.00", 1), bearer(sig(true))}, 401, "signature"},
		{"one body byte tampered, compact, rejected", call{"POST", "/banks/iron/consents", bankHost, strings.Replace(body, "2.00", "3.00", 1), bearer(sig(false))}, 401, "body"},
		{"one whitespace added rejected", call{"POST", "/banks/iron/consents", bankHost, body + " ", bearer(sig(true))}, 401, "signature"},
		{"expired rejected", call{"POST", "/banks/iron/consents", bankHost, body, bearer(sig(true, "exp", time.Now().Add(-time.Minute).UnixMilli()))}, 401, "expired"},
		{"no signature answered without error attribute", call{"POST", "/banks/iron/consents", bankHost, body, nil}, 401, ""},
		{"two signatures rejected", call{"POST", "/banks/iron/consents", bankHost, body, append(bearer(sig(true)), bearer(sig(false))...)}, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(be.Requests())
			res := send(tc.call)
			if res.Status != tc.status {
				t.Fatalf("status = %d, want %d (%s)", res.Status, tc.status, res.Body)
			}
			got := be.Requests()
			if tc.status != 200 {
				if len(got) != before {
					t.Fatal("the backend was reached by a rejected request")
				}
				wantErr := map[int]string{401: "invalid_token", 400: "invalid_request"}[tc.status]
				if tc.call.auth == nil {
					wantErr = ""
				}
				checkRejection(t, res, tc.status, wantErr, "bank")
				if !strings.Contains(res.JSON(t)["error_description"], tc.desc) {
					t.Errorf("error_description = %q, want it to name %q", res.JSON(t)["error_description"], tc.desc)
				}
				return
			}
			if len(got) != before+1 || string(got[len(got)-1].Body) != tc.call.body {
				t.Fatalf("backend got %d requests, last body %q; want the exact body %q", len(got)-before, lastBody(got), tc.call.body)
			}
		})
	}
}

func lastBody(rs []recordedRequest) string {
	if len(rs) == 0 {
		return ""
	}
	return string(rs[len(rs)-1].Body)
}

func TestRequestSigEncodedPathBothWays(t *testing.T) {
	dir := t.TempDir()
	s := jwttest.NewEC(t, "ES256")
	pem := s.PublicPEM(t, dir)
	for _, tc := range []struct {
		form       string
		signedPath string
		status     int
	}{
		{"decoded", "/transaction/O;5823", 200},
		{"decoded", "/transaction/O%3B5823", 401},
		{"escaped", "/transaction/O%3B5823", 200},
		{"escaped", "/transaction/O;5823", 401},
	} {
		t.Run(tc.form+" "+tc.signedPath, func(t *testing.T) {
			be := newBackend(t)
			g := requestSigSite(t, be, fmt.Sprintf(`request_signature {
				key %s
				profile tokenio
				path_form %s
			}`, pem, tc.form), "")
			tok := rsSign(t, s, tokenioHeader(s, "GET", bankHost, tc.signedPath), nil, true)
			res := g.do("GET", "/transaction/O%3B5823", nil, append([]string{"Host", bankHost}, bearer(tok)...)...)
			if res.Status != tc.status {
				t.Fatalf("status = %d, want %d (%s)", res.Status, tc.status, res.Body)
			}
			if tc.status == 200 {
				if got := be.Requests(); len(got) != 1 || got[0].Path != "/transaction/O%3B5823" {
					t.Fatalf("backend got %+v, want the path as sent", got)
				}
			}
		})
	}
}

func TestRequestSigEmptyBodyGETAndRewrite(t *testing.T) {
	dir := t.TempDir()
	s := jwttest.NewEC(t, "ES256")
	be := newBackend(t)
	// The rewrite runs before request_signature; the signature binds the path the client sent.
	g := requestSigSite(t, be, fmt.Sprintf(`request_signature {
		key %s
		profile tokenio
	}`, s.PublicPEM(t, dir)), `rewrite * /internal{uri}`)
	tok := rsSign(t, s, tokenioHeader(s, "GET", bankHost, "/accounts", "query", "limit=10"), nil, false)
	res := g.do("GET", "/accounts?limit=10", nil, append([]string{"Host", bankHost}, bearer(tok)...)...)
	if res.Status != 200 {
		t.Fatalf("status = %d, want 200 (%s)", res.Status, res.Body)
	}
	got := be.Requests()
	if len(got) != 1 || got[0].Path != "/internal/accounts?limit=10" || len(got[0].Body) != 0 {
		t.Fatalf("backend got %+v, want the rewritten path and an empty body", got)
	}
}

// chunked is a reader of unknown length: the client sends it with Transfer-Encoding: chunked.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestRequestSigBodyLimitAndChunked(t *testing.T) {
	dir := t.TempDir()
	s := jwttest.NewEC(t, "ES256")
	be := newBackend(t)
	g := requestSigSite(t, be, fmt.Sprintf(`request_signature {
		key %s
		profile detached
		max_body 64KiB
	}`, s.PublicPEM(t, dir)), "")
	exact := bytes.Repeat([]byte("x"), 64<<10)
	over := append(bytes.Clone(exact), 'y')
	sign := func(body []byte) []string {
		return []string{"Authorization", "Bearer " + rsSign(t, s, map[string]any{"kid": s.KID}, body, true)}
	}
	for _, tc := range []struct {
		name   string
		body   []byte
		chunk  bool
		status int
	}{
		{"body of exactly max_body passes", exact, false, 200},
		{"chunked body of exactly max_body passes", exact, true, 200},
		{"chunked small body passes", []byte(`{"a": 1}`), true, 200},
		{"body over max_body refused", over, false, 413},
		{"chunked body over max_body refused", over, true, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(be.Requests())
			var r io.Reader = bytes.NewReader(tc.body)
			if tc.chunk {
				r = chunked{r}
			}
			res := g.do("PUT", "/upload", r, sign(tc.body)...)
			if res.Status != tc.status {
				t.Fatalf("status = %d, want %d (%s)", res.Status, tc.status, res.Body)
			}
			got := be.Requests()
			if tc.status == 413 {
				if len(got) != before {
					t.Fatal("the backend was reached by an oversize request")
				}
				if body := res.JSON(t); body["error"] != "invalid_request" {
					t.Errorf("error = %q, want invalid_request", body["error"])
				}
				return
			}
			if len(got) != before+1 || !bytes.Equal(got[len(got)-1].Body, tc.body) {
				t.Fatalf("backend did not get the exact body (%d bytes)", len(lastBody(got)))
			}
		})
	}
}

func TestRequestSigOBJWSAndReplay(t *testing.T) {
	dir := t.TempDir()
	s := jwttest.NewRSA(t, 2048, "PS256")
	be := newBackend(t)
	g := requestSigSite(t, be, fmt.Sprintf(`request_signature {
		key %s
		profile ob_jws
		version 3.1.3
		algorithms PS256
		replay
	}`, s.PublicPEM(t, dir)), "")
	body := []byte(`{"Data": {"Initiation": {"InstructedAmount": {"Amount": "10.00"}}}}`)
	h := func(b64 any) map[string]any {
		m := map[string]any{
			"kid": s.KID, "typ": "JOSE", "cty": "application/json",
			"http://openbanking.org.uk/iat": time.Now().Unix(),
			"http://openbanking.org.uk/iss": "0015800001041REAAY/tpp",
			"http://openbanking.org.uk/tan": "openbanking.org.uk",
			"crit":                          []string{"b64", "http://openbanking.org.uk/iat", "http://openbanking.org.uk/iss", "http://openbanking.org.uk/tan"},
		}
		if b64 != nil {
			m["b64"] = b64
		}
		return m
	}
	sig := rsSign(t, s, h(false), body, true)
	if res := g.do("POST", "/pisp/domestic-payments", bytes.NewReader(body), "x-jws-signature", sig); res.Status != 200 {
		t.Fatalf("status = %d, want 200 (%s)", res.Status, res.Body)
	}
	res := g.do("POST", "/pisp/domestic-payments", bytes.NewReader(body), "x-jws-signature", sig)
	if res.Status != 401 || !strings.Contains(res.JSON(t)["error_description"], "already used") {
		t.Fatalf("replayed signature: status %d %s, want 401 already used", res.Status, res.Body)
	}
	// b64=false without crit: must be rejected (RFC 7797 §6).
	noCrit := h(false)
	delete(noCrit, "crit")
	if res := g.do("POST", "/p", bytes.NewReader(body), "x-jws-signature", rsSign(t, s, noCrit, body, true)); res.Status != 401 {
		t.Fatalf("b64=false without crit: status %d, want 401", res.Status)
	}
	if n := len(be.Requests()); n != 1 {
		t.Fatalf("backend got %d requests, want 1", n)
	}
}

// After a verified signature, {http.request_signature.kid} and .issuer name the signer for later
// handlers, here the upstream.
func TestRequestSigPlaceholdersReachUpstream(t *testing.T) {
	dir := t.TempDir()
	s := jwttest.NewEC(t, "ES256")
	be := newBackend(t)
	g := startGateway(t, fmt.Sprintf(`
http://:{PORT} {
	bind 127.0.0.1
	request_signature {
		issuer https://tpp.example {
			key %s
		}
		profile tokenio
	}
	reverse_proxy %s {
		header_up X-Signer-Kid {http.request_signature.kid}
		header_up X-Signer-Iss {http.request_signature.issuer}
	}
}
`, s.PublicPEM(t, dir), be.Addr()))
	body := `{"a":1}`
	h := tokenioHeader(s, "POST", bankHost, "/pay", "iss", "https://tpp.example")
	res := g.do("POST", "/pay", strings.NewReader(body), "Host", bankHost, "Authorization", "Bearer "+rsSign(t, s, h, []byte(body), true))
	if res.Status != 200 {
		t.Fatalf("status = %d (%s), want 200", res.Status, res.Body)
	}
	got := be.Requests()[0].Header
	if got.Get("X-Signer-Kid") != s.KID || got.Get("X-Signer-Iss") != "https://tpp.example" {
		t.Errorf("upstream saw kid %q, issuer %q; want %q, https://tpp.example", got.Get("X-Signer-Kid"), got.Get("X-Signer-Iss"), s.KID)
	}
}
