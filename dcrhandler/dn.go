package dcrhandler

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/asn1"
	"slices"
	"strings"
)

// attributeNames maps the attribute types of RFC 4514 §3 (and the ones open-banking certificates
// use) to their OIDs; a DN written with either form compares equal.
var attributeNames = map[string]string{
	"CN": "2.5.4.3", "SERIALNUMBER": "2.5.4.5", "C": "2.5.4.6", "L": "2.5.4.7", "ST": "2.5.4.8",
	"STREET": "2.5.4.9", "O": "2.5.4.10", "OU": "2.5.4.11", "POSTALCODE": "2.5.4.17",
	"ORGANIZATIONIDENTIFIER": "2.5.4.97", "DC": "0.9.2342.19200300.100.1.25", "UID": "0.9.2342.19200300.100.1.1",
	"EMAILADDRESS": "1.2.840.113549.1.9.1", "E": "1.2.840.113549.1.9.1",
}

// rdnAttr is one attribute of a DN, normalised for comparison.
type rdnAttr struct{ oid, value string }

// certificateDNMatches reports whether the registered subject DN (RFC 4514 string form, as in
// RFC 8705 §2.1.2 tls_client_auth_subject_dn) names the subject of the connection's verified
// client certificate. ok is false when the connection has no verified client certificate, in
// which case there is nothing to compare.
func certificateDNMatches(state *tls.ConnectionState, registered string) (match, ok bool) {
	if state == nil || len(state.VerifiedChains) == 0 || len(state.VerifiedChains[0]) == 0 {
		return false, false
	}
	cert := state.VerifiedChains[0][0]
	want, parsed := parseDN(registered)
	if !parsed {
		return false, true
	}
	// The raw subject keeps every attribute in its encoded order; pkix.Name drops unknown ones
	// (such as organizationIdentifier) when it is re-encoded.
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(cert.RawSubject, &seq); err != nil || len(rest) > 0 {
		return false, true
	}
	got := certificateAttrs(seq)
	if attrsEqual(got, want) {
		return true, true
	}
	// RFC 4514 writes the most specific RDN first; X.500 order is the reverse. Accept either.
	slices.Reverse(got)
	return attrsEqual(got, want), true
}

func attrsEqual(a, b []rdnAttr) bool {
	return slices.EqualFunc(a, b, func(x, y rdnAttr) bool {
		return x.oid == y.oid && strings.EqualFold(x.value, y.value)
	})
}

// certificateAttrs flattens a certificate subject in its encoded order.
func certificateAttrs(seq pkix.RDNSequence) []rdnAttr {
	var out []rdnAttr
	for _, rdn := range seq {
		for _, atv := range rdn {
			s, ok := atv.Value.(string)
			if !ok {
				s = "\x00" // a non-string value never matches a written DN
			}
			out = append(out, rdnAttr{oid: atv.Type.String(), value: collapseSpace(s)})
		}
	}
	return out
}

// parseDN reads an RFC 4514 distinguished name: attributes separated by "," or ";" (or "+"
// within an RDN), each type=value with backslash escapes; types by name or dotted OID.
// Hex-encoded (#...) values are not supported and never match.
func parseDN(s string) ([]rdnAttr, bool) {
	var out []rdnAttr
	var cur strings.Builder
	var parts []string
	escaped := false
	for _, c := range s {
		switch {
		case escaped:
			cur.WriteRune(c)
			escaped = false
		case c == '\\':
			cur.WriteRune(c)
			escaped = true
		case c == ',' || c == ';' || c == '+':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(c)
		}
	}
	parts = append(parts, cur.String())
	for _, p := range parts {
		typ, val, found := strings.Cut(p, "=")
		if !found {
			return nil, false
		}
		typ = strings.ToUpper(strings.TrimSpace(typ))
		typ = strings.TrimPrefix(typ, "OID.")
		oid, known := attributeNames[typ]
		if !known {
			if !isOID(typ) {
				return nil, false
			}
			oid = typ
		}
		val = strings.TrimSpace(val)
		if strings.HasPrefix(val, "#") {
			return nil, false
		}
		out = append(out, rdnAttr{oid: oid, value: collapseSpace(unescapeDN(val))})
	}
	return out, len(out) > 0
}

func isOID(s string) bool {
	var oid asn1.ObjectIdentifier
	for part := range strings.SplitSeq(s, ".") {
		n := 0
		if part == "" || len(part) > 9 {
			return false
		}
		for _, c := range part {
			if c < '0' || c > '9' {
				return false
			}
			n = n*10 + int(c-'0')
		}
		oid = append(oid, n)
	}
	return len(oid) >= 2
}

// unescapeDN removes RFC 4514 §2.4 backslash escapes (\, and \2C forms).
func unescapeDN(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
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
