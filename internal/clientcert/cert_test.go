package clientcert_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/obgate/obgate/internal/clientcert"
)

func testCert(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Unix(1_700_000_000, 0), NotAfter: time.Unix(1_900_000_000, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// request builds a request as Caddy prepares it: vars with trusted_proxy set as given.
func request(trusted bool, headers ...string) *http.Request {
	r := httptest.NewRequest("GET", "http://gw.example/", nil)
	ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.TrustedProxyVarKey: trusted})
	r = r.WithContext(ctx)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func sfBinary(der []byte) string { return ":" + base64.StdEncoding.EncodeToString(der) + ":" }

func TestFromRequest(t *testing.T) {
	tlsCert, proxied := testCert(t, "tls client"), testCert(t, "proxied client")
	for _, tc := range []struct {
		name    string
		req     func() *http.Request
		header  string
		want    *x509.Certificate
		wantErr bool
	}{
		{"verified TLS leaf", func() *http.Request {
			r := request(false)
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{tlsCert}, VerifiedChains: [][]*x509.Certificate{{tlsCert}}}
			return r
		}, "", tlsCert, false},
		{"TLS certificate wins over a trusted header", func() *http.Request {
			r := request(true, "Client-Cert", sfBinary(proxied.Raw))
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{tlsCert}, VerifiedChains: [][]*x509.Certificate{{tlsCert}}}
			return r
		}, "Client-Cert", tlsCert, false},
		{"unverified TLS certificate counts for nothing, header not consulted", func() *http.Request {
			r := request(true, "Client-Cert", sfBinary(proxied.Raw))
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{tlsCert}}
			return r
		}, "Client-Cert", nil, false},
		{"trusted proxy header honoured", func() *http.Request {
			return request(true, "Client-Cert", sfBinary(proxied.Raw))
		}, "Client-Cert", proxied, false},
		{"header name is case-insensitive, unpadded base64 and parameters accepted", func() *http.Request {
			return request(true, "client-cert", " :"+base64.RawStdEncoding.EncodeToString(proxied.Raw)+":;x=1 ")
		}, "Client-Cert", proxied, false},
		{"untrusted sender's header ignored", func() *http.Request {
			return request(false, "Client-Cert", sfBinary(proxied.Raw))
		}, "Client-Cert", nil, false},
		{"no Caddy vars: untrusted", func() *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Client-Cert", sfBinary(proxied.Raw))
			return r
		}, "Client-Cert", nil, false},
		{"header not configured: ignored", func() *http.Request {
			return request(true, "Client-Cert", sfBinary(proxied.Raw))
		}, "", nil, false},
		{"no certificate at all", func() *http.Request { return request(true) }, "Client-Cert", nil, false},
		{"empty header: none", func() *http.Request { return request(true, "Client-Cert", "") }, "Client-Cert", nil, false},
		{"repeated header rejected", func() *http.Request {
			return request(true, "Client-Cert", sfBinary(proxied.Raw), "Client-Cert", sfBinary(tlsCert.Raw))
		}, "Client-Cert", nil, true},
		{"PEM instead of a byte sequence rejected", func() *http.Request {
			return request(true, "Client-Cert", "-----BEGIN CERTIFICATE-----")
		}, "Client-Cert", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := clientcert.FromRequest(tc.req(), tc.header)
			if tc.wantErr {
				if !errors.Is(err, clientcert.ErrMalformedHeader) {
					t.Fatalf("FromRequest() error = %v, want ErrMalformedHeader", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromRequest() error = %v", err)
			}
			if got != tc.want && (got == nil || tc.want == nil || !got.Equal(tc.want)) {
				t.Fatalf("FromRequest() = %v, want %v", subject(got), subject(tc.want))
			}
		})
	}
}

func subject(c *x509.Certificate) string {
	if c == nil {
		return "<nil>"
	}
	return c.Subject.String()
}

func TestParseHeaderRejects(t *testing.T) {
	der := testCert(t, "x").Raw
	good := base64.StdEncoding.EncodeToString(der)
	for name, v := range map[string]string{
		"no colons":           good,
		"unterminated":        ":" + good,
		"text after":          ":" + good + ":x",
		"url-safe alphabet":   ":" + strings.NewReplacer("+", "-", "/", "_").Replace(good+"+/") + ":",
		"not a certificate":   ":" + base64.StdEncoding.EncodeToString([]byte("hello")) + ":",
		"empty byte sequence": "::",
		"two certificates":    ":" + base64.StdEncoding.EncodeToString(append(append([]byte{}, der...), der...)) + ":",
		"oversize":            ":" + strings.Repeat("A", clientcert.MaxHeaderSize) + ":",
	} {
		t.Run(name, func(t *testing.T) {
			if c, err := clientcert.ParseHeader(v); !errors.Is(err, clientcert.ErrMalformedHeader) {
				t.Fatalf("ParseHeader() = %v, %v; want ErrMalformedHeader", subject(c), err)
			}
		})
	}
}

func TestThumbprintIsBase64urlSHA256OfDER(t *testing.T) {
	c := testCert(t, "x")
	sum := sha256.Sum256(c.Raw)
	want := strings.TrimRight(base64.URLEncoding.EncodeToString(sum[:]), "=")
	if got := clientcert.Thumbprint(c); got != want || len(got) != 43 {
		t.Fatalf("Thumbprint() = %q, want %q (43 characters)", got, want)
	}
}
