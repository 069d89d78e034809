package binding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/jwttest"
	"github.com/obgate/obgate/replay/backend"
)

var testNow = time.Unix(1_700_000_000, 0)

func fixedClock() time.Time { return testNow }

// fixture is a verifier with one key and a signer for it.
type fixture struct {
	t      testing.TB
	signer *jwttest.Signer
	v      *verify.Verifier
}

func newFixture(t *testing.T, issuers ...string) *fixture {
	t.Helper()
	s := jwttest.NewEC(t, "ES256")
	if len(issuers) == 0 {
		issuers = []string{"anon"}
	}
	var p verify.Policy
	for _, name := range issuers {
		p.Issuers = append(p.Issuers, verify.Issuer{Name: name, Sources: []keys.Source{keys.NewStatic(keys.Key{
			ID: s.KID + name, Public: s.Public(), Algorithms: []string{"ES256"},
		})}})
	}
	p.Clock = fixedClock
	v, err := verify.New(p)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, signer: s, v: v}
}

func (f *fixture) binder(c Config) *Binder {
	f.t.Helper()
	c.Clock = fixedClock
	b, err := New(f.v, c)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// sign makes a compact JWS over payload with the given header (alg added); detached drops the
// payload segment. With b64=false in the header the payload is signed unencoded (RFC 7797).
func (f *fixture) sign(header map[string]any, payload []byte, detached bool) []byte {
	f.t.Helper()
	header["alg"] = f.signer.Alg
	hj, err := json.Marshal(header)
	if err != nil {
		f.t.Fatal(err)
	}
	hseg := jwttest.Encode(hj)
	if header["b64"] == false {
		sig := f.signer.SignInput(f.t, hseg+"."+string(payload))
		return []byte(hseg + ".." + sig)
	}
	tok := f.signer.SignRaw(f.t, hj, payload)
	if detached {
		parts := strings.Split(tok, ".")
		tok = parts[0] + ".." + parts[2]
	}
	return []byte(tok)
}

func tokenioHeader(f *fixture, issuer string) map[string]any {
	return map[string]any{
		"kid":    f.signer.KID + issuer,
		"typ":    "jwt",
		"exp":    testNow.Add(time.Minute).UnixMilli(),
		"mid":    "m:QWu4AjKk13DAAe1NiVLXeBRDwtt:5zKtXEAq",
		"method": "POST",
		"host":   "api.bank.example",
		"path":   "/banks/iron/consents",
	}
}

func request() *Request {
	return &Request{
		Method:  "POST",
		Scheme:  "https",
		Host:    "api.bank.example",
		RawPath: "/banks/iron/consents",
		Body:    []byte(`{"requestPayload": {"amount": "2.00"}}`),
	}
}

func with(h map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(h))
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func wantReason(t *testing.T, err error, reason verify.Reason, detail string) {
	t.Helper()
	var e *verify.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want a *verify.Error with reason %v", err, reason)
	}
	if e.Reason != reason || (detail != "" && e.Detail != detail) {
		t.Fatalf("error = %v (reason %v, detail %q), want reason %v detail %q", err, e.Reason, e.Detail, reason, detail)
	}
}

