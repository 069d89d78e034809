package caddyjwt

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/binding"
	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/jwttest"
)

// binderFor is the binding verifier request_signature builds for one public key file.
func binderFor(t *testing.T, pubPath string, c binding.Config, now time.Time) *binding.Binder {
	t.Helper()
	ks, err := keys.LoadFile(pubPath, "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(verify.Policy{
		Issuers: []verify.Issuer{{Name: "signer", Sources: []keys.Source{keys.NewStatic(ks...)}}},
		Clock:   func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Clock = func() time.Time { return now }
	b, err := binding.New(v, c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// For each profile, the signature `caddy jwt sign-request` prints is accepted by the binding
// verifier request_signature uses, and refused for a modified body.
func TestSignRequestIsAcceptedByTheBindingVerifier(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_800_000_000, 0)
	body := `{"amount": "2.00", "currency": "GBP"}`
	bodyFile := filepath.Join(dir, "body.json")
	if err := os.WriteFile(bodyFile, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ec, rsa := jwttest.NewEC(t, "ES256"), jwttest.NewRSA(t, 2048, "PS256")
	for _, tc := range []struct {
		name   string
		signer *jwttest.Signer
		opts   signRequestOptions
		config binding.Config
	}{
		{"tokenio compact", ec, signRequestOptions{profile: "tokenio", exp: time.Minute, mid: "m:1"},
			binding.Config{Profile: binding.ProfileTokenIO}},
		{"tokenio detached", ec, signRequestOptions{profile: "tokenio", exp: time.Minute, detached: true, detachedSet: true},
			binding.Config{Profile: binding.ProfileTokenIO}},
		{"tokenio escaped path form", ec, signRequestOptions{profile: "tokenio", exp: time.Minute, pathForm: "escaped"},
			binding.Config{Profile: binding.ProfileTokenIO, PathForm: binding.PathEscaped}},
		{"ob_jws 3.1.4 with RSA (PS256 by default)", rsa, signRequestOptions{profile: "ob_jws", iss: "0015800001041REAAY/tpp", version: "3.1.4"},
			binding.Config{Profile: binding.ProfileOBJWS, OBVersion: "3.1.4"}},
		{"ob_jws 3.1.3 (b64=false)", ec, signRequestOptions{profile: "ob_jws", iss: "tpp", version: "3.1.3", tan: "tan.example"},
			binding.Config{Profile: binding.ProfileOBJWS, OBVersion: "3.1.3", TrustAnchors: []string{"tan.example"}}},
		{"detached", ec, signRequestOptions{profile: "detached"}, binding.Config{Profile: binding.ProfileDetached}},
		{"tokenio naming its issuer", ec, signRequestOptions{profile: "tokenio", exp: time.Minute, iss: "signer"},
			binding.Config{Profile: binding.ProfileTokenIO, IssuerParam: true}},
		{"ob_jws naming its issuer", ec, signRequestOptions{profile: "ob_jws", iss: "signer"},
			binding.Config{Profile: binding.ProfileOBJWS, IssuerParam: true}},
		{"detached naming its issuer", ec, signRequestOptions{profile: "detached", iss: "signer"},
			binding.Config{Profile: binding.ProfileDetached, IssuerParam: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.keyPath, o.rawURL, o.bodyFile, o.hasBody = tc.signer.PrivatePEM(t, dir), "https://api.bank.example/pay/O%3B58?x=1&y=a+b", bodyFile, true
			if o.pathForm == "" {
				o.pathForm = "decoded"
			}
			tok, err := signRequest(o, nil, now)
			if err != nil {
				t.Fatalf("sign-request: %v", err)
			}
			b := binderFor(t, tc.signer.PublicPEM(t, dir), tc.config, now.Add(time.Second))
			req := &binding.Request{Method: "POST", Scheme: "https", Host: "api.bank.example", RawPath: "/pay/O%3B58",
				RawQuery: "x=1&y=a+b", Body: []byte(body)}
			res, err := b.Verify(context.Background(), []byte(tok), req)
			if err != nil {
				t.Fatalf("binding verifier refused the signature: %v", err)
			}
			if res.Algorithm != tc.signer.Alg || res.KeyID != tc.signer.KID {
				t.Errorf("verified with alg %s kid %s, want %s %s", res.Algorithm, res.KeyID, tc.signer.Alg, tc.signer.KID)
			}
			tampered := *req
			tampered.Body = []byte(strings.Replace(body, "2.00", "2000.00", 1))
			if _, err := b.Verify(context.Background(), []byte(tok), &tampered); err == nil {
				t.Fatal("binding verifier accepted a modified body")
			}
		})
	}
}

// --curl prints a command line that sends exactly the signed bytes with the profile's header.
func TestSignRequestCurlLine(t *testing.T) {
	dir := t.TempDir()
	s := jwttest.NewEC(t, "ES256")
	for _, tc := range []struct {
		profile, body, wantHeader, wantData string
	}{
		{"tokenio", `{"a": "it's"}`, "'Authorization: Bearer ey", `--data-binary '{"a": "it'\''s"}'`},
		{"ob_jws", `{"a": 1}`, "'x-jws-signature: ey", `--data-binary '{"a": 1}'`},
		{"detached", `@not-a-file`, "'Authorization: Bearer ey", `printf %s '@not-a-file' | curl`},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			o := signRequestOptions{profile: tc.profile, keyPath: s.PrivatePEM(t, dir), rawURL: "http://127.0.0.1:8084/p?q=[1]",
				body: tc.body, hasBody: true, exp: time.Minute, pathForm: "decoded", iss: "tpp", curl: true}
			line, err := signRequest(o, nil, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{tc.wantHeader, tc.wantData, "-X POST", "--globoff 'http://127.0.0.1:8084/p?q=[1]'"} {
				if !strings.Contains(line, want) {
					t.Errorf("curl line %s\ndoes not contain %s", line, want)
				}
			}
		})
	}
}

func TestSignRequestRefusesMistakes(t *testing.T) {
	dir := t.TempDir()
	ec := jwttest.NewEC(t, "ES256")
	good := signRequestOptions{profile: "tokenio", keyPath: ec.PrivatePEM(t, dir), rawURL: "https://api.example/p",
		exp: time.Minute, pathForm: "decoded"}
	for _, tc := range []struct {
		name string
		edit func(o *signRequestOptions)
		want string
	}{
		{"unknown profile", func(o *signRequestOptions) { o.profile = "jwt" }, "--profile"},
		{"algorithm the key does not allow", func(o *signRequestOptions) { o.alg = "RS256" }, "--alg RS256"},
		{"alg none", func(o *signRequestOptions) { o.alg = "none" }, "--alg none"},
		{"public key file", func(o *signRequestOptions) { o.keyPath = ec.PublicPEM(t, dir) }, "--key"},
		{"missing key file", func(o *signRequestOptions) { o.keyPath = filepath.Join(dir, "nope.pem") }, "--key"},
		{"relative URL", func(o *signRequestOptions) { o.rawURL = "/p" }, "--url"},
		{"URL with fragment", func(o *signRequestOptions) { o.rawURL = "https://a.example/p#x" }, "fragment"},
		{"lower-case method", func(o *signRequestOptions) { o.method = "post" }, "--method"},
		{"escaped slash in decoded form", func(o *signRequestOptions) { o.rawURL = "https://a.example/a%2Fb" }, "path_form escaped"},
		{"ob_jws without iss", func(o *signRequestOptions) { o.profile = "ob_jws" }, "--iss"},
		{"ob_jws compact", func(o *signRequestOptions) { o.profile, o.iss, o.detachedSet = "ob_jws", "x", true }, "always detached"},
		{"mid outside tokenio", func(o *signRequestOptions) { o.profile, o.mid = "detached", "m" }, "--mid"},
		{"version outside ob_jws", func(o *signRequestOptions) { o.version = "3.1.3" }, "--version"},
		{"bad path form", func(o *signRequestOptions) { o.pathForm = "raw" }, "--path-form"},
		{"body and body file", func(o *signRequestOptions) { o.body, o.bodyFile = "x", "y" }, "not both"},
		{"non-positive exp", func(o *signRequestOptions) { o.exp = 0 }, "--exp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.edit(&o)
			_, err := signRequest(o, nil, time.Now())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// The registered command reads the body from standard input with --body-file - and picks POST.
func TestSignRequestCommandReadsStdin(t *testing.T) {
	dir := t.TempDir()
	s := jwttest.NewEd25519(t)
	c := signRequestCommand()
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetIn(strings.NewReader("body bytes"))
	c.SetArgs([]string{"--profile", "tokenio", "--key", s.PrivatePEM(t, dir), "--url", "http://127.0.0.1:8084/p", "--body-file", "-"})
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	b := binderFor(t, s.PublicPEM(t, dir), binding.Config{Profile: binding.ProfileTokenIO}, now)
	req := &binding.Request{Method: "POST", Scheme: "http", Host: "127.0.0.1:8084", RawPath: "/p", Body: []byte("body bytes")}
	if _, err := b.Verify(context.Background(), bytes.TrimSpace(out.Bytes()), req); err != nil {
		t.Fatalf("signature from the command refused: %v", err)
	}
}
