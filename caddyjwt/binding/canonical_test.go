package binding

import (
	"net/url"
	"strings"
	"testing"
)

func TestHostMatches(t *testing.T) {
	for _, tc := range []struct {
		signed, sent, scheme string
		want                 bool
	}{
		{"api.example", "api.example", "https", true},
		{"API.Example", "api.example", "https", true},
		{"api.example:443", "api.example", "https", true},
		{"api.example", "api.example:443", "https", true},
		{"api.example:80", "api.example", "http", true},
		{"api.example:80", "api.example", "https", false},
		{"api.example:8443", "api.example:8443", "https", true},
		{"api.example:8443", "api.example", "https", false},
		{"api.example:0443", "api.example", "https", true},
		{"[::1]:443", "[::1]", "https", true},
		{"[::1]", "[::1]:8080", "https", false},
		{"::1", "::1", "https", false},
		{"", "", "https", false},
		{"api.example:", "api.example", "https", false},
		{"api.example:x", "api.example", "https", false},
		{"api.example:70000", "api.example", "https", false},
		{"https://api.example", "api.example", "https", false},
	} {
		if got := hostMatches(tc.signed, tc.sent, tc.scheme); got != tc.want {
			t.Errorf("hostMatches(%q, %q, %s) = %v, want %v", tc.signed, tc.sent, tc.scheme, got, tc.want)
		}
	}
}

func TestPathAndQueryMatches(t *testing.T) {
	for _, tc := range []struct {
		name        string
		query       bool
		form        PathForm
		signed, raw string
		want        bool
	}{
		{"decoded path equals plain path", false, PathDecoded, "/a/b", "/a/b", true},
		{"decoded path matches escaped reserved char", false, PathDecoded, "/transaction/O;5823", "/transaction/O%3B5823", true},
		{"decoded path matches lower-case escapes", false, PathDecoded, "/a b", "/a%20b", true},
		{"escaped slash is not a separator", false, PathDecoded, "/a/b", "/a%2Fb", false},
		{"plus is literal in a path", false, PathDecoded, "/a b", "/a+b", false},
		{"invalid escape matches nothing", false, PathDecoded, "/a%zz", "/a%zz", false},
		{"truncated escape matches nothing", false, PathDecoded, "/a%2", "/a%2", false},
		{"extra segment refused", false, PathDecoded, "/a/b", "/a/b/", false},
		{"escaped form is exact", false, PathEscaped, "/transaction/O%3B5823", "/transaction/O%3B5823", true},
		{"escaped form refuses other case of escape", false, PathEscaped, "/a%3b", "/a%3B", false},
		{"decoded query pairs", true, PathDecoded, "type=access&q=a b", "type=access&q=a+b", true},
		{"decoded query escapes", true, PathDecoded, "q=a&b", "q=a%26b", false},
		{"decoded query order matters", true, PathDecoded, "a=1&b=2", "b=2&a=1", false},
		{"decoded query name without value", true, PathDecoded, "flag", "flag", true},
		{"decoded query empty value is not absent", true, PathDecoded, "flag", "flag=", false},
		{"escaped query exact", true, PathEscaped, "q=a+b", "q=a+b", true},
		{"escaped query refuses decoded", true, PathEscaped, "q=a b", "q=a+b", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			match := pathMatches
			if tc.query {
				match = queryMatches
			}
			if got := match(tc.form, tc.signed, tc.raw); got != tc.want {
				t.Errorf("match(%q, %q) = %v, want %v", tc.signed, tc.raw, got, tc.want)
			}
		})
	}
}

// refPath is the reference meaning of PathDecoded, built on net/url: the raw path decoded
// segment by segment.
func refPath(signed, raw string) bool {
	ss, rs := strings.Split(signed, "/"), strings.Split(raw, "/")
	if len(ss) != len(rs) {
		return false
	}
	for i := range rs {
		d, err := url.PathUnescape(rs[i])
		if err != nil || d != ss[i] {
			return false
		}
	}
	return true
}

// refQuery is the reference meaning of the decoded query comparison, built on net/url.
func refQuery(signed, raw string) bool {
	ss, rs := strings.Split(signed, "&"), strings.Split(raw, "&")
	if len(ss) != len(rs) {
		return false
	}
	for i := range rs {
		sn, sv, sEq := strings.Cut(ss[i], "=")
		rn, rv, rEq := strings.Cut(rs[i], "=")
		dn, err1 := url.QueryUnescape(rn)
		dv, err2 := url.QueryUnescape(rv)
		if sEq != rEq || err1 != nil || err2 != nil || dn != sn || dv != sv {
			return false
		}
	}
	return true
}

func FuzzPathCanonicalisation(f *testing.F) {
	for _, s := range []string{"", "/", "/a/b", "/transaction/O%3B5823", "/a%2Fb", "/%zz", "/%", "/a+b", "//x//", "/%E2%82%AC"} {
		f.Add(s, s)
		if d, err := url.PathUnescape(s); err == nil {
			f.Add(d, s)
		}
	}
	f.Fuzz(func(t *testing.T, signed, raw string) {
		if got, want := pathMatches(PathDecoded, signed, raw), refPath(signed, raw); got != want {
			t.Fatalf("pathMatches(decoded, %q, %q) = %v, reference says %v", signed, raw, got, want)
		}
		if got := pathMatches(PathEscaped, signed, raw); got != (signed == raw) {
			t.Fatalf("pathMatches(escaped, %q, %q) = %v", signed, raw, got)
		}
		// Round trip: a path built from segments and escaped by net/url matches its segments.
		u := url.URL{Path: raw}
		if !strings.Contains(raw, "%") && !pathMatches(PathDecoded, raw, u.EscapedPath()) {
			t.Fatalf("the escaping of %q (%q) does not match it", raw, u.EscapedPath())
		}
	})
}

func FuzzQueryCanonicalisation(f *testing.F) {
	for _, s := range []string{"", "a=1", "a=1&b=2", "q=a+b", "q=a%26b", "flag", "=", "&&", "%zz=1", "a=%"} {
		f.Add(s, s)
		if d, err := url.QueryUnescape(s); err == nil {
			f.Add(d, s)
		}
	}
	f.Fuzz(func(t *testing.T, signed, raw string) {
		if got, want := queryMatches(PathDecoded, signed, raw), refQuery(signed, raw); got != want {
			t.Fatalf("queryMatches(decoded, %q, %q) = %v, reference says %v", signed, raw, got, want)
		}
		// Round trip: a value escaped by net/url matches itself decoded.
		if !strings.ContainsAny(signed, "&=") && !queryMatches(PathDecoded, "v="+signed, "v="+url.QueryEscape(signed)) {
			t.Fatalf("v=%q does not match its escaping", signed)
		}
	})
}

func FuzzHostMatches(f *testing.F) {
	for _, s := range []string{"api.example", "api.example:443", "[::1]:8080", "::1", "a:", "A.B:80"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, scheme := range []string{"http", "https"} {
			if hostMatches(a, b, scheme) != hostMatches(b, a, scheme) {
				t.Fatalf("hostMatches(%q, %q, %s) is not symmetric", a, b, scheme)
			}
		}
		if _, _, ok := splitHost(a); ok && a != "" && !strings.HasPrefix(a, "[]") && !strings.HasPrefix(a, ":") && !hostMatches(a, strings.ToUpper(a), "https") {
			t.Fatalf("hostMatches(%q, upper case) = false", a)
		}
	})
}
