// Package strictjson parses JOSE headers and JWT claim sets strictly.
//
// Unlike encoding/json, which silently keeps the last of several members
// with the same name, Parse rejects duplicate member names at any depth, as
// RFC 7515 §4 and RFC 7519 §4 require. It also rejects everything else that
// is not strictly valid JSON text (RFC 8259) or that is not valid Unicode:
// invalid UTF-8, lone surrogate escapes, unescaped control characters,
// trailing commas, comments, NaN/Infinity, leading zeros and trailing data.
//
// The parser is a hand-written recursive-descent parser over the input
// bytes. It never panics, and its recursion and work are bounded by Limits.
// Error values never contain any part of the input, so they are safe to log
// even when the input is a secret token.
package strictjson

import (
	"encoding/json"
	"strconv"
	"sync"
	"unicode/utf8"
	"unsafe"
)

const (
	defaultMaxDepth   = 16
	defaultMaxMembers = 256
	// hardMaxDepth bounds recursion whatever the caller asks for, so that
	// a huge MaxDepth cannot make deeply nested input exhaust the stack.
	hardMaxDepth = 10000
	// smallObject is the number of members up to which duplicate names
	// are detected by a linear scan instead of a map lookup.
	smallObject = 32
)

// Limits bounds what Parse accepts. A zero or negative field takes its
// default: MaxDepth 16, MaxMembers 256. MaxDepth values above 10000 are
// treated as 10000.
type Limits struct {
	// MaxDepth is the maximum nesting of objects and arrays; the
	// top-level object is depth 1, so MaxDepth 1 accepts only objects
	// whose values are all scalars.
	MaxDepth int
	// MaxMembers is the maximum number of object members plus array
	// elements in the whole document, counted over all depths.
	MaxMembers int
}

// Kind classifies why Parse rejected its input.
type Kind uint8

// The kinds of rejection reported in Error.Kind.
const (
	// KindSyntax means the input is not a single, strictly valid JSON
	// object: for example a trailing comma, a comment, NaN, a leading zero,
	// an unescaped control character in a string, an invalid escape,
	// trailing data or a top-level value that is not an object.
	KindSyntax Kind = iota + 1
	// KindDuplicate means an object has two members whose names are
	// equal after unescaping.
	KindDuplicate
	// KindDepth means objects and arrays are nested deeper than
	// Limits.MaxDepth.
	KindDepth
	// KindTooMany means the document has more object members plus array
	// elements than Limits.MaxMembers.
	KindTooMany
	// KindUTF8 means a string holds invalid UTF-8, or a \u escape that is a
	// lone or wrongly paired UTF-16 surrogate.
	KindUTF8
)

// String returns a short lowercase name for k, such as "duplicate".
func (k Kind) String() string {
	switch k {
	case KindSyntax:
		return "syntax"
	case KindDuplicate:
		return "duplicate"
	case KindDepth:
		return "depth"
	case KindTooMany:
		return "too many"
	case KindUTF8:
		return "utf8"
	}
	return "unknown"
}

// Error is the type of every error Parse returns. Kind classifies the
// rejection, Offset is the byte offset in the input where the problem was
// found (len(input) for unexpected end of input), and Reason is a fixed
// lowercase description that never contains any part of the input.
type Error struct {
	// Kind classifies the rejection.
	Kind Kind

	// Offset is the byte offset in the input where the problem was found; len(input) for an
	// unexpected end of input.
	Offset int

	// Reason is a fixed lowercase description that never contains any part of the input.
	Reason string
}

// Error returns a message of the form
// "strictjson: duplicate member name at offset 12". It never includes any
// part of the input.
func (e *Error) Error() string {
	return "strictjson: " + e.Reason + " at offset " + strconv.Itoa(e.Offset)
}

// Parse decodes b, which must be a single JSON object with nothing but JSON
// whitespace (space, tab, LF, CR) before or after it, into a map.
//
// Values are map[string]any for objects, []any for arrays (empty arrays are
// non-nil), string, json.Number for numbers (holding the number's text
// exactly as written, validated against the JSON number grammar), bool and
// nil. For input it accepts, the result is identical to what encoding/json
// produces when decoding into an any with UseNumber.
//
// Parse rejects, with a *Error, duplicate member names at any depth
// (compared after unescaping, so "a" and "\u0061" are duplicates), invalid
// UTF-8 in strings, lone or wrongly paired surrogate escapes (which are
// rejected, never replaced by U+FFFD), control characters below 0x20
// unescaped inside strings, trailing commas, comments, NaN and Infinity,
// numbers with leading zeros or otherwise outside the JSON grammar, any
// bytes after the object, nesting deeper than lim.MaxDepth, more than
// lim.MaxMembers members and elements in total, and a top-level value that
// is not an object. When the input has several problems, the one found
// first in input order is reported. Parse does not bound len(b); callers
// should limit the input size before calling it. Parse never panics and
// is safe for concurrent use.
func Parse(b []byte, lim Limits) (map[string]any, error) {
	return parse(b, lim, false, nil)
}

