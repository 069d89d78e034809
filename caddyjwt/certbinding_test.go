package caddyjwt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/clientcert"
)

// BenchmarkCertBindingCheck measures the RFC 8705 check a bound token adds to every request
// (thumbprint of the TLS leaf and comparison), and the cost for an unbound token:
//
//	go test -run '^$' -bench BenchmarkCertBindingCheck -benchmem ./caddyjwt/
func BenchmarkCertBindingCheck(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Unix(1_700_000_000, 0), NotAfter: time.Unix(1_900_000_000, 0)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	r := httptest.NewRequest("GET", "https://gw.example/", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}, VerifiedChains: [][]*x509.Certificate{{cert}}}
	bound := map[string]any{"sub": "c", "cnf": map[string]any{"x5t#S256": clientcert.Thumbprint(cert)}}
	unbound := map[string]any{"sub": "c"}
	for name, claims := range map[string]map[string]any{"bound": bound, "unbound": unbound} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := (certBinding{}).check(r, claims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
