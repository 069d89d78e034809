// Package clientcert holds what obgate's handlers need to know about a request's client certificate.
// This file compares X.509 subject distinguished names with the RFC 4514 string form a client
// registers (RFC 8705 §2.1.2 tls_client_auth_subject_dn); it imports no Caddy package.
package clientcert

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// attributeNames maps the attribute type names a DN string may use (case-insensitively) to their
// OIDs: the names of RFC 4514 §3, the X.520 names OpenSSL and Java write, and the ones open-banking
// certificates carry (organizationIdentifier, 2.5.4.97, on every OB UK and eIDAS certificate). A DN
// written with the name or with the dotted OID compares equal.
var attributeNames = map[string]string{
	"CN": "2.5.4.3", "COMMONNAME": "2.5.4.3",
	"SN": "2.5.4.4", "SURNAME": "2.5.4.4",
	"SERIALNUMBER": "2.5.4.5",
	"C":            "2.5.4.6", "COUNTRYNAME": "2.5.4.6",
	"L": "2.5.4.7", "LOCALITYNAME": "2.5.4.7",
	"ST": "2.5.4.8", "S": "2.5.4.8", "STATEORPROVINCENAME": "2.5.4.8",
	"STREET": "2.5.4.9", "STREETADDRESS": "2.5.4.9",
	"O": "2.5.4.10", "ORGANIZATIONNAME": "2.5.4.10",
	"OU": "2.5.4.11", "ORGANIZATIONALUNITNAME": "2.5.4.11",
	"TITLE":                  "2.5.4.12",
	"POSTALCODE":             "2.5.4.17",
	"GIVENNAME":              "2.5.4.42",
	"ORGANIZATIONIDENTIFIER": "2.5.4.97",
	"DC":                     "0.9.2342.19200300.100.1.25", "DOMAINCOMPONENT": "0.9.2342.19200300.100.1.25",
	"UID":          "0.9.2342.19200300.100.1.1",
	"EMAILADDRESS": "1.2.840.113549.1.9.1", "E": "1.2.840.113549.1.9.1",
}

// attribute is one AttributeTypeAndValue, normalised for comparison. text is the value as a
// string (collapsed spaces) when it has one; raw is its BER/DER encoding when known (the
// certificate's side always, a DN string's side for hex-encoded values).
type attribute struct {
	oid     string
	text    string
	hasText bool
	raw     []byte
}

// rdn is one RelativeDistinguishedName: a set of attributes (X.501; usually one).
type rdn []attribute

// DN is a parsed distinguished name, RDNs in the order they were written.
type DN []rdn

// ParseDN reads a distinguished name in the string form of RFC 4514 §3: RDNs separated by ","
// (";" is accepted as RFC 2253 §4 did), attributes within an RDN by "+", each type=value. A type
// is a name from the table above or a dotted OID (with or without the RFC 1779 "OID." prefix); a
// value is either a string with RFC 4514 §2.4 backslash escapes (\, and \2C forms, several \XX
// forming one UTF-8 character) or "#" and the hex of the value's BER encoding (RFC 4514 §2.4,
// what Go's pkix.RDNSequence.String writes for types it has no name for). Spaces around a type or
// value are ignored unless escaped.
func ParseDN(s string) (DN, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty distinguished name")
	}
	var (
		dn      DN
		cur     rdn
		part    strings.Builder
		escaped bool
	)
	flush := func(endRDN bool) error {
		a, err := parseAttribute(part.String())
		if err != nil {
			return err
		}
		part.Reset()
		cur = append(cur, a)
		if endRDN {
			dn = append(dn, cur)
			cur = nil
		}
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			part.WriteByte(c)
			escaped = false
		case c == '\\':
			part.WriteByte(c)
			escaped = true
		case c == ',' || c == ';':
			if err := flush(true); err != nil {
				return nil, err
			}
		case c == '+':
			if err := flush(false); err != nil {
				return nil, err
			}
		default:
			part.WriteByte(c)
		}
	}
	if escaped {
		return nil, errors.New("distinguished name ends in an unfinished escape")
	}
	if err := flush(true); err != nil {
		return nil, err
	}
	return dn, nil
}

// parseAttribute reads one type=value pair (RFC 4514 §3 attributeTypeAndValue).
func parseAttribute(s string) (attribute, error) {
	typ, val, found := strings.Cut(s, "=")
	if !found {
		return attribute{}, errors.New("attribute without '='")
	}
	typ = strings.ToUpper(strings.TrimSpace(typ))
	typ = strings.TrimPrefix(typ, "OID.")
	oid, known := attributeNames[typ]
	if !known {
		if !isOID(typ) {
			return attribute{}, fmt.Errorf("unknown attribute type %q", typ)
		}
		oid = typ
	}
	val = trimUnescapedSpace(val)
	if strings.HasPrefix(val, "#") { // RFC 4514 §3 hexstring: the BER encoding of the value
		raw, err := hex.DecodeString(val[1:])
		if err != nil || len(raw) == 0 {
			return attribute{}, fmt.Errorf("attribute %s: bad hex-encoded value", oid)
		}
		a := attribute{oid: oid, raw: raw}
		a.text, a.hasText = berString(raw)
		return a, nil
	}
	text, err := unescape(val)
	if err != nil {
		return attribute{}, fmt.Errorf("attribute %s: %w", oid, err)
	}
	return attribute{oid: oid, text: collapseSpace(text), hasText: true}, nil
}

