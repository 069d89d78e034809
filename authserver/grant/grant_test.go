package grant_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obgate/obgate/authserver/grant"
	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/internal/jwttest"
)

const (
	issuer      = "https://as.example"
	endpointURL = "https://as.example/token"
)

// memoryClaimer is a single-use store for the tests.
type memoryClaimer struct {
	mu   sync.Mutex
	seen map[[32]byte]time.Time
	err  error
}

func (m *memoryClaimer) Claim(_ context.Context, id [32]byte, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if m.seen == nil {
		m.seen = map[[32]byte]time.Time{}
	}
	if _, ok := m.seen[id]; ok {
		return grant.ErrReplayed
	}
	m.seen[id] = until
	return nil
}

// jsonMinter "signs" by encoding the claims, so the tests can read what would be signed.
type jsonMinter struct{ typ string }

func (m *jsonMinter) Mint(_ context.Context, typ string, claims map[string]any) (string, error) {
	m.typ = typ
	b, err := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(b), err
}

type world struct {
	t      *testing.T
	ep     *grant.Endpoint
	minter *jsonMinter
	replay *memoryClaimer
	pkjwt  *jwttest.Signer
	now    time.Time
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, minter: &jsonMinter{}, replay: &memoryClaimer{}, now: time.Now()}
	w.pkjwt = jwttest.NewRSA(t, 2048, "PS256")
	k := keyOf(t, w.pkjwt)
	opts := grant.Options{Issuer: issuer, Audience: []string{"api"}, Clock: func() time.Time { return w.now }}
	mk := func(spec grant.ClientSpec) *grant.Client {
		c, err := grant.NewClient(spec, opts)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	clients := grant.StaticClients{
		"pk":      mk(grant.ClientSpec{ID: "pk", Method: grant.MethodPrivateKeyJWT, Keys: []keys.Source{keys.NewStatic(k)}, Scopes: []string{"accounts", "payments"}, Claims: map[string]any{"roles": []string{"a", "b"}}}),
		"mtls":    mk(grant.ClientSpec{ID: "mtls", Method: grant.MethodTLSClientAuth, SubjectDN: "CN=client", Scopes: []string{"accounts"}}),
		"nocc":    mk(grant.ClientSpec{ID: "nocc", Method: grant.MethodTLSClientAuth, SubjectDN: "CN=client", GrantTypes: []string{"authorization_code"}}),
		"pkother": mk(grant.ClientSpec{ID: "pkother", Method: grant.MethodPrivateKeyJWT, Keys: []keys.Source{keys.NewStatic(k)}}),
	}
	opts.Clients = clients
	opts.Minter = w.minter
	opts.Replay = w.replay
	opts.DNMatches = func(c *x509.Certificate, dn string) bool { return c.Subject.String() == dn }
	ep, err := grant.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	w.ep = ep
	return w
}

func (w *world) assertion(mutate func(c, h map[string]any)) string {
	c := map[string]any{
		"iss": "pk", "sub": "pk", "aud": endpointURL, "jti": "j-" + w.t.Name() + time.Now().String(),
		"iat": w.now.Unix(), "exp": w.now.Add(5 * time.Minute).Unix(),
	}
	h := map[string]any{}
	if mutate != nil {
		mutate(c, h)
	}
	return w.pkjwt.Token(w.t, c, h)
}

func form(kv ...string) []byte {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return []byte(v.Encode())
}

func (w *world) grant(body []byte, p grant.Presented) (*grant.Token, error) {
	req, err := grant.ParseForm("application/x-www-form-urlencoded", body)
	if err != nil {
		return nil, err
	}
	if p.EndpointURL == "" {
		p.EndpointURL = endpointURL
	}
	return w.ep.Grant(context.Background(), req, p)
}

