package binding

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/verify"
)

// A signature made by Signing.Sign is accepted by the Binder of the same profile, and the same
// signature over a modified request is refused: the signer and the checker share one rule set.
func TestSignedRequestIsAcceptedAndTamperingRefused(t *testing.T) {
	f := newFixture(t)
	key := f.signer.Key.(crypto.Signer)
	kid := f.signer.KID + "anon"
	body := []byte(`{"requestPayload": {"amount": "2.00"}}`)
	req := &Request{Method: "POST", Scheme: "https", Host: "api.bank.example", RawPath: "/banks/iron/consents",
		RawQuery: "type=access", Body: body}
	for _, tc := range []struct {
		name    string
		config  Config
		signing Signing
	}{
		{"tokenio compact", Config{Profile: ProfileTokenIO},
			Signing{Profile: ProfileTokenIO, Expires: testNow.Add(time.Minute), MemberID: "m:1"}},
		{"tokenio detached", Config{Profile: ProfileTokenIO},
			Signing{Profile: ProfileTokenIO, Expires: testNow.Add(time.Minute), Detached: true}},
		{"tokenio escaped path form", Config{Profile: ProfileTokenIO, PathForm: PathEscaped},
			Signing{Profile: ProfileTokenIO, PathForm: PathEscaped, Expires: testNow.Add(time.Minute)}},
		{"ob_jws 3.1.4 (b64 absent)", Config{Profile: ProfileOBJWS, OBVersion: "3.1.4"},
			Signing{Profile: ProfileOBJWS, OBVersion: "3.1.4", Issuer: "0015800001041REAAY/1234", IssuedAt: testNow}},
		{"ob_jws 3.1.3 (b64=false)", Config{Profile: ProfileOBJWS, OBVersion: "3.1.3"},
			Signing{Profile: ProfileOBJWS, OBVersion: "3.1.3", Issuer: "0015800001041REAAY/1234", IssuedAt: testNow}},
		{"ob_jws other trust anchor", Config{Profile: ProfileOBJWS, TrustAnchors: []string{"tan.example"}},
			Signing{Profile: ProfileOBJWS, Issuer: "tpp", IssuedAt: testNow, TrustAnchor: "tan.example"}},
		{"detached", Config{Profile: ProfileDetached}, Signing{Profile: ProfileDetached, Detached: true}},
		{"detached profile, compact form", Config{Profile: ProfileDetached}, Signing{Profile: ProfileDetached}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := f.binder(tc.config)
			tc.signing.Algorithm, tc.signing.KeyID = "ES256", kid
			tok, err := tc.signing.Sign(key, req)
			if err != nil {
				t.Fatalf("Sign() error = %v", err)
			}
			if _, err := b.Verify(context.Background(), []byte(tok), req); err != nil {
				t.Fatalf("Verify(signed request) error = %v, want accepted", err)
			}
			tampered := *req
			tampered.Body = []byte(`{"requestPayload": {"amount": "2000.00"}}`)
			if _, err := b.Verify(context.Background(), []byte(tok), &tampered); err == nil {
				t.Fatal("Verify(modified body) accepted, want refused")
			}
			if tc.signing.Profile == ProfileTokenIO {
				moved := *req
				moved.RawPath = "/banks/iron/payments"
				_, err := b.Verify(context.Background(), []byte(tok), &moved)
				wantReason(t, err, verify.ReasonBindingMismatch, "path")
			}
		})
	}
}

// The signed path and query are derived with the Binder's own comparison: what is signed for a
// raw path or query is what the Binder accepts for it, or signing fails with a reason.
func TestSignedPathAndQuery(t *testing.T) {
	for _, tc := range []struct {
		name, rawPath, rawQuery string
		form                    PathForm
		wantPath, wantQuery     string
		wantErr                 string
	}{
		{"plain", "/banks/iron/consents", "type=access", PathDecoded, "/banks/iron/consents", "type=access", ""},
		{"escaped segment decoded", "/transaction/O%3B5823", "", PathDecoded, "/transaction/O;5823", "", ""},
		{"form-decoded query", "/p", "q=a+b&r=%C3%A9&flag", PathDecoded, "/p", "q=a b&r=é&flag", ""},
		{"escaped form kept as sent", "/transaction/O%3B5823", "q=a+b", PathEscaped, "/transaction/O%3B5823", "q=a+b", ""},
		{"escaped slash needs escaped form", "/a%2Fb", "", PathDecoded, "", "", "path_form escaped"},
		{"escaped ampersand needs escaped form", "/p", "q=a%26b", PathDecoded, "", "", "path_form escaped"},
		{"invalid escape in path", "/a%zz", "", PathDecoded, "", "", "percent-encoding"},
		{"invalid escape in query", "/p", "q=%4", PathDecoded, "", "", "percent-encoding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, perr := SignedPath(tc.form, tc.rawPath)
			q, qerr := SignedQuery(tc.form, tc.rawQuery)
			if tc.wantErr != "" {
				err := perr
				if err == nil {
					err = qerr
				}
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if perr != nil || qerr != nil {
				t.Fatalf("errors %v, %v", perr, qerr)
			}
			if p != tc.wantPath || q != tc.wantQuery {
				t.Fatalf("signed path %q query %q, want %q %q", p, q, tc.wantPath, tc.wantQuery)
			}
			if !pathMatches(tc.form, p, tc.rawPath) || !queryMatches(tc.form, q, tc.rawQuery) {
				t.Fatal("the Binder's comparison refuses what was signed")
			}
		})
	}
}

