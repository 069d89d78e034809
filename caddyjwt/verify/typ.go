package verify

import (
	"fmt"
	"strings"
)

// tokenType is an issuer's required JOSE typ (RFC 7515 §4.1.9), resolved once so that the hot
// path compares without allocating. The zero value requires nothing.
type tokenType struct {
	full  string // the media type with its "application/" prefix, such as application/at+jwt
	short string // full without "application/", when a token may omit it; "" otherwise
}

// newTokenType resolves a configured typ such as at+jwt or application/at+jwt. An empty value
// requires nothing; a value that is not a media type (type/subtype or a bare subtype) is an error.
func newTokenType(typ string) (tokenType, error) {
	if typ == "" {
		return tokenType{}, nil
	}
	if strings.ContainsFunc(typ, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '"' || r == ',' || r == ';' }) {
		return tokenType{}, fmt.Errorf("typ: %q is not a media type (no spaces, quotes, commas or parameters)", typ)
	}
	full := typ
	switch n := strings.Count(typ, "/"); {
	case n == 0:
		full = "application/" + typ
	case n > 1 || strings.HasPrefix(typ, "/") || strings.HasSuffix(typ, "/"):
		return tokenType{}, fmt.Errorf("typ: %q is not a media type (type/subtype)", typ)
	}
	tt := tokenType{full: full}
	if rest, ok := cutPrefixFold(full, "application/"); ok {
		tt.short = rest
	}
	return tt, nil
}

// matches reports whether a token's typ (got, "" when absent or not a string) is the required
// one. RFC 7515 §4.1.9: a typ without '/' means "application/" + typ, and media types compare
// case-insensitively (RFC 2045 §5.1). RFC 9068 §4: a resource server MUST check that an access
// token's typ is at+jwt or application/at+jwt and reject any other value, a missing typ included.
func (tt tokenType) matches(got string) bool {
	if tt.full == "" {
		return true
	}
	return strings.EqualFold(got, tt.full) || (tt.short != "" && strings.EqualFold(got, tt.short))
}

// cutPrefixFold is strings.CutPrefix, case-insensitively.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}