func TestTokenIO(t *testing.T) {
	f := newFixture(t)
	b := f.binder(Config{Profile: ProfileTokenIO})
	h := tokenioHeader(f, "anon")
	req := request()
	mod := func(fn func(r *Request)) *Request {
		r := *request()
		fn(&r)
		return &r
	}
	for _, tc := range []struct {
		name   string
		token  []byte
		req    *Request
		reason verify.Reason // 0: accepted
		detail string
	}{
		{"compact form accepted", f.sign(h, req.Body, false), req, 0, ""},
		{"detached form accepted", f.sign(h, req.Body, true), req, 0, ""},
		{"exp as numeric string accepted", f.sign(with(h, "exp", "1700000060000"), req.Body, true), req, 0, ""},
		{"explicit default port in signed host accepted", f.sign(with(h, "host", "API.bank.example:443"), req.Body, true), req, 0, ""},
		{"explicit default port in sent host accepted", f.sign(h, req.Body, true), mod(func(r *Request) { r.Host = "api.bank.example:443" }), 0, ""},
		{"empty query on a request without one accepted", f.sign(with(h, "query", ""), req.Body, true), req, 0, ""},
		{"method tampered rejected", f.sign(h, req.Body, true), mod(func(r *Request) { r.Method = "PUT" }), verify.ReasonBindingMismatch, "method"},
		{"lower-case method rejected", f.sign(with(h, "method", "post"), req.Body, true), req, verify.ReasonBindingMismatch, "method"},
		{"host tampered rejected", f.sign(h, req.Body, true), mod(func(r *Request) { r.Host = "evil.example" }), verify.ReasonBindingMismatch, "host"},
		{"other port rejected", f.sign(with(h, "host", "api.bank.example:8443"), req.Body, true), req, verify.ReasonBindingMismatch, "host"},
		{"default port of the other scheme rejected", f.sign(with(h, "host", "api.bank.example:80"), req.Body, true), req, verify.ReasonBindingMismatch, "host"},
		{"path tampered rejected", f.sign(h, req.Body, true), mod(func(r *Request) { r.RawPath = "/banks/iron/consents/1" }), verify.ReasonBindingMismatch, "path"},
		{"query added to the request rejected", f.sign(h, req.Body, true), mod(func(r *Request) { r.RawQuery = "type=access" }), verify.ReasonBindingMismatch, "query"},
		{"query tampered rejected", f.sign(with(h, "query", "type=access"), req.Body, true), mod(func(r *Request) { r.RawQuery = "type=other" }), verify.ReasonBindingMismatch, "query"},
		{"signed query on a request without one rejected", f.sign(with(h, "query", "type=access"), req.Body, true), req, verify.ReasonBindingMismatch, "query"},
		{"query matching accepted", f.sign(with(h, "query", "type=access"), req.Body, true), mod(func(r *Request) { r.RawQuery = "type=access" }), 0, ""},
		{"one body byte tampered in detached form rejected", f.sign(h, req.Body, true), mod(func(r *Request) { r.Body = []byte(strings.Replace(string(r.Body), "2.00", "3.00", 1)) }), verify.ReasonBadSignature, ""},
		{"one body byte tampered in compact form rejected", f.sign(h, req.Body, false), mod(func(r *Request) { r.Body = []byte(strings.Replace(string(r.Body), "2.00", "3.00", 1)) }), verify.ReasonBindingMismatch, "body"},
		{"one whitespace added to the body rejected", f.sign(h, req.Body, true), mod(func(r *Request) { r.Body = append([]byte(" "), r.Body...) }), verify.ReasonBadSignature, ""},
		{"one whitespace in compact form rejected", f.sign(h, req.Body, false), mod(func(r *Request) { r.Body = append(r.Body, '\n') }), verify.ReasonBindingMismatch, "body"},
		{"expired beyond leeway rejected", f.sign(with(h, "exp", testNow.Add(-31*time.Second).UnixMilli()), req.Body, true), req, verify.ReasonExpired, ""},
		{"expired within leeway accepted", f.sign(with(h, "exp", testNow.Add(-29*time.Second).UnixMilli()), req.Body, true), req, 0, ""},
		{"missing exp rejected", f.sign(with(h, "exp", nil), req.Body, true), req, verify.ReasonMissingExp, ""},
		{"fractional exp rejected", f.sign(with(h, "exp", 1.5), req.Body, true), req, verify.ReasonBadTime, "exp"},
		{"non-numeric exp string rejected", f.sign(with(h, "exp", "soon"), req.Body, true), req, verify.ReasonBadTime, "exp"},
		{"missing method rejected", f.sign(with(h, "method", nil), req.Body, true), req, verify.ReasonBindingMismatch, "method"},
		{"missing host rejected", f.sign(with(h, "host", nil), req.Body, true), req, verify.ReasonBindingMismatch, "host"},
		{"missing path rejected", f.sign(with(h, "path", nil), req.Body, true), req, verify.ReasonBindingMismatch, "path"},
		{"b64 header rejected", f.sign(with(h, "b64", true, "crit", []string{"b64"}), req.Body, true), req, verify.ReasonCritUnsupported, ""},
		{"unknown crit rejected", f.sign(with(h, "crit", []string{"x-other"}, "x-other", 1), req.Body, true), req, verify.ReasonCritUnsupported, ""},
		{"tokenio params in crit accepted", f.sign(with(h, "crit", []string{"method", "path"}), req.Body, true), req, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := b.Verify(context.Background(), tc.token, tc.req)
			if tc.reason == 0 {
				if err != nil {
					t.Fatalf("Verify() = %v, want success", err)
				}
				if string(res.Payload) != string(tc.req.Body) {
					t.Errorf("Payload = %q, want the body", res.Payload)
				}
				return
			}
			wantReason(t, err, tc.reason, tc.detail)
		})
	}
}