func tokenClaims(t *testing.T, tok *grant.Token) map[string]any {
	t.Helper()
	b, _ := base64.RawURLEncoding.DecodeString(tok.AccessToken)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func clientCert(cn string) *x509.Certificate {
	return &x509.Certificate{Raw: []byte("der-" + cn), Subject: pkix.Name{CommonName: cn}}
}

func TestPrivateKeyJWTGrantIssuesRFC9068Claims(t *testing.T) {
	w := newWorld(t)
	tok, err := w.grant(form("grant_type", "client_credentials", "client_assertion_type", grant.AssertionTypeJWTBearer,
		"client_assertion", w.assertion(nil), "scope", "accounts"), grant.Presented{})
	if err != nil {
		t.Fatalf("Grant() error = %v", err)
	}
	c := tokenClaims(t, tok)
	if w.minter.typ != "at+jwt" {
		t.Errorf("typ = %q, want at+jwt", w.minter.typ)
	}
	for k, want := range map[string]any{"iss": issuer, "sub": "pk", "client_id": "pk", "aud": "api", "scope": "accounts"} {
		if c[k] != want {
			t.Errorf("claim %s = %v, want %v", k, c[k], want)
		}
	}
	if roles, _ := c["roles"].([]any); len(roles) != 2 || roles[0] != "a" {
		t.Errorf("roles = %v, want [a b]", c["roles"])
	}
	if _, ok := c["cnf"]; ok {
		t.Errorf("cnf present without a certificate")
	}
	if c["exp"].(float64)-c["iat"].(float64) != 300 || tok.ExpiresIn != 300 {
		t.Errorf("lifetime = %v/%d, want 300", c["exp"].(float64)-c["iat"].(float64), tok.ExpiresIn)
	}
	if jti, _ := c["jti"].(string); len(jti) < 16 {
		t.Errorf("jti = %q, want a random value", jti)
	}
}

func TestCertificateBindsEveryGrant(t *testing.T) {
	w := newWorld(t)
	p := grant.Presented{Certificate: clientCert("client"), Thumbprint: "tp"}
	for name, body := range map[string][]byte{
		"tls_client_auth": form("grant_type", "client_credentials", "client_id", "mtls"),
		"private_key_jwt over mTLS": form("grant_type", "client_credentials", "client_assertion_type", grant.AssertionTypeJWTBearer,
			"client_assertion", w.assertion(nil), "client_id", "pk"),
	} {
		t.Run(name, func(t *testing.T) {
			tok, err := w.grant(body, p)
			if err != nil {
				t.Fatalf("Grant() error = %v", err)
			}
			cnf, _ := tokenClaims(t, tok)["cnf"].(map[string]any)
			if cnf["x5t#S256"] != "tp" || !tok.Bound {
				t.Errorf("cnf = %v, want x5t#S256 tp", cnf)
			}
		})
	}
}

func TestScopeRules(t *testing.T) {
	w := newWorld(t)
	pk := func(scope string) []byte {
		return form("grant_type", "client_credentials", "client_assertion_type", grant.AssertionTypeJWTBearer,
			"client_assertion", w.assertion(nil), "scope", scope)
	}
	tok, err := w.grant(pk(""), grant.Presented{})
	if err != nil || tok.Scope != "accounts payments" {
		t.Fatalf("no scope requested: scope %v err %v, want all of the client's", tok, err)
	}
	tok, err = w.grant(pk("payments accounts payments"), grant.Presented{})
	if err != nil || tok.Scope != "payments accounts" {
		t.Fatalf("subset: %v %v", tok, err)
	}
	for _, s := range []string{"admin", "accounts admin", "accounts  payments", " accounts", "acc\"ounts"} {
		_, err := w.grant(pk(s), grant.Presented{})
		expectCode(t, err, 400, grant.CodeInvalidScope)
	}
}

func expectCode(t *testing.T, err error, status int, code string) {
	t.Helper()
	var e *grant.Error
	if !errors.As(err, &e) || e.Status != status || e.Code != code {
		t.Fatalf("error = %v, want %d %s", err, status, code)
	}
	if strings.Contains(e.Description, "eyJ") {
		t.Fatalf("description echoes a token: %q", e.Description)
	}
}

func TestRefusals(t *testing.T) {
	w := newWorld(t)
	cc := "client_credentials"
	at := grant.AssertionTypeJWTBearer
	cert := grant.Presented{Certificate: clientCert("client"), Thumbprint: "tp"}
	for _, tc := range []struct {
		name   string
		body   func() []byte
		p      grant.Presented
		status int
		code   string
	}{
		{"missing grant_type", func() []byte { return form("client_id", "mtls") }, cert, 400, grant.CodeInvalidRequest},
		{"repeated grant_type", func() []byte { return form("grant_type", cc, "grant_type", cc, "client_id", "mtls") }, cert, 400, grant.CodeInvalidRequest},
		{"repeated client_id", func() []byte { return form("grant_type", cc, "client_id", "mtls", "client_id", "mtls") }, cert, 400, grant.CodeInvalidRequest},
		{"unsupported grant_type", func() []byte { return form("grant_type", "password", "client_id", "mtls") }, cert, 400, grant.CodeUnsupportedGrantType},
		{"no client authentication", func() []byte { return form("grant_type", cc) }, cert, 401, grant.CodeInvalidClient},
		{"unknown client", func() []byte { return form("grant_type", cc, "client_id", "nobody") }, cert, 401, grant.CodeInvalidClient},
		{"tls_client_auth without certificate", func() []byte { return form("grant_type", cc, "client_id", "mtls") }, grant.Presented{}, 401, grant.CodeInvalidClient},
		{"tls_client_auth with another subject", func() []byte { return form("grant_type", cc, "client_id", "mtls") }, grant.Presented{Certificate: clientCert("other"), Thumbprint: "x"}, 401, grant.CodeInvalidClient},
		{"certificate for a private_key_jwt client", func() []byte { return form("grant_type", cc, "client_id", "pk") }, cert, 401, grant.CodeInvalidClient},
		{"assertion for a tls_client_auth client", func() []byte {
			return form("grant_type", cc, "client_assertion_type", at, "client_assertion", w.assertion(func(c, _ map[string]any) { c["iss"], c["sub"] = "mtls", "mtls" }))
		}, cert, 401, grant.CodeInvalidClient},
		{"client not registered for client_credentials", func() []byte { return form("grant_type", cc, "client_id", "nocc") }, cert, 400, grant.CodeUnauthorizedClient},
		{"assertion without type", func() []byte { return form("grant_type", cc, "client_assertion", w.assertion(nil)) }, grant.Presented{}, 400, grant.CodeInvalidRequest},
		{"unknown assertion type", func() []byte {
			return form("grant_type", cc, "client_assertion_type", "urn:x", "client_assertion", w.assertion(nil))
		}, grant.Presented{}, 400, grant.CodeInvalidRequest},
		{"assertion and client_secret", func() []byte {
			return form("grant_type", cc, "client_assertion_type", at, "client_assertion", w.assertion(nil), "client_secret", "s")
		}, grant.Presented{}, 400, grant.CodeInvalidRequest},
		{"client_secret alone", func() []byte { return form("grant_type", cc, "client_id", "pk", "client_secret", "s") }, grant.Presented{}, 401, grant.CodeInvalidClient},
		{"client_id differs from iss", func() []byte {
			return form("grant_type", cc, "client_assertion_type", at, "client_assertion", w.assertion(nil), "client_id", "pkother")
		}, grant.Presented{}, 401, grant.CodeInvalidClient},
		{"sub differs from iss", func() []byte {
			return form("grant_type", cc, "client_assertion_type", at, "client_assertion", w.assertion(func(c, _ map[string]any) { c["sub"] = "x" }))
		}, grant.Presented{}, 401, grant.CodeInvalidClient},
		{"aud names another server", func() []byte {
			return form("grant_type", cc, "client_assertion_type", at, "client_assertion", w.assertion(func(c, _ map[string]any) { c["aud"] = "https://other.example" }))
		}, grant.Presented{}, 401, grant.CodeInvalidClient},
		{"no exp", func() []byte {
			return form("grant_type", cc, "client_assertion_type", at, "client_assertion", w.assertion(func(c, _ map[string]any) { delete(c, "exp") }))
		}, grant.Presented{}, 401, grant.CodeInvalidClient},
		{"exp beyond an hour", func() []byte {
			return form("grant_type", cc, "client_assertion_type", at, "client_assertion", w.assertion(func(c, _ map[string]any) { c["exp"] = w.now.Add(2 * time.Hour).Unix() }))
		}, grant.Presented{}, 401, grant.CodeInvalidClient},
		{"expired", func() []byte {
			return form("grant_type", cc, "client_assertion_type", at, "client_assertion", w.assertion(func(c, _ map[string]any) { c["exp"] = w.now.Add(-time.Minute).Unix() }))
		}, grant.Presented{}, 401, grant.CodeInvalidClient},
		{"iat in the future", func() []byte {
			return form("grant_type", cc, "client_assertion_type", at, "client_assertion", w.assertion(func(c, _ map[string]any) { c["iat"] = w.now.Add(time.Minute).Unix() }))
		}, grant.Presented{}, 401, grant.CodeInvalidClient},
		{"no jti", func() []byte {
			return form("grant_type", cc, "client_assertion_type", at, "client_assertion", w.assertion(func(c, _ map[string]any) { delete(c, "jti") }))
		}, grant.Presented{}, 401, grant.CodeInvalidClient},
		{"RS256 not allowed", func() []byte {
			s := *w.pkjwt
			s.Alg = "RS256"
			c := map[string]any{"iss": "pk", "sub": "pk", "aud": issuer, "jti": "rs", "exp": w.now.Add(time.Minute).Unix()}
			return form("grant_type", cc, "client_assertion_type", at, "client_assertion", s.Token(t, c, nil))
		}, grant.Presented{}, 401, grant.CodeInvalidClient},
		{"signed by another key", func() []byte {
			rogue := jwttest.NewRSA(t, 2048, "PS256")
			rogue.KID = w.pkjwt.KID
			c := map[string]any{"iss": "pk", "sub": "pk", "aud": issuer, "jti": "rogue", "exp": w.now.Add(time.Minute).Unix()}
			return form("grant_type", cc, "client_assertion_type", at, "client_assertion", rogue.Token(t, c, nil))
		}, grant.Presented{}, 401, grant.CodeInvalidClient},
		{"key from the assertion's jwk header ignored", func() []byte {
			rogue := jwttest.NewEC(t, "ES256")
			c := map[string]any{"iss": "pk", "sub": "pk", "aud": issuer, "jti": "jwk", "exp": w.now.Add(time.Minute).Unix()}
			return form("grant_type", cc, "client_assertion_type", at, "client_assertion", rogue.Token(t, c, map[string]any{"jwk": rogue.JWK(t, false), "kid": nil}))
		}, grant.Presented{}, 401, grant.CodeInvalidClient},
		{"alg none", func() []byte {
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`))
			p := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"pk","sub":"pk","aud":"https://as.example","jti":"n","exp":9999999999}`))
			return form("grant_type", cc, "client_assertion_type", at, "client_assertion", h+"."+p+".")
		}, grant.Presented{}, 401, grant.CodeInvalidClient},
		{"garbage assertion", func() []byte { return form("grant_type", cc, "client_assertion_type", at, "client_assertion", "a.b.c") }, grant.Presented{}, 401, grant.CodeInvalidClient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := w.grant(tc.body(), tc.p)
			if tok != nil {
				t.Fatalf("a token was issued")
			}
			expectCode(t, err, tc.status, tc.code)
		})
	}
}

