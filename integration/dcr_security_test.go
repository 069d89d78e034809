package integration

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDCRCopiedSSAIsNotACredential reproduces issue 10's attack: a software statement copied from
// a registration response, sent as JSON with the attacker's own metadata. With a directory
// configured, generic takes only request JWTs signed by the software's key; the JSON + SSA form
// needs the explicit allow_unsigned_request opt-in.
func TestDCRCopiedSSAIsNotACredential(t *testing.T) {
	w := newDCRWorld(t)
	g := startGateway(t, w.caddyfile())
	res := g.do("POST", "/generic/register", strings.NewReader(w.request("generic", nil, nil)), "Content-Type", "application/jwt")
	if res.Status != http.StatusCreated {
		t.Fatalf("legitimate registration = %d; body %s", res.Status, res.Body)
	}
	copied, _ := dcrJSON(t, res)["software_statement"].(string)
	if copied == "" {
		t.Fatal("the registration response does not echo the software statement")
	}
	attack, _ := json.Marshal(map[string]any{
		"software_statement":         copied,
		"token_endpoint_auth_method": "tls_client_auth",
		"tls_client_auth_subject_dn": "CN=attacker.example",
		"redirect_uris":              []string{"https://attacker.example/cb"},
		"grant_types":                []string{"client_credentials"},
		"scope":                      "payments",
	})
	expectDCRError(t, g.do("POST", "/generic/register", strings.NewReader(string(attack)), "Content-Type", "application/json"),
		http.StatusUnsupportedMediaType, "invalid_request", "application/jwt")
	// Nor does a request JWT signed by the attacker's own key pass with the copied statement.
	forged := w.rogue.Token(t, w.requestClaims("generic", "x", copied), map[string]any{"kid": w.software.KID})
	expectDCRError(t, g.do("POST", "/generic/register", strings.NewReader(forged), "Content-Type", "application/jwt"),
		http.StatusBadRequest, "invalid_client_metadata", "signature")
	stopCaddy(t)

	// The opt-in restores the unsafe form, as the README warns.
	optIn := strings.Replace(w.caddyfile(), "\t\tprofile generic\n", "\t\tprofile generic\n\t\tallow_unsigned_request\n", 1)
	if optIn == w.caddyfile() {
		t.Fatal("could not add allow_unsigned_request to the generic site")
	}
	g = startGateway(t, optIn)
	if res := g.do("POST", "/generic/register", strings.NewReader(string(attack)), "Content-Type", "application/json"); res.Status != http.StatusCreated {
		t.Fatalf("with allow_unsigned_request: %d, want 201; body %s", res.Status, res.Body)
	}
	bad := strings.Replace(optIn, "\t\tprofile obie\n", "\t\tprofile obie\n\t\tallow_unsigned_request\n", 1)
	if err := validateCaddyfile(t, strings.ReplaceAll(bad, "{PORT}", "0")); err == nil || !strings.Contains(err.Error(), "allow_unsigned_request") {
		t.Errorf("allow_unsigned_request under obie: error %v, want a config error naming it", err)
	}
}

// TestDCRRegistrationClientURIBehindATLSProxy: the URI takes X-Forwarded-Proto only from a
// trusted_proxies address (the test client is 127.0.0.1).
func TestDCRRegistrationClientURIBehindATLSProxy(t *testing.T) {
	w := newDCRWorld(t)
	site := func(trusted string) string {
		return fmt.Sprintf("{\n\tadmin off\n\tpersist_config off\n\tstorage file_system %s\n\tservers {\n\t\ttrusted_proxies static %s\n\t}\n}\n", w.storage, trusted) +
			strings.SplitN(w.caddyfile(), "}\n", 2)[1]
	}
	register := func(g *gateway, headers ...string) string {
		t.Helper()
		res := g.do("POST", "/obie/register", strings.NewReader(w.request("obie", nil, nil)), append([]string{"Content-Type", "application/jwt"}, headers...)...)
		if res.Status != http.StatusCreated {
			t.Fatalf("POST = %d; body %s", res.Status, res.Body)
		}
		uri, _ := dcrJSON(t, res)["registration_client_uri"].(string)
		return uri
	}
	g := startGateway(t, site("127.0.0.1/32"))
	if uri := register(g, "X-Forwarded-Proto", "https"); !strings.HasPrefix(uri, "https://127.0.0.1:") {
		t.Errorf("from a trusted proxy: registration_client_uri = %q, want https", uri)
	}
	if uri := register(g); !strings.HasPrefix(uri, "http://127.0.0.1:") {
		t.Errorf("from a trusted proxy without the header: registration_client_uri = %q, want http", uri)
	}
	stopCaddy(t)
	g = startGateway(t, site("192.0.2.0/24"))
	if uri := register(g, "X-Forwarded-Proto", "https"); !strings.HasPrefix(uri, "http://127.0.0.1:") {
		t.Errorf("from an untrusted client: registration_client_uri = %q, want the header ignored (http)", uri)
	}
}