func TestTokenIOEmptyBodyGET(t *testing.T) {
	f := newFixture(t)
	b := f.binder(Config{Profile: ProfileTokenIO})
	h := with(tokenioHeader(f, "anon"), "method", "GET", "path", "/accounts", "query", "limit=10")
	req := &Request{Method: "GET", Scheme: "https", Host: "api.bank.example", RawPath: "/accounts", RawQuery: "limit=10"}
	for _, detached := range []bool{false, true} {
		if _, err := b.Verify(context.Background(), f.sign(h, nil, detached), req); err != nil {
			t.Errorf("empty-body GET (detached %v): Verify() = %v, want success", detached, err)
		}
	}
	// A JWS whose payload is not empty does not fit an empty body.
	_, err := b.Verify(context.Background(), f.sign(h, []byte("{}"), false), req)
	wantReason(t, err, verify.ReasonBindingMismatch, "body")
}

// TestTokenIOEncodedPath covers seed 002's corner case: the wire carries O%3B5823, the JWS the
// raw O;5823. Each path_form accepts its own form and refuses the other.
func TestTokenIOEncodedPath(t *testing.T) {
	f := newFixture(t)
	req := &Request{Method: "GET", Scheme: "https", Host: "api.bank.example", RawPath: "/transaction/O%3B5823"}
	decodedJWS := f.sign(with(tokenioHeader(f, "anon"), "method", "GET", "path", "/transaction/O;5823"), nil, true)
	escapedJWS := f.sign(with(tokenioHeader(f, "anon"), "method", "GET", "path", "/transaction/O%3B5823"), nil, true)
	for _, tc := range []struct {
		name  string
		form  PathForm
		token []byte
		ok    bool
	}{
		{"decoded form accepts the decoded path", PathDecoded, decodedJWS, true},
		{"decoded form refuses the escaped path", PathDecoded, escapedJWS, false},
		{"escaped form accepts the escaped path", PathEscaped, escapedJWS, true},
		{"escaped form refuses the decoded path", PathEscaped, decodedJWS, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := f.binder(Config{Profile: ProfileTokenIO, PathForm: tc.form})
			_, err := b.Verify(context.Background(), tc.token, req)
			if tc.ok && err != nil {
				t.Fatalf("Verify() = %v, want success", err)
			}
			if !tc.ok {
				wantReason(t, err, verify.ReasonBindingMismatch, "path")
			}
		})
	}
}

func TestIssuerSelection(t *testing.T) {
	f := newFixture(t, "https://tpp-a.example", "https://tpp-b.example")
	b := f.binder(Config{Profile: ProfileTokenIO, IssuerParam: true})
	req := request()
	good := f.sign(with(tokenioHeader(f, "https://tpp-a.example"), "iss", "https://tpp-a.example"), req.Body, true)
	res, err := b.Verify(context.Background(), good, req)
	if err != nil {
		t.Fatalf("Verify() = %v, want success", err)
	}
	if res.Issuer != "https://tpp-a.example" {
		t.Errorf("Issuer = %q, want https://tpp-a.example", res.Issuer)
	}
	// The kid of issuer a, claimed under issuer b: b's keys are the only ones tried.
	crossed := f.sign(with(tokenioHeader(f, "https://tpp-a.example"), "iss", "https://tpp-b.example"), req.Body, true)
	_, err = b.Verify(context.Background(), crossed, req)
	wantReason(t, err, verify.ReasonUnknownKey, "")
	_, err = b.Verify(context.Background(), f.sign(tokenioHeader(f, "https://tpp-a.example"), req.Body, true), req)
	wantReason(t, err, verify.ReasonUnknownIssuer, "")
	_, err = b.Verify(context.Background(), f.sign(with(tokenioHeader(f, "x"), "iss", "https://unknown.example"), req.Body, true), req)
	wantReason(t, err, verify.ReasonUnknownIssuer, "")
}