// ParseOwned is Parse for a buffer the caller hands over for good: b must never be modified
// afterwards. Strings and numbers in the result then share b's memory instead of copying it
// (a string that needs unescaping is still copied), which saves an allocation per value.
// shared, when not nil, maps string values to interface values made once in advance (such as
// the configured issuers and audiences, which most tokens carry), used instead of boxing the
// string anew; shared is only read.
func ParseOwned(b []byte, lim Limits, shared map[string]any) (map[string]any, error) {
	return parse(b, lim, true, shared)
}

func parse(b []byte, lim Limits, owned bool, shared map[string]any) (map[string]any, error) {
	p := parsers.Get().(*parser)
	p.owned, p.shared = owned, shared
	m, err := p.parse(b, lim)
	p.reset()
	parsers.Put(p)
	return m, err
}

// parsers holds parsers with their scratch stacks, so that steady-state
// parsing allocates only the result.
var parsers = sync.Pool{New: func() any {
	return &parser{
		members: make([]member, 0, 32),
		elems:   make([]any, 0, 16),
		buf:     make([]byte, 0, 128),
	}
}}

// maxPooledScratch bounds the scratch capacity a pooled parser keeps.
const maxPooledScratch = 1024

func (p *parser) parse(b []byte, lim Limits) (map[string]any, error) {
	p.b, p.i, p.count = b, 0, 0
	p.maxDepth, p.maxMembers = lim.MaxDepth, lim.MaxMembers
	if p.maxDepth <= 0 {
		p.maxDepth = defaultMaxDepth
	} else if p.maxDepth > hardMaxDepth {
		p.maxDepth = hardMaxDepth
	}
	if p.maxMembers <= 0 {
		p.maxMembers = defaultMaxMembers
	}

	p.skipSpace()
	if p.i >= len(b) {
		return nil, p.eof()
	}
	if b[p.i] != '{' {
		return nil, p.fail(KindSyntax, p.i, "top-level value is not an object")
	}
	m, err := p.object(1)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(b) {
		return nil, p.fail(KindSyntax, p.i, "trailing data after object")
	}
	return m, nil
}

// reset drops every reference to the input and to parsed values (which
// remain on the scratch stacks after an error) before p is pooled.
func (p *parser) reset() {
	p.b, p.owned, p.shared = nil, false, nil
	clear(p.members)
	clear(p.elems)
	clear(p.buf[:cap(p.buf)])
	p.members, p.elems, p.buf = p.members[:0], p.elems[:0], p.buf[:0]
	if cap(p.members) > maxPooledScratch {
		p.members = make([]member, 0, 32)
	}
	if cap(p.elems) > maxPooledScratch {
		p.elems = make([]any, 0, 16)
	}
	if cap(p.buf) > maxPooledScratch {
		p.buf = make([]byte, 0, 128)
	}
}

type member struct {
	key string
	val any
}

type parser struct {
	b          []byte
	i          int
	maxDepth   int
	maxMembers int
	count      int

	// members and elems are stacks of the members and elements of the
	// objects and arrays being parsed, so that each finished container
	// can be allocated at its exact size. buf holds a string being
	// unescaped.
	members []member
	elems   []any
	buf     []byte

	owned  bool           // b is the caller's for good: values may share its memory (ParseOwned)
	shared map[string]any // ready-made values for common strings (ParseOwned)
}

// text returns b[start:end] as a string: a view of b when the caller handed it over, else a copy.
func (p *parser) text(start, end int) string {
	if start == end {
		return ""
	}
	if p.owned {
		// b is never modified after ParseOwned (its contract), as unsafe.String requires.
		return unsafe.String(&p.b[start], end-start)
	}
	return string(p.b[start:end])
}

func (p *parser) fail(k Kind, off int, reason string) error {
	return &Error{Kind: k, Offset: off, Reason: reason}
}

func (p *parser) eof() error {
	return p.fail(KindSyntax, len(p.b), "unexpected end of input")
}

func (p *parser) skipSpace() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// countOne accounts for one member or element starting at off.
func (p *parser) countOne(off int) error {
	p.count++
	if p.count > p.maxMembers {
		return p.fail(KindTooMany, off, "too many members")
	}
	return nil
}