func TestAssertionIsSingleUse(t *testing.T) {
	w := newWorld(t)
	body := form("grant_type", "client_credentials", "client_assertion_type", grant.AssertionTypeJWTBearer, "client_assertion", w.assertion(nil))
	if _, err := w.grant(body, grant.Presented{}); err != nil {
		t.Fatalf("first use: %v", err)
	}
	_, err := w.grant(body, grant.Presented{})
	expectCode(t, err, 401, grant.CodeInvalidClient)
}

func TestAssertionAudienceIssuerOrEndpoint(t *testing.T) {
	w := newWorld(t)
	for _, aud := range []any{issuer, endpointURL, []any{"x", issuer}} {
		a := w.assertion(func(c, _ map[string]any) { c["aud"] = aud; c["jti"] = time.Now().String() })
		if _, err := w.grant(form("grant_type", "client_credentials", "client_assertion_type", grant.AssertionTypeJWTBearer, "client_assertion", a), grant.Presented{}); err != nil {
			t.Errorf("aud %v refused: %v", aud, err)
		}
	}
}

func TestReplayStoreTroubleIs503(t *testing.T) {
	w := newWorld(t)
	w.replay.err = errors.New("redis down")
	_, err := w.grant(form("grant_type", "client_credentials", "client_assertion_type", grant.AssertionTypeJWTBearer, "client_assertion", w.assertion(nil)), grant.Presented{})
	expectCode(t, err, 503, grant.CodeTemporarilyUnavailable)
	if e, _ := errors.AsType[*grant.Error](err); e.RetryAfter <= 0 {
		t.Errorf("RetryAfter = %v, want > 0", e.RetryAfter)
	}
}