func obHeader(f *fixture, b64 any) map[string]any {
	h := map[string]any{
		"kid": f.signer.KID + "anon",
		"typ": "JOSE",
		"cty": "application/json",
		obIAT: testNow.Unix(),
		obISS: "0015800001041REAAY/1234",
		obTAN: "openbanking.org.uk",
	}
	crit := []string{obIAT, obISS, obTAN}
	if b64 != nil {
		h["b64"] = b64
		crit = append([]string{"b64"}, crit...)
	}
	h["crit"] = crit
	return h
}

func TestOBJWS(t *testing.T) {
	f := newFixture(t)
	body := []byte(`{"Data": {"Initiation": {"InstructedAmount": {"Amount": "10.00"}}}}`)
	req := &Request{Method: "POST", Scheme: "https", Host: "ob.example", RawPath: "/pisp/domestic-payments", Body: body}
	v313 := obHeader(f, false)
	v314 := obHeader(f, nil)
	for _, tc := range []struct {
		name    string
		version string
		token   []byte
		reason  verify.Reason
		detail  string
	}{
		{"3.1.3 b64=false accepted", "3.1.3", f.sign(v313, body, true), 0, ""},
		{"3.1.4 b64 absent accepted", "3.1.4", f.sign(v314, body, true), 0, ""},
		{"default accepts b64=false", "", f.sign(v313, body, true), 0, ""},
		{"default accepts b64 absent", "", f.sign(v314, body, true), 0, ""},
		{"3.1.3 refuses b64 absent", "3.1.3", f.sign(v314, body, true), verify.ReasonBadHeader, ""},
		{"3.1.4 refuses b64=false", "v3.1.10", f.sign(v313, body, true), verify.ReasonBadHeader, ""},
		{"b64=true refused", "", f.sign(with(v313, "b64", true), body, true), verify.ReasonBadHeader, ""},
		{"b64=false without crit refused", "", f.sign(with(v313, "crit", []string{obIAT, obISS, obTAN}), body, true), verify.ReasonBadHeader, ""},
		{"compact form refused", "", f.sign(v314, body, false), verify.ReasonMalformed, ""},
		{"body tampered refused", "", f.sign(v313, append([]byte(" "), body...), true), verify.ReasonBadSignature, ""},
		{"iat older than leeway refused", "", f.sign(with(v314, obIAT, testNow.Add(-31*time.Second).Unix()), body, true), verify.ReasonTooOld, ""},
		{"iat in the future refused", "", f.sign(with(v314, obIAT, testNow.Add(31*time.Second).Unix()), body, true), verify.ReasonIssuedInFuture, ""},
		{"iat as string refused", "", f.sign(with(v314, obIAT, "1700000000"), body, true), verify.ReasonBadTime, obIAT},
		// 1e12 s overflows time.Duration's nanoseconds: it must read as the far future it is.
		{"iat far in the future refused as future, not wrapped", "", f.sign(with(v314, obIAT, int64(1e12)), body, true), verify.ReasonIssuedInFuture, ""},
		{"iat at the largest accepted value refused as future", "", f.sign(with(v314, obIAT, int64(1<<40)), body, true), verify.ReasonIssuedInFuture, ""},
		{"missing iat refused", "", f.sign(with(v314, obIAT, nil, "crit", []string{obISS, obTAN}), body, true), verify.ReasonMissingClaim, obIAT},
		{"missing iss refused", "", f.sign(with(v314, obISS, nil, "crit", []string{obIAT, obTAN}), body, true), verify.ReasonMissingClaim, obISS},
		{"unknown trust anchor refused", "", f.sign(with(v314, obTAN, "evil.example"), body, true), verify.ReasonUnknownIssuer, "trust anchor"},
		// OB UK Read/Write Data API Profile, Message Signing, Step 2: crit, typ and cty.
		{"crit without iat refused", "", f.sign(with(v314, "crit", []string{obISS, obTAN}), body, true), verify.ReasonBadHeader, "crit must list " + obIAT},
		{"crit without iss refused", "3.1.4", f.sign(with(v314, "crit", []string{obIAT, obTAN}), body, true), verify.ReasonBadHeader, "crit must list " + obISS},
		{"crit without tan refused", "3.1.3", f.sign(with(v313, "crit", []string{"b64", obIAT, obISS}), body, true), verify.ReasonBadHeader, "crit must list " + obTAN},
		{"no crit refused", "3.1.4", f.sign(with(v314, "crit", nil), body, true), verify.ReasonBadHeader, "crit must list " + obIAT},
		{"crit in another order accepted", "3.1.3", f.sign(with(v313, "crit", []string{obTAN, obISS, "b64", obIAT}), body, true), 0, ""},
		{"typ absent accepted", "", f.sign(with(v314, "typ", nil), body, true), 0, ""},
		{"typ application/jose accepted", "", f.sign(with(v314, "typ", "application/jose"), body, true), 0, ""},
		{"typ JWT refused", "", f.sign(with(v314, "typ", "JWT"), body, true), verify.ReasonBadHeader, "typ must be JOSE"},
		{"typ not a string refused", "", f.sign(with(v314, "typ", 1), body, true), verify.ReasonBadHeader, "typ must be JOSE"},
		{"cty absent accepted", "", f.sign(with(v314, "cty", nil), body, true), 0, ""},
		{"cty json accepted", "", f.sign(with(v314, "cty", "json"), body, true), 0, ""},
		{"cty text/plain refused", "", f.sign(with(v314, "cty", "text/plain"), body, true), verify.ReasonBadHeader, "cty must be json or application/json"},
		{"cty jose+json refused", "", f.sign(with(v314, "cty", "application/jose+json"), body, true), verify.ReasonBadHeader, "cty must be json or application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := f.binder(Config{Profile: ProfileOBJWS, OBVersion: tc.version})
			res, err := b.Verify(context.Background(), tc.token, req)
			if tc.reason == 0 {
				if err != nil {
					t.Fatalf("Verify() = %v, want success", err)
				}
				if want := testNow.Add(30 * time.Second); !res.Expires.Equal(want) {
					t.Errorf("Expires = %v, want iat+leeway %v", res.Expires, want)
				}
				return
			}
			wantReason(t, err, tc.reason, tc.detail)
		})
	}
}