// TestDCRStoredRecordStaysDeletable writes into storage a record an older version stored (a number
// outside double range) and one that no longer decodes: DELETE works on both and the CDR
// software registers again; a new registration with such a number is refused.
func TestDCRStoredRecordStaysDeletable(t *testing.T) {
	w := newDCRWorld(t)
	g := startGateway(t, w.caddyfile())
	softwareID := "software-damaged"
	req := func(mut func(map[string]any)) string {
		return w.request("cdr", func(c map[string]any) { c["software_id"] = softwareID }, func(c map[string]any) {
			c["iss"] = softwareID
			if mut != nil {
				mut(c)
			}
		})
	}
	expectDCRError(t, g.do("POST", "/cdr/register", strings.NewReader(req(func(c map[string]any) { c["default_max_age"] = json.Number("1e400") })), "Content-Type", "application/jwt"),
		http.StatusBadRequest, "invalid_client_metadata", "default_max_age")
	for _, damage := range []string{`{"default_max_age":1e400}`, `"not an object"`} {
		res := g.do("POST", "/cdr/register", strings.NewReader(req(nil)), "Content-Type", "application/jwt")
		if res.Status != http.StatusCreated {
			t.Fatalf("POST = %d; body %s", res.Status, res.Body)
		}
		reg := dcrJSON(t, res)
		id := reg["client_id"].(string)
		auth := []string{"Authorization", "Bearer " + reg["registration_access_token"].(string)}
		files, _ := filepath.Glob(filepath.Join(w.storage, "obgate", "dcr", "*", "clients", id+".json"))
		if len(files) != 1 {
			t.Fatalf("client record files %v, want one", files)
		}
		data, _ := os.ReadFile(files[0])
		var rec map[string]json.RawMessage
		if err := json.Unmarshal(data, &rec); err != nil {
			t.Fatal(err)
		}
		rec["metadata"] = json.RawMessage(damage)
		data, _ = json.Marshal(rec)
		if err := os.WriteFile(files[0], data, 0o600); err != nil {
			t.Fatal(err)
		}
		if res := g.do("DELETE", "/cdr/register/"+id, nil, auth...); res.Status != http.StatusNoContent {
			t.Fatalf("DELETE of a record with metadata %s = %d, want 204; body %s", damage, res.Status, res.Body)
		}
	}
	if res := g.do("POST", "/cdr/register", strings.NewReader(req(nil)), "Content-Type", "application/jwt"); res.Status != http.StatusCreated {
		t.Fatalf("the software registers again after DELETE: %d; body %s", res.Status, res.Body)
	}
}

// TestDCRSubjectDNWithOrganizationIdentifier runs mTLS with a client certificate carrying
// organizationIdentifier (2.5.4.97), as OB UK certificates do: its DN as Go writes it (with the
// RFC 4514 hex form) and as the directory writes it (by name) both match; another does not.
func TestDCRSubjectDNWithOrganizationIdentifier(t *testing.T) {
	w := newDCRWorld(t)
	dir := t.TempDir()
	ca, caKey := makeCA(t)
	caPath := writePEM(t, dir, "ca.pem", "CERTIFICATE", ca.Raw)
	serverCert, serverKey := issueCert(t, ca, caKey, pkix.Name{CommonName: "localhost"}, true)
	serverCertPath := writePEM(t, dir, "server.pem", "CERTIFICATE", serverCert.Raw)
	serverKeyPath := writePEM(t, dir, "server-key.pem", "EC PRIVATE KEY", serverKey)
	subject := pkix.Name{
		Country: []string{"GB"}, Organization: []string{"Example Bank Ltd"}, OrganizationalUnit: []string{"0015800001HQQrZAAX"},
		CommonName: "0015800001HQQrZAAX-client",
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 97}, Value: "PSDGB-OB-123456"}},
	}
	clientCert, clientKeyDER := issueCert(t, ca, caKey, subject, false)
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(clientCert.RawSubject, &seq); err != nil {
		t.Fatal(err)
	}
	goForm := seq.String()
	if !strings.Contains(goForm, "2.5.4.97=#13") {
		t.Fatalf("Go's string form %q has no hex-encoded organizationIdentifier", goForm)
	}
	cfg := fmt.Sprintf(`{
	admin off
	persist_config off
	auto_https off
	storage file_system %s
}
https://localhost:{PORT} {
	tls %s %s {
		client_auth {
			mode require_and_verify
			trust_pool file %s
		}
	}
	dcr /register* {
		profile obie
		directory %s {
			key %s
		}
		audience %s
		jwks_uri_allow http://%s
	}
}
`, w.storage, serverCertPath, serverKeyPath, caPath, dcrDirectory, w.dirKeyPath, dcrAudience, strings.TrimPrefix(w.jwks.URL, "http://"))
	g := startGateway(t, cfg)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	clientKey, _ := x509.ParseECPrivateKey(clientKeyDER)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:      roots,
		Certificates: []tls.Certificate{{Certificate: [][]byte{clientCert.Raw}, PrivateKey: clientKey}},
	}}}
	post := func(dn string) (int, map[string]any) {
		t.Helper()
		tok := w.request("obie", nil, func(c map[string]any) {
			c["token_endpoint_auth_method"] = "tls_client_auth"
			c["tls_client_auth_subject_dn"] = dn
		})
		res, err := client.Post(fmt.Sprintf("https://localhost:%d/register", g.Port), "application/jwt", strings.NewReader(tok))
		if err != nil {
			t.Fatalf("POST over mTLS: %v", err)
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	for _, dn := range []string{goForm,
		"organizationIdentifier=PSDGB-OB-123456, CN=0015800001HQQrZAAX-client, OU=0015800001HQQrZAAX, O=Example Bank Ltd, C=GB"} {
		if status, body := post(dn); status != http.StatusCreated {
			t.Errorf("DN %q: status %d, want 201; body %v", dn, status, body)
		}
	}
	status, body := post("organizationIdentifier=PSDGB-OB-654321,CN=0015800001HQQrZAAX-client,OU=0015800001HQQrZAAX,O=Example Bank Ltd,C=GB")
	if status != http.StatusBadRequest || body["error"] != "invalid_client_metadata" {
		t.Errorf("another organizationIdentifier: status %d body %v, want 400 invalid_client_metadata", status, body)
	}
}