// object parses an object at depth; p.i is at its '{'.
func (p *parser) object(depth int) (map[string]any, error) {
	if depth > p.maxDepth {
		return nil, p.fail(KindDepth, p.i, "nesting too deep")
	}
	b := p.b
	p.i++
	p.skipSpace()
	if p.i < len(b) && b[p.i] == '}' {
		p.i++
		return map[string]any{}, nil
	}
	start := len(p.members)
	// big is nil while the object is small; its members are then kept on
	// p.members and duplicates are found by a linear scan.
	var big map[string]any
	for {
		if p.i >= len(b) {
			return nil, p.eof()
		}
		if b[p.i] != '"' {
			return nil, p.fail(KindSyntax, p.i, "expected member name")
		}
		keyOff := p.i
		if err := p.countOne(keyOff); err != nil {
			return nil, err
		}
		key, err := p.str(true)
		if err != nil {
			return nil, err
		}
		if big == nil {
			for _, m := range p.members[start:] {
				if m.key == key {
					return nil, p.fail(KindDuplicate, keyOff, "duplicate member name")
				}
			}
		} else if _, dup := big[key]; dup {
			return nil, p.fail(KindDuplicate, keyOff, "duplicate member name")
		}
		p.skipSpace()
		if p.i >= len(b) {
			return nil, p.eof()
		}
		if b[p.i] != ':' {
			return nil, p.fail(KindSyntax, p.i, "expected colon")
		}
		p.i++
		p.skipSpace()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		if big == nil {
			p.members = append(p.members, member{key, v})
			if n := len(p.members) - start; n > smallObject {
				big = make(map[string]any, 2*n)
				p.flush(big, start)
			}
		} else {
			big[key] = v
		}
		p.skipSpace()
		if p.i >= len(b) {
			return nil, p.eof()
		}
		switch b[p.i] {
		case ',':
			p.i++
			p.skipSpace()
			if p.i < len(b) && b[p.i] == '}' {
				return nil, p.fail(KindSyntax, p.i, "trailing comma")
			}
		case '}':
			p.i++
			if big == nil {
				big = make(map[string]any, len(p.members)-start)
				p.flush(big, start)
			}
			return big, nil
		default:
			return nil, p.fail(KindSyntax, p.i, "expected comma or closing brace")
		}
	}
}

// flush moves p.members[start:] into m.
func (p *parser) flush(m map[string]any, start int) {
	for _, mb := range p.members[start:] {
		m[mb.key] = mb.val
	}
	clear(p.members[start:])
	p.members = p.members[:start]
}

// array parses an array at depth; p.i is at its '['.
func (p *parser) array(depth int) ([]any, error) {
	if depth > p.maxDepth {
		return nil, p.fail(KindDepth, p.i, "nesting too deep")
	}
	b := p.b
	p.i++
	p.skipSpace()
	if p.i < len(b) && b[p.i] == ']' {
		p.i++
		return []any{}, nil
	}
	start := len(p.elems)
	for {
		if err := p.countOne(p.i); err != nil {
			return nil, err
		}
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		p.elems = append(p.elems, v)
		p.skipSpace()
		if p.i >= len(b) {
			return nil, p.eof()
		}
		switch b[p.i] {
		case ',':
			p.i++
			p.skipSpace()
			if p.i < len(b) && b[p.i] == ']' {
				return nil, p.fail(KindSyntax, p.i, "trailing comma")
			}
		case ']':
			p.i++
			out := make([]any, len(p.elems)-start)
			copy(out, p.elems[start:])
			clear(p.elems[start:])
			p.elems = p.elems[:start]
			return out, nil
		default:
			return nil, p.fail(KindSyntax, p.i, "expected comma or closing bracket")
		}
	}
}