func TestOBJWSTrustAnchorsAndIssuer(t *testing.T) {
	f := newFixture(t, "0015800001041REAAY/1234")
	b := f.binder(Config{Profile: ProfileOBJWS, IssuerParam: true, TrustAnchors: []string{"sandbox.example"}})
	body := []byte("{}")
	req := &Request{Method: "POST", Scheme: "https", Host: "ob.example", RawPath: "/", Body: body}
	h := with(obHeader(f, nil), "kid", f.signer.KID+"0015800001041REAAY/1234", obTAN, "sandbox.example")
	if _, err := b.Verify(context.Background(), f.sign(h, body, true), req); err != nil {
		t.Fatalf("Verify() = %v, want success", err)
	}
	_, err := b.Verify(context.Background(), f.sign(with(h, obTAN, "openbanking.org.uk"), body, true), req)
	wantReason(t, err, verify.ReasonUnknownIssuer, "trust anchor")
	_, err = b.Verify(context.Background(), f.sign(with(h, obISS, "other/1"), body, true), req)
	wantReason(t, err, verify.ReasonUnknownIssuer, "")
}

func TestDetachedProfile(t *testing.T) {
	f := newFixture(t)
	b := f.binder(Config{Profile: ProfileDetached})
	body := []byte("$.02")
	req := &Request{Method: "PUT", Scheme: "http", Host: "x", RawPath: "/", Body: body}
	h := map[string]any{"kid": f.signer.KID + "anon"}
	for _, tc := range []struct {
		name   string
		token  []byte
		reason verify.Reason
	}{
		{"detached accepted", f.sign(h, body, true), 0},
		{"compact accepted", f.sign(h, body, false), 0},
		{"unencoded payload with crit accepted", f.sign(with(h, "b64", false, "crit", []string{"b64"}), body, true), 0},
		{"unencoded payload without crit rejected", f.sign(with(h, "b64", false), body, true), verify.ReasonBadHeader},
		{"other body rejected", f.sign(h, []byte("$.03"), true), verify.ReasonBadSignature},
		{"method and host are not bound", f.sign(with(h, "method", "GET"), body, true), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Verify(context.Background(), tc.token, req)
			if tc.reason == 0 {
				if err != nil {
					t.Fatalf("Verify() = %v, want success", err)
				}
				return
			}
			wantReason(t, err, tc.reason, "")
		})
	}
}

