package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/jwttest"
)

// privateCAIssuer is a loopback https JWKS server whose certificate a test CA signed; it returns
// the server and the CA's PEM file.
func privateCAIssuer(t *testing.T, dir string, keys ...*jwttest.Signer) (*httptest.Server, string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "obgate test private CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwttest.JWKS(t, keys...))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(dir, "private-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, caFile
}

// An issuer whose JWKS server has a certificate from a private CA: without trusted_ca the keys
// never arrive (503), with `trusted_ca` in the issuer block or in the global jwks option they do;
// SSL_CERT_FILE plays no part.
func TestRemoteKeysTrustedCA(t *testing.T) {
	t.Setenv("SSL_CERT_FILE", "")
	dir := t.TempDir()
	k := signer(t, "private-1")
	srv, caFile := privateCAIssuer(t, dir, k)
	const iss = "https://private-issuer.example"
	tok := k.Token(t, jwttest.Claims(iss, "api", "alice", time.Now()), nil)
	for _, tc := range []struct {
		name, global, inIssuer string
		want                   int
	}{
		{"system roots only: the private CA is not trusted", "", "", http.StatusServiceUnavailable},
		{"trusted_ca in the issuer block", "", "trusted_ca " + caFile, http.StatusOK},
		{"trusted_ca in the global jwks option", "trusted_ca " + caFile, "", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			adminPort := freePort(t)
			g := startGateway(t, fmt.Sprintf(`{
	admin 127.0.0.1:%d
	persist_config off
	storage file_system %s
	log {
		level ERROR
	}
	jwks {
		fetch_timeout 2s
		%s
	}
}
http://127.0.0.1:{PORT} {
	jwt_auth {
		issuer %s {
			jwks_url %s/jwks
			%s
		}
		audience api
	}
	respond "hello {http.auth.user.id}"
}
`, adminPort, dir, tc.global, iss, srv.URL, tc.inIssuer))
			if tc.want == http.StatusOK {
				eventually(t, "keys from the private-CA issuer", func() bool { return g.do("GET", "/", nil, bearer(tok)...).Status == http.StatusOK })
				return
			}
			eventually(t, "a failed fetch", func() bool {
				_, body := adminGet(t, adminPort, "/jwks/")
				return strings.Contains(body, "certificate")
			})
			if res := g.do("GET", "/", nil, bearer(tok)...); res.Status != tc.want {
				t.Fatalf("status %d, want %d", res.Status, tc.want)
			}
		})
	}
}
