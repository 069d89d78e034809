package binding

import (
	"strconv"
	"strings"
)

// hostMatches compares a signed host with the Host the request was sent with: host names
// case-insensitively (RFC 9110 §4.2.3), ports numerically, and an omitted port on either side
// stands for the scheme's default port (RFC 9110 §7.2), so "api.example:443" matches
// "api.example" over https.
func hostMatches(signed, sent, scheme string) bool {
	sn, sp, ok := splitHost(signed)
	if !ok || sn == "" {
		return false
	}
	rn, rp, ok := splitHost(sent)
	if !ok {
		return false
	}
	def := 80
	if strings.EqualFold(scheme, "https") {
		def = 443
	}
	if sp == 0 {
		sp = def
	}
	if rp == 0 {
		rp = def
	}
	return sp == rp && strings.EqualFold(sn, rn)
}

// splitHost splits host[:port] or [ipv6][:port]; port 0 means absent. A malformed port or an
// unbracketed IPv6 address is not a host.
func splitHost(h string) (name string, port int, ok bool) {
	var rest string
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", 0, false
		}
		name, rest = h[1:end], h[end+1:]
	} else {
		i := strings.IndexByte(h, ':')
		if i < 0 {
			return h, 0, true
		}
		name, rest = h[:i], h[i:]
	}
	if rest == "" {
		return name, 0, true
	}
	if rest[0] != ':' || len(rest) < 2 || len(rest) > 6 {
		return "", 0, false
	}
	for _, c := range rest[1:] {
		if c < '0' || c > '9' {
			return "", 0, false
		}
	}
	p, err := strconv.Atoi(rest[1:])
	if err != nil || p < 1 || p > 65535 {
		return "", 0, false
	}
	return name, p, true
}

// pathMatches compares the signed path with the raw path as sent. PathEscaped compares the bytes
// exactly. PathDecoded splits both at '/' and compares each signed segment with the percent-decoded
// raw segment (RFC 3986 §2.1, no '+' rule in paths), so "/a%2Fb" (one segment) never matches
// "/a/b" (two) and an invalid escape matches nothing.
func pathMatches(form PathForm, signed, raw string) bool {
	if form == PathEscaped {
		return signed == raw
	}
	return segmentsMatch(signed, raw, '/', func(s, r string) bool { return unescapedEquals(r, s, false) })
}

// queryMatches compares the signed query with the raw query as sent. PathEscaped compares the
// bytes exactly. PathDecoded splits both at '&' into name=value pairs, in order, and compares each
// signed name and value with the decoded raw one (application/x-www-form-urlencoded: '+' is a
// space), so an escaped '&' or '=' never stands for a separator.
func queryMatches(form PathForm, signed, raw string) bool {
	if form == PathEscaped {
		return signed == raw
	}
	return segmentsMatch(signed, raw, '&', func(s, r string) bool {
		sn, sv, sEq := strings.Cut(s, "=")
		rn, rv, rEq := strings.Cut(r, "=")
		return sEq == rEq && unescapedEquals(rn, sn, true) && unescapedEquals(rv, sv, true)
	})
}

// segmentsMatch splits signed and raw at sep and reports whether they have as many segments and
// eq holds for each pair.
func segmentsMatch(signed, raw string, sep byte, eq func(signed, raw string) bool) bool {
	for {
		si := strings.IndexByte(signed, sep)
		ri := strings.IndexByte(raw, sep)
		if (si < 0) != (ri < 0) {
			return false
		}
		if si < 0 {
			return eq(signed, raw)
		}
		if !eq(signed[:si], raw[:ri]) {
			return false
		}
		signed, raw = signed[si+1:], raw[ri+1:]
	}
}

// unescapedEquals reports whether percent-decoding raw gives exactly want, without allocating.
// plusSpace decodes '+' as a space (query components). An invalid escape never matches.
func unescapedEquals(raw, want string, plusSpace bool) bool {
	j := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '%':
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return false
			}
			c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
		case c == '+' && plusSpace:
			c = ' '
		}
		if j >= len(want) || want[j] != c {
			return false
		}
		j++
	}
	return j == len(want)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