func TestReplay(t *testing.T) {
	f := newFixture(t)
	cache := backend.NewMemory(10, fixedClock)
	b := f.binder(Config{Profile: ProfileTokenIO, Replay: cache})
	req := request()
	tok := f.sign(tokenioHeader(f, "anon"), req.Body, true)
	if _, err := b.Verify(context.Background(), tok, req); err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	if n := cache.Len(); n != 0 {
		t.Fatalf("Verify made %d replay entries, want none", n)
	}
	if _, err := b.Accept(context.Background(), tok, req); err != nil {
		t.Fatalf("first Accept() = %v, want success", err)
	}
	_, err := b.Accept(context.Background(), tok, req)
	wantReason(t, err, verify.ReasonReplayed, "")
	// The same header with another body is another request.
	other := *req
	other.Body = []byte("{}")
	if _, err := b.Accept(context.Background(), f.sign(tokenioHeader(f, "anon"), other.Body, true), &other); err != nil {
		t.Fatalf("Accept() of another body = %v, want success", err)
	}
	// The compact form of a seen request is the same request.
	compact := f.sign(tokenioHeader(f, "anon"), req.Body, false)
	_, err = b.Accept(context.Background(), compact, req)
	wantReason(t, err, verify.ReasonReplayed, "")
}

// failingStore fails every claim with err.
type failingStore struct{ err error }

func (s failingStore) Claim(context.Context, [32]byte, time.Time) error { return s.err }

// TestReplayStoreFailureRejects: a store that cannot tell (full, unreachable, any unknown error)
// refuses the request with 503 and a Retry-After; a store that says "replayed" gives 401.
func TestReplayStoreFailureRejects(t *testing.T) {
	f := newFixture(t)
	req := request()
	tok := f.sign(tokenioHeader(f, "anon"), req.Body, true)
	full := backend.NewMemory(1, fixedClock)
	if err := full.Claim(context.Background(), [32]byte{1}, testNow.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		store  ReplayStore
		reason verify.Reason
		retry  time.Duration
	}{
		{"unavailable store refused 503", failingStore{fmt.Errorf("%w: dial tcp: refused", backend.ErrUnavailable)}, verify.ReasonReplayUnavailable, time.Second},
		{"unknown store error refused 503", failingStore{errors.New("store down")}, verify.ReasonReplayUnavailable, time.Second},
		{"full store refused 503 until the oldest value expires", full, verify.ReasonReplayUnavailable, 3 * time.Minute},
		{"replayed 401", failingStore{backend.ErrReplayed}, verify.ReasonReplayed, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := f.binder(Config{Profile: ProfileTokenIO, Replay: tc.store})
			_, err := b.Accept(context.Background(), tok, req)
			wantReason(t, err, tc.reason, "")
			if got := verify.ReasonOf(err).Status(); tc.retry > 0 && got != 503 {
				t.Errorf("status = %d, want 503", got)
			}
			if d, ok := verify.IsUnavailable(err); tc.retry > 0 && (!ok || d != tc.retry) {
				t.Errorf("IsUnavailable() = %v, %v, want %v, true", d, ok, tc.retry)
			}
		})
	}
}

