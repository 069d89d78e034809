package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/internal/jwttest"
)

// validateCaddyfile does what `caddy validate` does: adapt, then provision every module.
func validateCaddyfile(t *testing.T, caddyfile string) error {
	t.Helper()
	cfgJSON, err := adapt(caddyfile)
	if err != nil {
		return err
	}
	var cfg caddy.Config
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		t.Fatal(err)
	}
	return caddy.Validate(&cfg)
}

func TestJWTAuthConfigErrorsFailValidation(t *testing.T) {
	dir := t.TempDir()
	rsaKey := jwttest.NewRSA(t, 2048, "RS256").PublicPEM(t, dir)
	ecKey := jwttest.NewEC(t, "ES256").PublicPEM(t, dir)
	weakRSA := jwttest.NewRSA(t, 1024, "RS256").PublicPEM(t, dir)
	privateKey := jwttest.NewEC(t, "ES256").PrivatePEM(t, dir)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}

	bare := func(body string) string {
		return fmt.Sprintf("{\n\tadmin off\n}\n:0 {\n\tjwt_auth {\n%s\n\t}\n}\n", body)
	}
	site := func(body string) string { return bare("audience api\n" + body) }
	for _, tc := range []struct {
		name    string
		body    string
		wantErr []string // substrings the message must contain: the element and the problem
	}{
		{"unreadable key file", "issuer https://a.example {\n key " + filepath.Join(dir, "missing.pem") + "\n}", []string{`issuer "https://a.example"`, "missing.pem", "no such file"}},
		{"key file that is no key", "issuer https://a.example {\n key " + garbage + "\n}", []string{`issuer "https://a.example"`, "neither PEM nor JSON"}},
		{"private key instead of public", "issuer https://a.example {\n key " + privateKey + "\n}", []string{`issuer "https://a.example"`, "private key"}},
		{"RSA key under 2048 bits", "issuer https://a.example {\n key " + weakRSA + "\n}", []string{`issuer "https://a.example"`, "1024 bits is too small"}},
		{"unknown algorithm", "issuer https://a.example {\n key " + rsaKey + "\n algorithms RS256 XS999\n}", []string{`issuer "https://a.example"`, "algorithms", `"XS999"`}},
		{"alg none in the allowlist", "issuer https://a.example {\n key " + rsaKey + "\n algorithms none\n}", []string{`issuer "https://a.example"`, `"none"`}},
		{"HS256 with an RSA key", "issuer https://a.example {\n key " + rsaKey + "\n algorithms HS256\n}", []string{`issuer "https://a.example"`, "HS256", "RSA"}},
		{"ES384 with a P-256 key", "issuer https://a.example {\n key " + ecKey + "\n algorithms ES384\n}", []string{`issuer "https://a.example"`, "ES384"}},
		{"issuer without keys", "issuer https://a.example {\n audience x\n}", []string{`issuer "https://a.example"`, "no keys"}},
		{"duplicate issuer", "issuer https://a.example {\n key " + rsaKey + "\n}\nissuer https://a.example {\n key " + ecKey + "\n}", []string{`issuer "https://a.example"`, "more than once"}},
		{"no issuer at all", "", []string{"no issuer"}},
		{"realm with a quote", "issuer https://a.example {\n key " + rsaKey + "\n}\nrealm \"a\\\"b\"", []string{"realm"}},
		{"plain http jwks_url names the setting that allows it", "issuer https://a.example {\n jwks_url http://127.0.0.1:9/jwks.json\n}",
			[]string{`issuer "https://a.example"`, "jwks_url", "plain http", "jwks { allow_http http://127.0.0.1:9 }"}},
		{"trusted_ca without remote keys", "issuer https://a.example {\n key " + rsaKey + "\n trusted_ca " + rsaKey + "\n}",
			[]string{`issuer "https://a.example"`, "trusted_ca", "jwks_url or discovery"}},
		{"trusted_ca file that holds no certificate", "issuer https://a.example {\n jwks_url https://a.example/jwks\n trusted_ca " + rsaKey + "\n}",
			[]string{"trusted_ca", rsaKey, "not a CERTIFICATE"}},
		{"require_empty on the token header", "issuer https://a.example {\n key " + rsaKey + "\n}\nrequire_empty Authorization", []string{"require_empty Authorization"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateCaddyfile(t, site(tc.body))
			if err == nil {
				t.Fatal("validation passed, want an error")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}

	// INTERFACE.md Wave 2: audience is required; `audience any` is the explicit opt-out.
	for _, tc := range []struct {
		name    string
		body    string
		wantErr []string
	}{
		{"issuer without any audience", "issuer https://a.example {\n key " + rsaKey + "\n audience api\n}\nissuer https://b.example {\n key " + ecKey + "\n}",
			[]string{`issuer "https://b.example"`, "no audience", "audience any"}},
		{"no audience anywhere", "issuer https://a.example {\n key " + rsaKey + "\n}", []string{`issuer "https://a.example"`, "no audience"}},
		{"audience any with other values", "issuer https://a.example {\n key " + rsaKey + "\n}\naudience any api", []string{"audience", `"any" stands alone`}},
		{"audience any in an issuer with other values", "issuer https://a.example {\n key " + rsaKey + "\n audience api any\n}", []string{"issuer https://a.example", `"any" stands alone`}},
		{"audience any after a list", "issuer https://a.example {\n key " + rsaKey + "\n}\naudience api\naudience any", []string{"audience: already specified"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateCaddyfile(t, bare(tc.body))
			if err == nil {
				t.Fatal("validation passed, want an error")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestExampleCaddyfileValidates(t *testing.T) {
	data, err := os.ReadFile("../Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if err := os.Chdir(".."); err != nil { // the example names its keys relative to the repository root
		t.Fatal(err)
	}
	defer func() { _ = os.Chdir(wd) }()
	if err := validateCaddyfile(t, string(data)); err != nil {
		t.Fatalf("Caddyfile.example does not validate: %v", err)
	}
}
