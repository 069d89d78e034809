package caddyjwt

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/jwttest"
)

// runInspect runs the registered `inspect` subcommand as a user would.
func runInspect(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	c := inspectCommand()
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetErr(&bytes.Buffer{})
	c.SetIn(strings.NewReader(stdin))
	c.SetArgs(args)
	err := c.Execute()
	return out.String(), err
}

func TestInspectTokenShowsWhatItSaysWithoutTrustingIt(t *testing.T) {
	s := jwttest.NewEC(t, "ES256")
	tok := s.Token(t, map[string]any{"iss": "https://issuer.demo", "sub": "alice", "exp": 1_800_000_000, "iat": 1_799_996_400},
		map[string]any{"jku": "https://keys.attacker.example", "crit": []string{"exp"}})
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"argument", "", []string{tok}},
		{"standard input with Bearer prefix", "Bearer " + tok + "\n", []string{"-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runInspect(t, tc.stdin, tc.args...)
			if err != nil {
				t.Fatalf("inspect: %v", err)
			}
			for _, want := range []string{
				"signature NOT verified",
				`"sub": "alice"`,
				`"kid": "` + s.KID + `"`,
				"1800000000  2027-01-15T08:00:00Z",
				"1799996400  2027-01-15T07:00:00Z",
				"! jku: names a JWK Set URL",
				`! crit ["exp"]`,
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output does not contain %q:\n%s", want, out)
				}
			}
			if !strings.HasPrefix(out, "signature NOT verified") {
				t.Errorf("output does not open with the warning:\n%s", out)
			}
		})
	}
}

func TestInspectFlagsRefusedHeaders(t *testing.T) {
	enc := func(v any) string { b, _ := json.Marshal(v); return jwttest.Encode(b) }
	payload := enc(map[string]any{"exp": 1_800_000_000})
	for _, tc := range []struct {
		name, token, want string
	}{
		{"alg none", enc(map[string]any{"alg": "none"}) + "." + payload + ".", `alg "none"`},
		{"unsigned", enc(map[string]any{"alg": "none"}) + "." + payload + ".", "signature: none"},
		{"x5u", enc(map[string]any{"alg": "RS256", "x5u": "https://x"}) + "." + payload + ".c2ln", "! x5u"},
		{"embedded jwk", enc(map[string]any{"alg": "ES256", "jwk": map[string]any{"kty": "EC"}}) + "." + payload + ".c2ln", "! jwk: carries its own key"},
		{"x5c", enc(map[string]any{"alg": "RS256", "x5c": []string{"MII"}}) + "." + payload + ".c2ln", "! x5c"},
		{"duplicate member", jwttest.Encode([]byte(`{"alg":"ES256","alg":"none"}`)) + "." + payload + ".c2ln", "obgate refuses this header"},
		{"detached", enc(map[string]any{"alg": "ES256", "exp": 1_800_000_000_000}) + "..c2ln", "payload: detached"},
		{"tokenio exp in ms", enc(map[string]any{"alg": "ES256", "exp": 1_800_000_000_000}) + "..c2ln", "1800000000000  2027-01-15T08:00:00Z"},
		{"tokenio exp in seconds", enc(map[string]any{"alg": "ES256", "exp": 1_800_000_000}) + "..c2ln", "looks like seconds"},
		{"text payload", enc(map[string]any{"alg": "ES256"}) + "." + jwttest.Encode([]byte("hello")) + ".c2ln", "hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runInspect(t, "", tc.token)
			if err != nil {
				t.Fatalf("inspect: %v", err)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output does not contain %q:\n%s", tc.want, out)
			}
		})
	}
}

// Garbage is a clear error (non-zero exit through cobra), never a panic.
func TestInspectRefusesGarbage(t *testing.T) {
	for _, tc := range []struct {
		name, input, want string
	}{
		{"one segment", "garbage", "1 segments"},
		{"JWE", "a.b.c.d.e", "JWE"},
		{"header not base64url", "!!!.e30.c2ln", "header"},
		{"header not JSON", jwttest.Encode([]byte("nope")) + ".e30.c2ln", "not a JSON object"},
		{"header JSON null", jwttest.Encode([]byte("null")) + ".e30.c2ln", "not a JSON object"},
		{"header array", jwttest.Encode([]byte("[1]")) + ".e30.c2ln", "not a JSON object"},
		{"empty", "   ", "empty token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runInspect(t, "", tc.input)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := runInspect(t, ""); err == nil {
		t.Error("inspect without a token succeeded")
	}
	if _, err := runInspect(t, "", "--key", "x.pem", "tok"); err == nil {
		t.Error("inspect with a token and --key succeeded")
	}
}

// FuzzInspectToken: any input is decoded or refused with an error, never a panic.
func FuzzInspectToken(f *testing.F) {
	s := jwttest.NewEC(f, "ES256")
	f.Add(s.Token(f, map[string]any{"exp": 1}, nil))
	f.Add("e30..")
	f.Add("e30.e30.e30")
	f.Add("eyJhbGciOiJub25lIn0.eyJleHAiOiIxZTMwOCJ9.")
	f.Add("....")
	f.Fuzz(func(t *testing.T, tok string) {
		_ = inspectToken(&bytes.Buffer{}, tok, time.Unix(1_800_000_000, 0))
	})
}

func TestInspectKeyFiles(t *testing.T) {
	dir := t.TempDir()
	ec, rsa, ed := jwttest.NewEC(t, "ES384"), jwttest.NewRSA(t, 2048, "RS256"), jwttest.NewEd25519(t)
	write := func(name string, v any) string {
		b, _ := json.Marshal(v)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	withKID := ec.JWK(t, false)
	withKID["kid"] = "ops-2026"
	encKey := rsa.JWK(t, false)
	encKey["use"] = "enc"
	for _, tc := range []struct {
		name string
		path string
		want []string
	}{
		{"PEM public key", ec.PublicPEM(t, dir), []string{"kty         EC", "algorithms  ES384", "kid         none in the file", "thumbprint  " + ec.KID}},
		{"PEM private key", ed.PrivatePEM(t, dir), []string{"kty         OKP", "algorithms  EdDSA", "thumbprint  " + ed.KID, "! private key"}},
		{"certificate", rsa.CertificatePEM(t, dir, "tpp"), []string{"(CERTIFICATE)", "RS256 RS384 RS512 PS256 PS384 PS512", "thumbprint  " + rsa.KID}},
		{"JWK with kid", write("k.json", withKID), []string{"kid         ops-2026  (from the file: chosen by exact match)", "thumbprint  " + ec.KID}},
		{"JWK Set with a skipped key", write("set.json", map[string]any{"keys": []any{ed.JWK(t, true), encKey}}),
			[]string{"JWK Set member 0", "algorithms  EdDSA", "JWK Set member 1", `skipped     key 0: key use "enc"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runInspect(t, "", "--key", tc.path)
			if err != nil {
				t.Fatalf("inspect --key: %v", err)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("output does not contain %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestInspectKeyRefusesGarbage(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing file", filepath.Join(dir, "none.pem"), "no such file"},
		{"text", write("t.txt", "hello"), "neither PEM nor JSON"},
		{"broken JSON", write("b.json", "{"), "not a valid JWK"},
		{"empty set", write("e.json", `{"keys": []}`), "no keys"},
		{"broken PEM body", write("b.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), "no key obgate can use"},
		{"PEM header only", write("h.pem", "-----BEGIN PUBLIC KEY-----\n"), "no PEM block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runInspect(t, "", "--key", tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