// value parses a value inside a container at depth; p.i is at its first
// byte, after any whitespace.
func (p *parser) value(depth int) (any, error) {
	if p.i >= len(p.b) {
		return nil, p.eof()
	}
	switch c := p.b[p.i]; {
	case c == '"':
		s, err := p.str(false)
		if err != nil {
			return nil, err
		}
		if v, ok := p.shared[s]; ok {
			return v, nil
		}
		return s, nil
	case c == '{':
		m, err := p.object(depth + 1)
		if err != nil {
			return nil, err
		}
		return m, nil
	case c == '[':
		a, err := p.array(depth + 1)
		if err != nil {
			return nil, err
		}
		return a, nil
	case c == '-' || ('0' <= c && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, p.fail(KindSyntax, p.i, "invalid character")
}

func (p *parser) literal(lit string) error {
	b := p.b
	for j := 0; j < len(lit); j++ {
		if p.i+j >= len(b) {
			return p.eof()
		}
		if b[p.i+j] != lit[j] {
			return p.fail(KindSyntax, p.i+j, "invalid literal")
		}
	}
	p.i += len(lit)
	return nil
}

// number parses a number; p.i is at '-' or a digit. What follows the
// number is checked by the caller.
func (p *parser) number() (any, error) {
	b := p.b
	start := p.i
	i := p.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return nil, p.eof()
	case b[i] == '0':
		i++
		if i < len(b) && isDigit(b[i]) {
			return nil, p.fail(KindSyntax, i, "leading zero in number")
		}
	case isDigit(b[i]):
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return nil, p.fail(KindSyntax, i, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) {
			return nil, p.eof()
		}
		if !isDigit(b[i]) {
			return nil, p.fail(KindSyntax, i, "invalid number")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) {
			return nil, p.eof()
		}
		if !isDigit(b[i]) {
			return nil, p.fail(KindSyntax, i, "invalid number")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	p.i = i
	return json.Number(p.text(start, i)), nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// str parses a string; p.i is at its opening quote. If key is set, the
// names of registered JOSE header parameters and JWT claims are returned
// without allocating.
func (p *parser) str(key bool) (string, error) {
	b := p.b
	start := p.i + 1
	for i := start; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			p.i = i + 1
			if key {
				if s, ok := interned(b[start:i]); ok {
					return s, nil
				}
			}
			return p.text(start, i), nil
		case c == '\\':
			return p.strEscaped(start, i)
		case c < 0x20:
			return "", p.fail(KindSyntax, i, "control character in string")
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return "", p.fail(KindUTF8, i, "invalid utf-8 in string")
			}
			i += size
		}
	}
	return "", p.eof()
}

// strEscaped finishes parsing a string that starts at start and has its
// first backslash at i.
func (p *parser) strEscaped(start, i int) (string, error) {
	b := p.b
	buf := append(p.buf[:0], b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			p.i = i + 1
			p.buf = buf
			return string(buf), nil
		case c == '\\':
			if i+1 >= len(b) {
				return "", p.eof()
			}
			esc := i
			switch b[i+1] {
			case '"', '\\', '/':
				buf = append(buf, b[i+1])
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(b, i+2)
				if !ok {
					return "", p.fail(KindSyntax, esc, "invalid unicode escape")
				}
				i += 6
				switch {
				case 0xD800 <= r && r < 0xDC00:
					if i+1 >= len(b) || b[i] != '\\' || b[i+1] != 'u' {
						return "", p.fail(KindUTF8, esc, "invalid surrogate escape")
					}
					r2, ok := hex4(b, i+2)
					if !ok {
						return "", p.fail(KindSyntax, i, "invalid unicode escape")
					}
					if r2 < 0xDC00 || r2 > 0xDFFF {
						return "", p.fail(KindUTF8, esc, "invalid surrogate escape")
					}
					r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
					i += 6
				case 0xDC00 <= r && r <= 0xDFFF:
					return "", p.fail(KindUTF8, esc, "invalid surrogate escape")
				}
				buf = utf8.AppendRune(buf, r)
				continue
			default:
				return "", p.fail(KindSyntax, esc, "invalid escape")
			}
			i += 2
		case c < 0x20:
			return "", p.fail(KindSyntax, i, "control character in string")
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return "", p.fail(KindUTF8, i, "invalid utf-8 in string")
			}
			buf = append(buf, b[i:i+size]...)
			i += size
		}
	}
	return "", p.eof()
}

// hex4 decodes the four hex digits at b[i:i+4].
func hex4(b []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// interned returns b as a constant string, without allocating, when b is the name of a common
// JOSE header parameter (RFC 7515 §4.1) or registered or common JWT claim (RFC 7519 §4.1).
func interned(b []byte) (string, bool) {
	s := internedName(b)
	return s, s != ""
}

func internedName(b []byte) string {
	switch string(b) {
	case "alg":
		return "alg"
	case "kid":
		return "kid"
	case "typ":
		return "typ"
	case "cty":
		return "cty"
	case "crit":
		return "crit"
	case "jku":
		return "jku"
	case "jwk":
		return "jwk"
	case "x5u":
		return "x5u"
	case "x5c":
		return "x5c"
	case "x5t":
		return "x5t"
	case "x5t#S256":
		return "x5t#S256"
	case "b64":
		return "b64"
	case "iss":
		return "iss"
	case "sub":
		return "sub"
	case "aud":
		return "aud"
	case "exp":
		return "exp"
	case "nbf":
		return "nbf"
	case "iat":
		return "iat"
	case "jti":
		return "jti"
	case "azp":
		return "azp"
	case "scope":
		return "scope"
	case "client_id":
		return "client_id"
	case "nonce":
		return "nonce"
	case "auth_time":
		return "auth_time"
	case "acr":
		return "acr"
	case "amr":
		return "amr"
	case "sid":
		return "sid"
	case "cnf":
		return "cnf"
	case "email":
		return "email"
	case "email_verified":
		return "email_verified"
	case "name":
		return "name"
	case "roles":
		return "roles"
	case "groups":
		return "groups"
	}
	return ""
}