func TestParseFormRefusesWrongContentType(t *testing.T) {
	for _, ct := range []string{"", "application/json", "text/plain", "multipart/form-data; boundary=x"} {
		_, err := grant.ParseForm(ct, []byte("grant_type=client_credentials"))
		expectCode(t, err, 400, grant.CodeInvalidRequest)
	}
	if _, err := grant.ParseForm("application/x-www-form-urlencoded; charset=UTF-8", []byte("grant_type=client_credentials")); err != nil {
		t.Errorf("charset parameter refused: %v", err)
	}
	for _, body := range []string{"grant_type=client_credentials;x=1", "grant_type=%zz", "grant_type=a%00b", "grant_type=\xff"} {
		_, err := grant.ParseForm("application/x-www-form-urlencoded", []byte(body))
		expectCode(t, err, 400, grant.CodeInvalidRequest)
	}
}

func TestNewClientRefusesBadSpecs(t *testing.T) {
	k := keyOf(t, jwttest.NewEC(t, "ES256"))
	for _, tc := range []struct {
		name string
		spec grant.ClientSpec
		want string
	}{
		{"no auth", grant.ClientSpec{ID: "c"}, "auth"},
		{"unknown auth", grant.ClientSpec{ID: "c", Method: "client_secret_basic"}, "auth"},
		{"pkjwt without keys", grant.ClientSpec{ID: "c", Method: grant.MethodPrivateKeyJWT}, "keys"},
		{"mtls without DN", grant.ClientSpec{ID: "c", Method: grant.MethodTLSClientAuth}, "subject_dn"},
		{"reserved claim", grant.ClientSpec{ID: "c", Method: grant.MethodTLSClientAuth, SubjectDN: "CN=x", Claims: map[string]any{"sub": "x"}}, "claim \"sub\""},
		{"bad scope", grant.ClientSpec{ID: "c", Method: grant.MethodTLSClientAuth, SubjectDN: "CN=x", Scopes: []string{"a b"}}, "scope"},
		{"pkjwt with DN", grant.ClientSpec{ID: "c", Method: grant.MethodPrivateKeyJWT, Keys: []keys.Source{keys.NewStatic(k)}, SubjectDN: "CN=x"}, "subject_dn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := grant.NewClient(tc.spec, grant.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewClient() error = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

// keyOf is the signer's public key as the engine holds it.
func keyOf(t *testing.T, s *jwttest.Signer) keys.Key {
	t.Helper()
	ks, _, err := keys.ParseJWKs(jwttest.JWKS(t, s), "test", keys.JWKOptions{})
	if err != nil || len(ks) != 1 {
		t.Fatalf("key: %v", err)
	}
	return ks[0]
}

// TestKeyWithoutKIDVerifiesWhateverTheAssertionNames follows the Wave 2 rule for client keys: a
// PEM key configured without a kid verifies an assertion whatever its kid says; a key configured
// with a kid is chosen by that kid only.
func TestKeyWithoutKIDVerifiesWhateverTheAssertionNames(t *testing.T) {
	s := jwttest.NewEC(t, "ES256")
	dir := t.TempDir()
	path := s.PublicPEM(t, dir)
	now := time.Now()
	for _, tc := range []struct {
		name, configuredKID string
		ok                  bool
	}{
		{"kid-less key", "", true},
		{"key with another kid", "k1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := keys.LoadFile(path, tc.configuredKID)
			if err != nil {
				t.Fatal(err)
			}
			opts := grant.Options{Issuer: issuer, Audience: []string{"api"}, Minter: &jsonMinter{}, Replay: &memoryClaimer{},
				DNMatches: func(*x509.Certificate, string) bool { return false }}
			c, err := grant.NewClient(grant.ClientSpec{ID: "c", Method: grant.MethodPrivateKeyJWT, Keys: []keys.Source{keys.NewStatic(ks...)}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			opts.Clients = grant.StaticClients{"c": c}
			ep, err := grant.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			a := s.Token(t, map[string]any{"iss": "c", "sub": "c", "aud": issuer, "jti": "j", "exp": now.Add(time.Minute).Unix()}, map[string]any{"kid": "renamed-by-the-client"})
			_, err = ep.Grant(context.Background(), &grant.Request{GrantType: "client_credentials", AssertionType: grant.AssertionTypeJWTBearer, Assertion: a}, grant.Presented{})
			if tc.ok && err != nil {
				t.Fatalf("Grant() error = %v, want a token", err)
			}
			if !tc.ok {
				expectCode(t, err, 401, grant.CodeInvalidClient)
			}
		})
	}
}
