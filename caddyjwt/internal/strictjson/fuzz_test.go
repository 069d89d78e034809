package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
	"unicode/utf8"
)

// sharedValues are ready-made values offered to ParseOwned in the tests.
var sharedValues = map[string]any{"x": "x", "https://auth.example.com/": "https://auth.example.com/", "gateway": "gateway"}

// fuzzSeeds are FuzzParse's seeds: valid, empty, garbage and tricky inputs.
var fuzzSeeds = []string{
	// Valid.
	claimsJSON,
	headerJSON,
	`{}`,
	` {"a" : [ 1 , -0.5e+3 , "x" , true , false , null , { } , [ ] ] } `,
	`{"s":"\"\\\/\b\f\n\r\t\u0000\u00e9\ud83d\ude00"}`,
	`{"a":{"b":{"c":{"d":[[[[1]]]]}}}}`,
	`{"n":1.0e3,"m":-0,"o":1E+5,"p":0.5}`,
	"{\"s\":\"Zo\xc3\xab \xf0\x9f\x98\x80 \xef\xbf\xbd\"}",
	// Empty and garbage.
	``,
	` `,
	`[]`,
	`null`,
	`"a"`,
	`{`,
	`}`,
	`{"a"`,
	"\x00\xff\xfe",
	"\xef\xbb\xbf{}",
	// Tricky.
	`{"a":1,"a":2}`,
	`{"a":1,"\u0061":2}`,
	`{"x":[{"k":1,"k":2}]}`,
	`{"a":1,}`,
	`{"a":[1,]}`,
	`{"a":01}`,
	`{"a":1.}`,
	`{"a":.5}`,
	`{"a":-}`,
	`{"a":1e}`,
	`{"a":NaN}`,
	`{"a":Infinity}`,
	`{/*c*/}`,
	`{"a":"\ud800"}`,
	`{"a":"\udc00\ud800"}`,
	`{"a":"\ud800\u0041"}`,
	"{\"a\":\"\xed\xa0\x80\"}",
	"{\"a\":\"\xff\"}",
	"{\"a\":\"\x01\"}",
	`{"\ud800":1,"\udbff":2}`,
	`{} {}`,
	`{"a":tru}`,
	`{"a":[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]}`,
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		for _, lim := range []Limits{{}, {MaxDepth: 3, MaxMembers: 8}} {
			got, err := Parse(b, lim)
			if !bytes.Equal(b, orig) {
				t.Fatal("Parse modified its input")
			}
			checkAgainstEncodingJSON(t, b, lim, got, err)
			// ParseOwned gives Parse's answer, whatever shared values it is offered.
			owned, errOwned := ParseOwned(bytes.Clone(b), lim, sharedValues)
			if (err == nil) != (errOwned == nil) || (err == nil && !reflect.DeepEqual(got, owned)) {
				t.Fatalf("Parse = %#v, %v; ParseOwned = %#v, %v", got, err, owned, errOwned)
			}
			// jsontext (encoding/json/v2's tokenizer) is the second oracle: same verdict, same value.
			want, errText := parseJSONText(b, lim)
			if (err == nil) != (errText == nil) {
				t.Fatalf("Parse error %v, jsontext error %v", err, errText)
			}
			if err == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("Parse %#v, jsontext %#v", got, want)
			}
		}
	})
}

// checkAgainstEncodingJSON checks Parse's result for b against encoding/json.
func checkAgainstEncodingJSON(t *testing.T, b []byte, lim Limits, got map[string]any, err error) {
	t.Helper()
	stdOK := json.Valid(b)
	var std any
	if stdOK {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if derr := dec.Decode(&std); derr != nil {
			t.Fatalf("json.Valid accepted %q but Decode failed: %v", b, derr)
		}
	}

	if err == nil {
		// (2) Whatever Parse accepts, encoding/json accepts with the same result.
		if got == nil {
			t.Fatalf("Parse(%q) returned nil map and nil error", b)
		}
		if !stdOK {
			t.Fatalf("Parse accepted %q, encoding/json rejects it", b)
		}
		if !reflect.DeepEqual(any(got), std) {
			t.Fatalf("Parse(%q) = %#v, encoding/json gives %#v", b, got, std)
		}
		return
	}

	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Parse(%q) error %v is %T, not *Error", b, err, err)
	}
	if got != nil {
		t.Fatalf("Parse(%q) returned a map with error %v", b, err)
	}
	if e.Kind < KindSyntax || e.Kind > KindUTF8 || e.Offset < 0 || e.Offset > len(b) {
		t.Fatalf("Parse(%q) error has bad Kind or Offset: %#v", b, e)
	}

	// (3) Whatever encoding/json accepts as a top-level object without
	// duplicates, invalid Unicode or limit violations, Parse accepts too.
	if !stdOK || !utf8.Valid(b) || hasBadSurrogateEscape(b) {
		return
	}
	if _, isObj := std.(map[string]any); !isObj {
		if e.Kind != KindSyntax {
			t.Fatalf("Parse(%q) of a non-object gives %v, want syntax", b, err)
		}
		return
	}
	dup, depth, count, serr := structure(b)
	if serr != nil {
		t.Fatalf("structure(%q): %v", b, serr)
	}
	maxDepth, maxMembers := lim.MaxDepth, lim.MaxMembers
	if maxDepth <= 0 {
		maxDepth = defaultMaxDepth
	}
	if maxMembers <= 0 {
		maxMembers = defaultMaxMembers
	}
	if !dup && depth <= maxDepth && count <= maxMembers {
		t.Fatalf("Parse(%q) rejected input encoding/json accepts: %v", b, err)
	}
	if e.Kind == KindSyntax || e.Kind == KindUTF8 {
		t.Fatalf("Parse(%q) gives %v, but the input is valid JSON and UTF-8", b, err)
	}
}