// trimUnescapedSpace removes leading spaces and trailing spaces that are not escaped (a value's
// own edge spaces are written "\ ", RFC 4514 §2.4).
func trimUnescapedSpace(s string) string {
	s = strings.TrimLeft(s, " ")
	for strings.HasSuffix(s, " ") {
		// Count the backslashes before the final space: an odd number escapes it.
		n := 0
		for i := len(s) - 2; i >= 0 && s[i] == '\\'; i-- {
			n++
		}
		if n%2 == 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

// unescape removes the RFC 4514 §2.4 / §3 escapes: "\" and a special character, or "\" and two hex
// digits (one octet of the UTF-8 value). The result must be valid UTF-8.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		if !utf8.ValidString(s) {
			return "", errors.New("value is not UTF-8")
		}
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", errors.New("unfinished escape")
		}
		if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i+1])
		i++
	}
	out := b.String()
	if !utf8.ValidString(out) {
		return "", errors.New("value is not UTF-8")
	}
	return out, nil
}

// berString returns the text of a BER-encoded string value (PrintableString, UTF8String,
// IA5String, T61String, BMPString, NumericString), as encoding/asn1 decodes them.
func berString(raw []byte) (string, bool) {
	var v any
	rest, err := asn1.Unmarshal(raw, &v)
	if err != nil || len(rest) > 0 {
		return "", false
	}
	s, ok := v.(string)
	return collapseSpace(s), ok
}

// rawATV and rawRDNSET mirror pkix's types, keeping each value's encoding (asn1 treats a slice
// type whose name ends in SET as a SET OF).
type rawATV struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

type rawRDNSET []rawATV

// certificateDN reads a certificate's subject from its raw encoding, in the encoded (X.500) order.
// pkix.Name would drop the attributes it has no field for (such as organizationIdentifier).
func certificateDN(cert *x509.Certificate) (DN, bool) {
	var seq []rawRDNSET
	rest, err := asn1.Unmarshal(cert.RawSubject, &seq)
	if err != nil || len(rest) > 0 {
		return nil, false
	}
	dn := make(DN, 0, len(seq))
	for _, set := range seq {
		r := make(rdn, 0, len(set))
		for _, atv := range set {
			a := attribute{oid: atv.Type.String(), raw: atv.Value.FullBytes}
			a.text, a.hasText = berString(atv.Value.FullBytes)
			r = append(r, a)
		}
		dn = append(dn, r)
	}
	return dn, true
}

// DNMatches reports whether registered (an RFC 4514 string, as in RFC 8705 §2.1.2
// tls_client_auth_subject_dn) names the subject of cert. RFC 4514 §2.1 writes the last RDN of the
// encoded sequence first; a DN written in the encoded (X.500) order is accepted as well, since
// clients and directories write both. Values compare as X.520's caseIgnoreMatch does for the
// attributes certificates carry (RFC 4517 §4.2.3: case and insignificant spaces ignored), and a
// hex-encoded value (RFC 4514 §2.4) equals the string it encodes. A nil certificate, a subject
// that does not parse or a registered DN that does not parse never match.
func DNMatches(cert *x509.Certificate, registered string) bool {
	if cert == nil {
		return false
	}
	want, err := ParseDN(registered)
	if err != nil {
		return false
	}
	got, ok := certificateDN(cert)
	if !ok {
		return false
	}
	return sameEitherOrder(got, want)
}

// EqualDN reports whether two DN strings name the same DN under the rules of DNMatches (either
// one may be written in the reverse order). Strings that do not parse are never equal.
func EqualDN(a, b string) bool {
	x, err := ParseDN(a)
	if err != nil {
		return false
	}
	y, err := ParseDN(b)
	if err != nil {
		return false
	}
	return sameEitherOrder(x, y)
}

// sameEitherOrder compares a and b RDN by RDN, then with b reversed.
func sameEitherOrder(a, b DN) bool {
	if equalRDNs(a, b) {
		return true
	}
	r := slices.Clone(b)
	slices.Reverse(r)
	return equalRDNs(a, r)
}

func equalRDNs(a, b DN) bool {
	return slices.EqualFunc(a, b, equalRDN)
}

// equalRDN compares two RDNs as sets (X.501: an RDN is a SET OF AttributeTypeAndValue, so the
// order within a multi-valued RDN carries no meaning).
func equalRDN(a, b rdn) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
	for _, x := range a {
		found := false
		for j, y := range b {
			if !used[j] && equalAttribute(x, y) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// equalAttribute: same type, and the same text (caseIgnoreMatch) when both have one, else the same
// encoding.
func equalAttribute(x, y attribute) bool {
	if x.oid != y.oid {
		return false
	}
	if x.hasText && y.hasText {
		return strings.EqualFold(x.text, y.text)
	}
	return x.raw != nil && y.raw != nil && bytes.Equal(x.raw, y.raw)
}

func isOID(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return false
	}
	for _, part := range parts {
		if part == "" || len(part) > 9 || strings.Trim(part, "0123456789") != "" {
			return false
		}
		if len(part) > 1 && part[0] == '0' { // RFC 4512 §1.4 number: no leading zeros
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func collapseSpace(s string) string { return strings.Join(strings.Fields(s), " ") }