// The headers follow the profiles' texts: tokenio's exp in milliseconds and no query member for a
// request without one; ob_jws's crit listing iat, iss and tan (and b64 up to 3.1.3).
func TestSigningHeaders(t *testing.T) {
	req := &Request{Method: "GET", Host: "api.example", RawPath: "/accounts"}
	h, err := Signing{Profile: ProfileTokenIO, Algorithm: "ES256", Expires: time.UnixMilli(1_700_000_060_123)}.Header(req)
	if err != nil {
		t.Fatal(err)
	}
	if h["exp"] != int64(1_700_000_060_123) || h["method"] != "GET" || h["path"] != "/accounts" {
		t.Errorf("tokenio header = %v", h)
	}
	if _, ok := h["query"]; ok {
		t.Errorf("tokenio header for a request without query has query: %v", h)
	}
	for _, tc := range []struct {
		version  string
		wantCrit string
		wantB64  bool
	}{
		{"3.1.3", `["b64","` + obIAT + `","` + obISS + `","` + obTAN + `"]`, true},
		{"3.1.4", `["` + obIAT + `","` + obISS + `","` + obTAN + `"]`, false},
	} {
		h, err := Signing{Profile: ProfileOBJWS, Algorithm: "PS256", Issuer: "tpp", IssuedAt: testNow, OBVersion: tc.version}.Header(req)
		if err != nil {
			t.Fatal(err)
		}
		crit, _ := json.Marshal(h["crit"])
		_, hasB64 := h["b64"]
		if string(crit) != tc.wantCrit || hasB64 != tc.wantB64 || h["typ"] != "JOSE" || h[obTAN] != DefaultTrustAnchor {
			t.Errorf("ob_jws %s header = %v", tc.version, h)
		}
	}
}

// An unencoded (b64=false) detached signature signs the body itself, as RFC 7797 §3 says.
func TestSignUnencodedPayloadInput(t *testing.T) {
	f := newFixture(t)
	body := []byte(`{"a": 1}`)
	tok, err := Signing{Profile: ProfileOBJWS, Algorithm: "ES256", Issuer: "tpp", IssuedAt: testNow, OBVersion: "3.1.3"}.
		Sign(f.signer.Key.(crypto.Signer), &Request{Body: body})
	if err != nil {
		t.Fatal(err)
	}
	hseg, rest, _ := strings.Cut(tok, ".")
	if !strings.HasPrefix(rest, ".") {
		t.Fatalf("token %q is not detached", tok)
	}
	hj, err := base64.RawURLEncoding.DecodeString(hseg)
	if err != nil || !strings.Contains(string(hj), `"b64":false`) {
		t.Fatalf("header %s, %v: want b64 false", hj, err)
	}
}

func TestSigningRefusesMissingParts(t *testing.T) {
	req := &Request{Method: "POST", Host: "h", RawPath: "/"}
	for _, tc := range []struct {
		name string
		s    Signing
		want string
	}{
		{"alg none", Signing{Profile: ProfileDetached, Algorithm: "none"}, "never none"},
		{"no profile", Signing{Algorithm: "ES256"}, "profile"},
		{"tokenio without exp", Signing{Profile: ProfileTokenIO, Algorithm: "ES256"}, "exp"},
		{"ob_jws without iss", Signing{Profile: ProfileOBJWS, Algorithm: "PS256", IssuedAt: testNow}, "iss"},
		{"ob_jws bad version", Signing{Profile: ProfileOBJWS, Algorithm: "PS256", Issuer: "x", IssuedAt: testNow, OBVersion: "three"}, "version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.s.Header(req); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Header() error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// A tokenio exp that looks like seconds is refused as expired with a description that says
// milliseconds are expected (issue 9: messages that name the fix).
func TestTokenIOExpInSecondsNamesTheUnit(t *testing.T) {
	f := newFixture(t)
	b := f.binder(Config{Profile: ProfileTokenIO})
	req := request()
	inSeconds := f.sign(with(tokenioHeader(f, "anon"), "exp", testNow.Add(time.Minute).Unix()), req.Body, true)
	_, err := b.Verify(context.Background(), inSeconds, req)
	wantReason(t, err, verify.ReasonExpired, expSecondsHint)
	if d := err.(*verify.Error).Description(); !strings.Contains(d, "milliseconds") {
		t.Errorf("description %q does not say milliseconds are expected", d)
	}
	// An exp in milliseconds that has passed is simply expired.
	past := f.sign(with(tokenioHeader(f, "anon"), "exp", testNow.Add(-time.Hour).UnixMilli()), req.Body, true)
	_, err = b.Verify(context.Background(), past, req)
	wantReason(t, err, verify.ReasonExpired, "")
	if e := err.(*verify.Error); e.Detail != "" {
		t.Errorf("expired millisecond exp has detail %q, want none", e.Detail)
	}
}