// structure walks valid JSON text b with json.Decoder.Token and reports
// whether any object has two members with the same (unescaped) name, the
// maximum nesting depth of objects and arrays, and the number of object
// members plus array elements.
func structure(b []byte) (dup bool, depth, count int, err error) {
	type frame struct {
		obj     bool
		wantKey bool
		keys    map[string]bool
	}
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].obj {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return dup, depth, count, nil
		}
		if err != nil {
			return false, 0, 0, err
		}
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
			top := stack[n-1]
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			k, ok := tok.(string)
			if !ok {
				return false, 0, 0, errors.New("object member name is not a string")
			}
			if top.keys[k] {
				dup = true
			}
			top.keys[k] = true
			top.wantKey = false
			count++
			continue
		}
		if n := len(stack); n > 0 && !stack[n-1].obj && tok != json.Delim(']') {
			count++ // array element
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, wantKey: true, keys: map[string]bool{}})
			depth = max(depth, len(stack))
		case json.Delim('['):
			stack = append(stack, &frame{})
			depth = max(depth, len(stack))
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// hasBadSurrogateEscape reports whether valid JSON text b has a \u escape
// that is a lone or wrongly paired UTF-16 surrogate, which encoding/json
// silently replaces with U+FFFD.
func hasBadSurrogateEscape(b []byte) bool {
	isHex4 := func(i int) (rune, bool) { return hex4(b, i) }
	inString := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case !inString:
			inString = c == '"'
		case c == '"':
			inString = false
		case c == '\\' && i+1 < len(b) && b[i+1] == 'u':
			r, ok := isHex4(i + 2)
			if !ok {
				return false // not valid JSON; not expected here
			}
			switch {
			case 0xDC00 <= r && r <= 0xDFFF:
				return true
			case 0xD800 <= r && r < 0xDC00:
				r2, ok := isHex4(i + 8)
				if i+7 >= len(b) || b[i+6] != '\\' || b[i+7] != 'u' || !ok || r2 < 0xDC00 || r2 > 0xDFFF {
					return true
				}
				i += 11
			default:
				i += 5
			}
		case c == '\\':
			i++ // skip the escaped character
		}
	}
	return false
}

func TestOracleHelpers(t *testing.T) {
	tests := []struct {
		in           string
		dup          bool
		depth, count int
	}{
		{`{}`, false, 1, 0},
		{`{"a":[1,[2,{}]],"b":{"c":null}}`, false, 4, 7},
		{`{"a":1,"\u0061":2}`, true, 1, 2},
		{`{"a":{"a":1},"b":{"a":1}}`, false, 2, 4},
		{`{"a":[{"k":1,"k":2}]}`, true, 3, 4},
	}
	for _, tt := range tests {
		dup, depth, count, err := structure([]byte(tt.in))
		if err != nil || dup != tt.dup || depth != tt.depth || count != tt.count {
			t.Errorf("structure(%q) = %v, %d, %d, %v; want %v, %d, %d", tt.in, dup, depth, count, err, tt.dup, tt.depth, tt.count)
		}
	}
	surrogates := map[string]bool{
		`{"a":"\ud83d\ude00"}`:        false,
		`{"a":"\\ud800"}`:             false,
		`{"a":"\ud800"}`:              true,
		`{"a":"\udc00"}`:              true,
		`{"a":"x\ud83d\u0041"}`:       true,
		`{"a":"\ud83d\ude00\udc00"}`:  true,
		`{"\\":"\\\ud800"}`:           true,
		`{"a":"\u0041\ud83d\ude00"}`:  false,
		`{"a":"\ud83d\ude00","b":1}`:  false,
		`{"a":"\ud83d\ude00\ud83d"}`:  true,
		`{"a":"\ud83d\\ude00\ud83d"}`: true,
	}
	for in, want := range surrogates {
		if got := hasBadSurrogateEscape([]byte(in)); got != want {
			t.Errorf("hasBadSurrogateEscape(%q) = %v, want %v", in, got, want)
		}
	}
}
