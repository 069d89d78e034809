package dcrhandler

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// clientCertificate makes a self-signed certificate with the given subject.
func clientCertificate(t testing.TB, subject pkix.Name) *x509.Certificate {
	t.Helper()
	_, soft, _, _ := testKeys(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      subject,
		NotBefore:    time.Unix(1_700_000_000, 0),
		NotAfter:     time.Unix(1_900_000_000, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &soft.priv.PublicKey, soft.priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

var obieSubject = pkix.Name{
	CommonName:         "client.example",
	Organization:       []string{"Example Ltd"},
	OrganizationalUnit: []string{"0015800001HQQrZAAX"},
	Country:            []string{"GB"},
	ExtraNames:         []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 97}, Value: "PSDGB-OB-123456"}},
}

// postTLS registers over a (synthetic) mTLS connection presenting cert.
func postTLS(t testing.TB, h *Handler, token string, cert *x509.Certificate) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "https://bank.example/register", bytes.NewBufferString(token))
	r.Header.Set("Content-Type", "application/jwt")
	r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert}}, PeerCertificates: []*x509.Certificate{cert}}
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, nil); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestClientCertificateDNCheck(t *testing.T) {
	f := newFixture(t)
	cert := clientCertificate(t, pkix.Name{CommonName: "client.example", Organization: []string{"Example Ltd"}, Country: []string{"GB"}})
	tlsAuth := func(dn string) func(map[string]any) {
		return func(c map[string]any) {
			c["token_endpoint_auth_method"] = "tls_client_auth"
			c["tls_client_auth_subject_dn"] = dn
		}
	}
	t.Run("obie DN matching the certificate accepted", func(t *testing.T) {
		h := f.handler(t, "obie", nil)
		w := postTLS(t, h, f.requestJWT("obie", nil, tlsAuth("CN=client.example,O=Example Ltd,C=GB")), cert)
		if w.Code != http.StatusCreated {
			t.Fatalf("status %d; body %s", w.Code, w.Body.String())
		}
		if uri := decode(t, w)["registration_client_uri"]; uri != "https://bank.example/register/"+decode(t, w)["client_id"].(string) {
			t.Errorf("registration_client_uri = %v, want the https URI", uri)
		}
	})
	t.Run("obie DN of another certificate refused", func(t *testing.T) {
		h := f.handler(t, "obie", nil)
		w := postTLS(t, h, f.requestJWT("obie", nil, tlsAuth("CN=someone.else,O=Example Ltd,C=GB")), cert)
		expectError(t, w, http.StatusBadRequest, codeInvalidMetadata, "tls_client_auth_subject_dn")
	})
	t.Run("revolut tls_client_auth_dn matching accepted", func(t *testing.T) {
		h := f.handler(t, "revolut", nil)
		w := postTLS(t, h, f.requestJWT("revolut", nil, nil), cert)
		if w.Code != http.StatusCreated {
			t.Fatalf("status %d; body %s", w.Code, w.Body.String())
		}
	})
	t.Run("revolut tls_client_auth_dn mismatch refused", func(t *testing.T) {
		h := f.handler(t, "revolut", nil)
		w := postTLS(t, h, f.requestJWT("revolut", nil, set("tls_client_auth_dn", "CN=client.example,O=Other,C=GB")), cert)
		expectError(t, w, http.StatusBadRequest, codeInvalidMetadata, "tls_client_auth_dn")
	})
	// An OB UK transport certificate carries organizationIdentifier (2.5.4.97): the DN as Go writes
	// it (2.5.4.97=#13..., RFC 4514 §2.4) and as the directory writes it both match it.
	obCert := clientCertificate(t, obieSubject)
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(obCert.RawSubject, &seq); err != nil {
		t.Fatal(err)
	}
	for name, dn := range map[string]string{
		"hex-encoded organizationIdentifier": seq.String(),
		"organizationIdentifier by name":     "organizationIdentifier=PSDGB-OB-123456,CN=client.example,OU=0015800001HQQrZAAX,O=Example Ltd,C=GB",
	} {
		t.Run("obie DN with "+name+" accepted", func(t *testing.T) {
			h := f.handler(t, "obie", nil)
			w := postTLS(t, h, f.requestJWT("obie", nil, tlsAuth(dn)), obCert)
			if w.Code != http.StatusCreated {
				t.Fatalf("DN %q: status %d; body %s", dn, w.Code, w.Body.String())
			}
		})
	}
	t.Run("obie DN with another organizationIdentifier refused", func(t *testing.T) {
		h := f.handler(t, "obie", nil)
		dn := "organizationIdentifier=PSDGB-OB-999999,CN=client.example,OU=0015800001HQQrZAAX,O=Example Ltd,C=GB"
		w := postTLS(t, h, f.requestJWT("obie", nil, tlsAuth(dn)), obCert)
		expectError(t, w, http.StatusBadRequest, codeInvalidMetadata, "tls_client_auth_subject_dn")
	})
	t.Run("no client certificate: nothing to compare", func(t *testing.T) {
		h := f.handler(t, "obie", nil)
		w := post(t, h, f.requestJWT("obie", nil, tlsAuth("CN=anyone")))
		if w.Code != http.StatusCreated {
			t.Fatalf("status %d; body %s", w.Code, w.Body.String())
		}
	})
}

// TestClientCertHeaderFromTrustedProxy: behind a TLS-terminating proxy, client_cert_header
// carries the certificate (RFC 9440), and only a trusted proxy's header counts.
func TestClientCertHeaderFromTrustedProxy(t *testing.T) {
	f := newFixture(t)
	cert := clientCertificate(t, obieSubject)
	h := f.handler(t, "obie", func(h *Handler) { h.ClientCertHeader = "Client-Cert" })
	send := func(dn string, trusted bool, header string) *httptest.ResponseRecorder {
		t.Helper()
		tok := f.requestJWT("obie", nil, func(c map[string]any) {
			c["token_endpoint_auth_method"] = "tls_client_auth"
			c["tls_client_auth_subject_dn"] = dn
		})
		r := httptest.NewRequest(http.MethodPost, "http://bank.example/register", bytes.NewBufferString(tok))
		r.Header.Set("Content-Type", "application/jwt")
		r.Header.Set("Client-Cert", header)
		r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.TrustedProxyVarKey: trusted}))
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, r, nil); err != nil {
			t.Fatal(err)
		}
		return w
	}
	value := ":" + base64.StdEncoding.EncodeToString(cert.Raw) + ":"
	good := "organizationIdentifier=PSDGB-OB-123456,CN=client.example,OU=0015800001HQQrZAAX,O=Example Ltd,C=GB"
	if w := send(good, true, value); w.Code != http.StatusCreated {
		t.Fatalf("matching DN from a trusted proxy: status %d; body %s", w.Code, w.Body.String())
	}
	expectError(t, send("CN=someone.else", true, value), http.StatusBadRequest, codeInvalidMetadata, "tls_client_auth_subject_dn")
	expectError(t, send(good, true, ":not base64:"), http.StatusBadRequest, codeInvalidRequest, "Client-Cert")
	// From an untrusted address the header is ignored: there is no certificate to compare.
	if w := send("CN=someone.else", false, value); w.Code != http.StatusCreated {
		t.Fatalf("untrusted header: status %d, want 201 (header ignored); body %s", w.Code, w.Body.String())
	}
}
