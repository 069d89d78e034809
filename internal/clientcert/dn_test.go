package clientcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"
)

var oidOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}

// certificate makes a self-signed certificate whose subject is exactly raw (a DER RDNSequence) or,
// when raw is nil, subject.
func certificate(t testing.TB, subject pkix.Name, raw []byte) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      subject,
		RawSubject:   raw,
		NotBefore:    time.Unix(1_700_000_000, 0),
		NotAfter:     time.Unix(1_900_000_000, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// subjectString is what Go writes for a certificate's whole subject: pkix.RDNSequence.String of
// the raw subject (cert.Subject.String leaves out the attributes pkix.Name has no field for).
func subjectString(t testing.TB, cert *x509.Certificate) string {
	t.Helper()
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(cert.RawSubject, &seq); err != nil {
		t.Fatal(err)
	}
	return seq.String()
}

// obSubject is the shape of an OB UK transport certificate's subject: organizationIdentifier
// (2.5.4.97) beside C, O, OU and CN.
var obSubject = pkix.Name{
	Country:            []string{"GB"},
	Organization:       []string{"Example Bank Ltd"},
	OrganizationalUnit: []string{"0015800001HQQrZAAX"},
	CommonName:         "5ad8b1c4-2b73-4b4c-9f3e-0d3a7c1a5e10",
	ExtraNames:         []pkix.AttributeTypeAndValue{{Type: oidOrganizationIdentifier, Value: "PSDGB-OB-123456"}},
}

func TestDNMatchesOrganizationIdentifier(t *testing.T) {
	cert := certificate(t, obSubject, nil)
	goString := subjectString(t, cert) // Go writes 2.5.4.97=#13...: RFC 4514 §2.4
	t.Logf("Go's string form: %s", goString)
	for _, tc := range []struct {
		name, dn string
		match    bool
	}{
		{"Go's own string form with the hex-encoded value", goString, true},
		{"the same DN in X.500 order", "C=GB,O=Example Bank Ltd,OU=0015800001HQQrZAAX,CN=5ad8b1c4-2b73-4b4c-9f3e-0d3a7c1a5e10,2.5.4.97=PSDGB-OB-123456", true},
		{"dotted OID with a string value", "2.5.4.97=PSDGB-OB-123456,CN=5ad8b1c4-2b73-4b4c-9f3e-0d3a7c1a5e10,OU=0015800001HQQrZAAX,O=Example Bank Ltd,C=GB", true},
		{"organizationIdentifier by name", "organizationIdentifier=PSDGB-OB-123456, CN=5ad8b1c4-2b73-4b4c-9f3e-0d3a7c1a5e10, OU=0015800001HQQrZAAX, O=Example Bank Ltd, C=GB", true},
		{"OID. prefix and other case", "OID.2.5.4.97=psdgb-ob-123456,cn=5AD8B1C4-2B73-4B4C-9F3E-0D3A7C1A5E10,ou=0015800001hqqrzaax,o=example bank ltd,c=gb", true},
		{"hex value of a named type", "2.5.4.97=#130f505344474200000000000000000000,CN=5ad8b1c4-2b73-4b4c-9f3e-0d3a7c1a5e10,OU=0015800001HQQrZAAX,O=Example Bank Ltd,C=GB", false},
		{"hex value of the CN written for CN", "2.5.4.97=PSDGB-OB-123456,CN=#13243561643862316334" + "2d326237332d346234632d396633652d306433613763316135653130,OU=0015800001HQQrZAAX,O=Example Bank Ltd,C=GB", true},
		{"another organizationIdentifier", "organizationIdentifier=PSDGB-OB-654321,CN=5ad8b1c4-2b73-4b4c-9f3e-0d3a7c1a5e10,OU=0015800001HQQrZAAX,O=Example Bank Ltd,C=GB", false},
		{"organizationIdentifier missing", "CN=5ad8b1c4-2b73-4b4c-9f3e-0d3a7c1a5e10,OU=0015800001HQQrZAAX,O=Example Bank Ltd,C=GB", false},
		{"attributes out of order", "CN=5ad8b1c4-2b73-4b4c-9f3e-0d3a7c1a5e10,2.5.4.97=PSDGB-OB-123456,OU=0015800001HQQrZAAX,O=Example Bank Ltd,C=GB", false},
		{"bad hex refused", "2.5.4.97=#13zz,CN=5ad8b1c4-2b73-4b4c-9f3e-0d3a7c1a5e10,OU=0015800001HQQrZAAX,O=Example Bank Ltd,C=GB", false},
		{"odd-length hex refused", "2.5.4.97=#130,CN=x", false},
		{"escaped comma is not a separator", `CN=5ad8b1c4-2b73-4b4c-9f3e-0d3a7c1a5e10\,OU=x,O=Example Bank Ltd,C=GB`, false},
		{"garbage", "not a DN", false},
		{"empty", "", false},
		{"unknown attribute name", "FOO=bar,C=GB", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DNMatches(cert, tc.dn); got != tc.match {
				t.Errorf("DNMatches(%q) = %v, want %v", tc.dn, got, tc.match)
			}
		})
	}
}

