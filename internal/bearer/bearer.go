// Package bearer writes RFC 6750 §3 challenges (WWW-Authenticate: Bearer ...) the same way for
// every obgate handler.
package bearer

import "strings"

// Challenge builds a WWW-Authenticate value: `Bearer`, then realm="<realm>" when realm is not
// empty, then error="<code>" and error_description="<description>" when code is not empty (a
// request without credentials gets no error attribute, RFC 6750 §3.1). Values are made safe for
// a quoted-string with Quotable.
func Challenge(realm, code, description string) string {
	var b strings.Builder
	b.WriteString("Bearer")
	sep := " "
	attr := func(name, value string) {
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(Quotable(value))
		b.WriteByte('"')
		sep = ", "
	}
	if realm != "" {
		attr("realm", realm)
	}
	if code != "" {
		attr("error", code)
		attr("error_description", description)
	}
	return b.String()
}

// Quotable drops what cannot stand in an RFC 9110 quoted-string without escaping: control
// characters, non-ASCII, double quotes and backslashes.
func Quotable(s string) string {
	return strings.Map(func(c rune) rune {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return -1
		}
		return c
	}, s)
}