// TestReplayRefusesLifetimesTheStoreCannotHold: a tokenio signature whose exp lies further ahead
// than the store remembers anything is refused when replay protection is on (it could be replayed
// once the store forgot it), and never reaches the store; without replay it still verifies.
func TestReplayRefusesLifetimesTheStoreCannotHold(t *testing.T) {
	f := newFixture(t)
	req := request()
	for _, exp := range []int64{
		testNow.Add(backend.MaxLifetime + time.Hour).UnixMilli(),
		math.MaxInt64 / int64(time.Millisecond), // the largest exp the profile reads
	} {
		h := tokenioHeader(f, "anon")
		h["exp"] = exp
		tok := f.sign(h, req.Body, true)
		store := backend.NewMemory(10, fixedClock)
		b := f.binder(Config{Profile: ProfileTokenIO, Replay: store})
		_, err := b.Accept(context.Background(), tok, req)
		wantReason(t, err, verify.ReasonLifetimeTooLong, "")
		if n := store.Len(); n != 0 {
			t.Errorf("exp %d: the store holds %d values, want none", exp, n)
		}
		if _, err := f.binder(Config{Profile: ProfileTokenIO}).Accept(context.Background(), tok, req); err != nil {
			t.Errorf("exp %d without replay: %v, want success", exp, err)
		}
	}
}

func TestNewRejectsMisconfiguration(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		c    Config
		want string
	}{
		{"no profile", Config{}, "profile"},
		{"version outside ob_jws", Config{Profile: ProfileTokenIO, OBVersion: "3.1.3"}, "version"},
		{"bad version", Config{Profile: ProfileOBJWS, OBVersion: "three"}, "version"},
		{"trust anchor outside ob_jws", Config{Profile: ProfileDetached, TrustAnchors: []string{"x"}}, "trust_anchor"},
		{"path_form outside tokenio", Config{Profile: ProfileDetached, PathForm: PathEscaped}, "path_form"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(f.v, tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New() = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestParseOBVersion(t *testing.T) {
	for in, want := range map[string]b64Rule{
		"": b64Either, "3.1.3": b64FalseCrit, "3.1": b64FalseCrit, "v3.1.2": b64FalseCrit, "3.0": b64FalseCrit,
		"3.1.4": b64MustAbsent, "3.1.10": b64MustAbsent, "4.0": b64MustAbsent,
	} {
		if got, err := parseOBVersion(in); err != nil || got != want {
			t.Errorf("parseOBVersion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"3", "3.1.3.1", "3.x", "-1.0", "3..1"} {
		if _, err := parseOBVersion(bad); err == nil {
			t.Errorf("parseOBVersion(%q) accepted", bad)
		}
	}
}

func TestEngineDoesNotImportCaddy(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "github.com/caddyserver/") {
		t.Fatal("caddyjwt/binding imports Caddy")
	}
}

// INTERFACE.md: a JWS without kid is accepted only when exactly one configured key fits it.
func TestSignatureWithoutKIDNeedsExactlyOneKey(t *testing.T) {
	one := newFixture(t)
	b := one.binder(Config{Profile: ProfileDetached})
	req := request()
	if _, err := b.Verify(context.Background(), one.sign(map[string]any{}, req.Body, true), req); err != nil {
		t.Fatalf("no kid, one key: error = %v, want accepted", err)
	}

	s := jwttest.NewEC(t, "ES256")
	other := jwttest.NewEC(t, "ES256")
	v, err := verify.New(verify.Policy{Clock: fixedClock, Issuers: []verify.Issuer{{Name: "anon", Sources: []keys.Source{keys.NewStatic(
		keys.Key{ID: "k1", Public: s.Public(), Algorithms: []string{"ES256"}},
		keys.Key{ID: "k2", Public: other.Public(), Algorithms: []string{"ES256"}},
	)}}}})
	if err != nil {
		t.Fatal(err)
	}
	two := &fixture{t: t, signer: s, v: v}
	b = two.binder(Config{Profile: ProfileDetached})
	_, err = b.Verify(context.Background(), two.sign(map[string]any{}, req.Body, true), req)
	if verify.ReasonOf(err) != verify.ReasonNoMatchingKey {
		t.Fatalf("no kid, two fitting keys: error = %v, want %v", err, verify.ReasonNoMatchingKey)
	}
	if _, err := b.Verify(context.Background(), two.sign(map[string]any{"kid": "k1"}, req.Body, true), req); err != nil {
		t.Fatalf("kid k1, two keys: error = %v, want accepted", err)
	}
}