func TestDNMatchesHexOfAnUTF8Value(t *testing.T) {
	// An organizationIdentifier encoded as UTF8String (tag 0x0c) and an O with a non-ASCII letter.
	cert := certificate(t, pkix.Name{
		Organization: []string{"Bäckerei AG"},
		ExtraNames:   []pkix.AttributeTypeAndValue{{Type: oidOrganizationIdentifier, Value: "PSDDE-BAFIN-1234"}},
	}, nil)
	for _, dn := range []string{
		subjectString(t, cert),
		"2.5.4.97=PSDDE-BAFIN-1234,O=Bäckerei AG",
		`2.5.4.97=PSDDE-BAFIN-1234,O=B\C3\A4ckerei AG`, // RFC 4514 §3: \XX pairs form one UTF-8 character
		"2.5.4.97=#0c1050534444452d424146494e2d31323334,O=Bäckerei AG",
	} {
		if !DNMatches(cert, dn) {
			t.Errorf("DNMatches(%q) = false, want true", dn)
		}
	}
	if DNMatches(cert, `2.5.4.97=PSDDE-BAFIN-1234,O=B\C3ckerei AG`) {
		t.Error("a value that is not UTF-8 after unescaping matched")
	}
}

func TestDNMatchesMultiValuedRDN(t *testing.T) {
	// RDNSequence { SET { O=Example, OU=Payments }, SET { CN=client } } in X.500 order.
	seq := pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 6}, Value: "GB"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: "Example"}, {Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "Payments"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "client"}},
	}
	raw, err := asn1.Marshal(seq)
	if err != nil {
		t.Fatal(err)
	}
	cert := certificate(t, pkix.Name{}, raw)
	for _, tc := range []struct {
		dn    string
		match bool
	}{
		{"CN=client,O=Example+OU=Payments,C=GB", true},
		{"CN=client,OU=Payments+O=Example,C=GB", true}, // an RDN is a set
		{"CN=client,O=Example,OU=Payments,C=GB", false},
		{"CN=client+O=Example,OU=Payments,C=GB", false},
	} {
		if got := DNMatches(cert, tc.dn); got != tc.match {
			t.Errorf("DNMatches(%q) = %v, want %v", tc.dn, got, tc.match)
		}
	}
}

func TestEqualDNNonStringValue(t *testing.T) {
	// A value that is not a string (here an INTEGER, hex-encoded) equals only its own encoding.
	for _, tc := range []struct {
		b     string
		equal bool
	}{
		{"CN=c,1.3.6.1.4.1.99999.1=#02012a", true},
		{"CN=c,1.3.6.1.4.1.99999.1=42", false},
		{"CN=c,1.3.6.1.4.1.99999.1=#02012b", false},
	} {
		if got := EqualDN("CN=c,1.3.6.1.4.1.99999.1=#02012A", tc.b); got != tc.equal {
			t.Errorf("EqualDN(INTEGER 42, %q) = %v, want %v", tc.b, got, tc.equal)
		}
	}
}

func TestDNMatchesEscapesAndSpaces(t *testing.T) {
	cert := certificate(t, pkix.Name{CommonName: " lead, space", Organization: []string{"A+B <x>"}, Country: []string{"GB"}}, nil)
	for _, dn := range []string{
		cert.Subject.String(),
		`CN=\ lead\, space,O=A\+B \<x\>,C=GB`,
		`CN=\20lead\2C space , O=A\2BB \3Cx\3E , C=GB`,
	} {
		if !DNMatches(cert, dn) {
			t.Errorf("DNMatches(%q) = false, want true", dn)
		}
	}
	if DNMatches(nil, "CN=x") {
		t.Error("a nil certificate matched")
	}
}

func TestEqualDN(t *testing.T) {
	for _, tc := range []struct {
		a, b  string
		equal bool
	}{
		{"2.5.4.97=#130f50534447422d4f422d313233343536,CN=a", "organizationIdentifier=PSDGB-OB-123456, CN=a", true},
		{"CN=a,O=b", "O=b,CN=a", true},
		{"CN=a,O=b", "CN=a,O=c", false},
		{"CN=a", "not a DN", false},
	} {
		if got := EqualDN(tc.a, tc.b); got != tc.equal {
			t.Errorf("EqualDN(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.equal)
		}
	}
}

func TestParseDNRefusesMalformed(t *testing.T) {
	for _, s := range []string{"", "CN", "CN=a,", `CN=a\`, "1=x", "01.2.3=x", "X=y", "CN=#"} {
		if _, err := ParseDN(s); err == nil {
			t.Errorf("ParseDN(%q) succeeded", s)
		}
	}
}

func FuzzParseDN(f *testing.F) {
	for _, s := range []string{"CN=a,O=b", `CN=\2C+OU=x;C=GB`, "2.5.4.97=#130141", "", `\`, "=,+;#"} {
		f.Add(s)
	}
	cert := certificate(f, obSubject, nil)
	f.Fuzz(func(t *testing.T, s string) {
		dn, err := ParseDN(s)
		if err == nil && len(dn) == 0 {
			t.Fatalf("ParseDN(%q) returned an empty DN without error", s)
		}
		_ = DNMatches(cert, s)
		if err == nil && !EqualDN(s, s) {
			t.Fatalf("EqualDN(%q, itself) = false", s)
		}
	})
}
