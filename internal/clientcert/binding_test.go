package clientcert_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"

	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/clientcert"
)

// TestCheckBinding covers RFC 8705 §3 as jwt_auth and dcr management apply it: a bound token
// needs its certificate, from the TLS connection or a trusted proxy's header; an unbound one
// passes unless binding is required; a cnf the gateway cannot check never passes.
func TestCheckBinding(t *testing.T) {
	mine, other := testCert(t, "mine"), testCert(t, "other")
	overTLS := func(c *x509.Certificate) func() *http.Request {
		return func() *http.Request {
			r := request(false)
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}, VerifiedChains: [][]*x509.Certificate{{c}}}
			return r
		}
	}
	bound := map[string]any{"sub": "c", "cnf": map[string]any{"x5t#S256": clientcert.Thumbprint(mine)}}
	unbound := map[string]any{"sub": "c"}
	const ok = verify.Reason(-1)
	for _, tc := range []struct {
		name     string
		req      func() *http.Request
		claims   map[string]any
		required bool
		want     verify.Reason
	}{
		{"unbound token without a certificate passes", func() *http.Request { return request(false) }, unbound, false, ok},
		{"unbound token refused when binding is required", overTLS(mine), unbound, true, verify.ReasonNotCertBound},
		{"bound token with its TLS certificate passes", overTLS(mine), bound, false, ok},
		{"bound token with its TLS certificate passes when required", overTLS(mine), bound, true, ok},
		{"bound token with another TLS certificate refused", overTLS(other), bound, false, verify.ReasonCertMismatch},
		{"bound token without a certificate refused", func() *http.Request { return request(false) }, bound, false, verify.ReasonCertMissing},
		{"bound token with its certificate from a trusted proxy passes",
			func() *http.Request { return request(true, "Client-Cert", sfBinary(mine.Raw)) }, bound, false, ok},
		{"the certificate header from an untrusted address is ignored",
			func() *http.Request { return request(false, "Client-Cert", sfBinary(mine.Raw)) }, bound, false, verify.ReasonCertMissing},
		{"a malformed header from a trusted proxy refused",
			func() *http.Request { return request(true, "Client-Cert", ":bm90IGEgY2VydA==:") }, bound, false, verify.ReasonCertMismatch},
		{"a cnf that is not an object refused", overTLS(mine), map[string]any{"cnf": "x"}, false, verify.ReasonCertMismatch},
		{"a cnf bound only by jkt refused", overTLS(mine), map[string]any{"cnf": map[string]any{"jkt": "abc"}}, false, verify.ReasonUnsupportedBinding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := clientcert.CheckBinding(tc.req(), "Client-Cert", tc.claims, tc.required)
			if tc.want == ok {
				if err != nil {
					t.Fatalf("CheckBinding() = %v, want nil", err)
				}
				return
			}
			if got := verify.ReasonOf(err); err == nil || got != tc.want {
				t.Fatalf("CheckBinding() = %v (reason %v), want reason %v", err, got, tc.want)
			}
		})
	}
}
