package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]any
	}{
		{"empty object", `{}`, map[string]any{}},
		{"surrounding whitespace", " \t\r\n{ } \n\t\r ", map[string]any{}},
		{"string", `{"a":"b"}`, map[string]any{"a": "b"}},
		{"empty string and name", `{"":""}`, map[string]any{"": ""}},
		{"number", `{"exp":1767225600}`, map[string]any{"exp": json.Number("1767225600")}},
		{"booleans and null", `{"t":true,"f":false,"n":null}`, map[string]any{"t": true, "f": false, "n": nil}},
		{"empty array is non-nil", `{"a":[]}`, map[string]any{"a": []any{}}},
		{"array of all types", `{"a":[1,"x",true,false,null,{},[]]}`,
			map[string]any{"a": []any{json.Number("1"), "x", true, false, nil, map[string]any{}, []any{}}}},
		{"nested object", `{"cnf":{"jwk":{"kty":"EC","crv":"P-256"}}}`,
			map[string]any{"cnf": map[string]any{"jwk": map[string]any{"kty": "EC", "crv": "P-256"}}}},
		{"whitespace everywhere", "{ \"a\" :\n[ 1 ,\t2 ] , \"b\" : { } }",
			map[string]any{"a": []any{json.Number("1"), json.Number("2")}, "b": map[string]any{}}},
		{"simple escapes", `{"s":"\"\\\/\b\f\n\r\t"}`, map[string]any{"s": "\"\\/\b\f\n\r\t"}},
		{"unicode escape", `{"s":"\u00e9\u20AC"}`, map[string]any{"s": "é€"}},
		{"escaped nul", `{"s":"a\u0000b"}`, map[string]any{"s": "a\x00b"}},
		{"surrogate pair", `{"s":"\ud83d\ude00"}`, map[string]any{"s": "😀"}},
		{"escape mixed with raw utf-8", `{"s":"é\n😀x"}`, map[string]any{"s": "é\n😀x"}},
		{"raw utf-8", `{"name":"Zoë 😀"}`, map[string]any{"name": "Zoë 😀"}},
		{"raw U+FFFD is valid", "{\"s\":\"\uFFFD\"}", map[string]any{"s": "\uFFFD"}},
		{"escaped name", `{"\u0061":1}`, map[string]any{"a": json.Number("1")}},
		{"same name in different objects", `{"a":{"a":1},"b":{"a":2}}`,
			map[string]any{"a": map[string]any{"a": json.Number("1")}, "b": map[string]any{"a": json.Number("2")}}},
		{"DEL is allowed unescaped", "{\"s\":\"\x7f\"}", map[string]any{"s": "\x7f"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in), Limits{})
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseLargeObject(t *testing.T) {
	// More members than smallObject, so the map-based duplicate check runs.
	var sb strings.Builder
	want := map[string]any{}
	sb.WriteByte('{')
	for i := range 80 {
		if i > 0 {
			sb.WriteByte(',')
		}
		k := string(rune('A'+i%26)) + strings.Repeat("x", i/26)
		sb.WriteString(`"` + k + `":` + "true")
		want[k] = true
	}
	sb.WriteByte('}')
	got, err := Parse([]byte(sb.String()), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}

	dup := strings.TrimSuffix(sb.String(), "}") + `,"Bx":false}`
	_, err = Parse([]byte(dup), Limits{})
	wantErr(t, err, KindDuplicate, strings.LastIndex(dup, `"Bx"`))
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		kind Kind
		off  int // -1: do not check
	}{
		// Duplicates.
		{"duplicate at top level", `{"a":1,"a":2}`, KindDuplicate, 7},
		{"duplicate with different values types", `{"a":1,"b":2,"a":"x"}`, KindDuplicate, 13},
		{"duplicate in nested object", `{"x":{"a":1,"a":2}}`, KindDuplicate, 12},
		{"duplicate in object in array", `{"x":[{"k":1,"k":1}]}`, KindDuplicate, 13},
		{"duplicate via escape", `{"a":1,"\u0061":2}`, KindDuplicate, 7},
		{"duplicate via both escaped", `{"\u00e9":1,"\u00E9":2}`, KindDuplicate, 12},
		{"duplicate raw vs escaped utf-8", `{"é":1,"\u00e9":2}`, KindDuplicate, 8},
		{"duplicate via slash escape", `{"a/b":1,"a\/b":2}`, KindDuplicate, 9},
		{"duplicate empty name", `{"":1,"":2}`, KindDuplicate, 6},
		{"duplicate reported before later syntax error", `{"a":1,"a":2,}`, KindDuplicate, 7},

		// Top level.
		{"empty input", ``, KindSyntax, 0},
		{"only whitespace", "  \n", KindSyntax, 3},
		{"top-level array", `[]`, KindSyntax, 0},
		{"top-level string", `"a"`, KindSyntax, 0},
		{"top-level number", `1`, KindSyntax, 0},
		{"top-level null", `null`, KindSyntax, 0},
		{"byte order mark", "\xef\xbb\xbf{}", KindSyntax, 0},
		{"trailing data", `{} x`, KindSyntax, 3},
		{"two objects", `{}{}`, KindSyntax, 2},
		{"trailing nul", "{}\x00", KindSyntax, 2},
		{"non-JSON whitespace", "{}\v", KindSyntax, 2},
		{"unterminated object", `{"a":1`, KindSyntax, 6},
		{"unterminated after comma", `{"a":1,`, KindSyntax, 7},
		{"unterminated after colon", `{"a":`, KindSyntax, 5},
		{"unterminated array", `{"a":[1`, KindSyntax, 7},
		{"unterminated string", `{"a":"b`, KindSyntax, 7},
		{"unterminated name", `{"a`, KindSyntax, 3},

		// Structure.
		{"trailing comma in object", `{"a":1,}`, KindSyntax, 7},
		{"trailing comma in array", `{"a":[1,]}`, KindSyntax, 8},
		{"leading comma in object", `{,"a":1}`, KindSyntax, 1},
		{"leading comma in array", `{"a":[,1]}`, KindSyntax, 6},
		{"double comma", `{"a":1,,"b":2}`, KindSyntax, 7},
		{"missing comma", `{"a":1 "b":2}`, KindSyntax, 7},
		{"missing colon", `{"a" 1}`, KindSyntax, 5},
		{"missing value", `{"a":}`, KindSyntax, 5},
		{"unquoted name", `{a:1}`, KindSyntax, 1},
		{"single-quoted name", `{'a':1}`, KindSyntax, 1},
		{"single-quoted value", `{"a":'b'}`, KindSyntax, 5},
		{"number as name", `{1:1}`, KindSyntax, 1},
		{"mismatched close", `{"a":[1}`, KindSyntax, 7},
		{"line comment", "{\"a\":1 // c\n}", KindSyntax, 7},
		{"block comment", `{/* c */"a":1}`, KindSyntax, 1},
		{"hash comment", "{# c\n}", KindSyntax, 1},

		// Literals.
		{"NaN", `{"a":NaN}`, KindSyntax, 5},
		{"Infinity", `{"a":Infinity}`, KindSyntax, 5},
		{"negative Infinity", `{"a":-Infinity}`, KindSyntax, 6},
		{"capitalised true", `{"a":True}`, KindSyntax, 5},
		{"truncated true", `{"a":tru}`, KindSyntax, 8},
		{"literal with extra letters", `{"a":nulll}`, KindSyntax, 9},
		{"undefined", `{"a":undefined}`, KindSyntax, 5},

		// Strings.
		{"raw newline in string", "{\"a\":\"x\ny\"}", KindSyntax, 7},
		{"raw tab in string", "{\"a\":\"x\ty\"}", KindSyntax, 7},
		{"raw nul in string", "{\"a\":\"\x00\"}", KindSyntax, 6},
		{"raw control char in name", "{\"\x1f\":1}", KindSyntax, 2},
		{"raw control char after escape", "{\"a\":\"\\n\x01\"}", KindSyntax, 8},
		{"invalid escape letter", `{"a":"\x41"}`, KindSyntax, 6},
		{"escaped single quote", `{"a":"\'"}`, KindSyntax, 6},
		{"short unicode escape", `{"a":"\u12"}`, KindSyntax, 6},
		{"non-hex unicode escape", `{"a":"\u12g4"}`, KindSyntax, 6},
		{"uppercase U escape", `{"a":"\U0041"}`, KindSyntax, 6},
		{"backslash at end", `{"a":"\`, KindSyntax, 7},

		// UTF-8.
		{"invalid byte", "{\"a\":\"\xff\"}", KindUTF8, 6},
		{"truncated sequence", "{\"a\":\"\xc3\"}", KindUTF8, 6},
		{"overlong encoding", "{\"a\":\"\xc0\xaf\"}", KindUTF8, 6},
		{"utf-8 encoded surrogate", "{\"a\":\"\xed\xa0\x80\"}", KindUTF8, 6},
		{"beyond U+10FFFF", "{\"a\":\"\xf4\x90\x80\x80\"}", KindUTF8, 6},
		{"stray continuation byte", "{\"a\":\"ok\x80\"}", KindUTF8, 8},
		{"invalid utf-8 in name", "{\"\xfe\":1}", KindUTF8, 2},
		{"invalid utf-8 after escape", "{\"a\":\"\\n\xff\"}", KindUTF8, 8},
		{"invalid utf-8 outside string", "{\xff}", KindSyntax, 1},

		// Surrogate escapes.
		{"lone high surrogate", `{"a":"\ud800"}`, KindUTF8, 6},
		{"lone high surrogate then text", `{"a":"\ud800x"}`, KindUTF8, 6},
		{"lone low surrogate", `{"a":"\udc00"}`, KindUTF8, 6},
		{"reversed pair", `{"a":"\ude00\ud83d"}`, KindUTF8, 6},
		{"high then high", `{"a":"\ud83d\ud83d"}`, KindUTF8, 6},
		{"high then non-surrogate", `{"a":"\ud83d\u0041"}`, KindUTF8, 6},
		{"high then other escape", `{"a":"\ud83d\n"}`, KindUTF8, 6},
		{"high then bad hex", `{"a":"\ud83d\uzzzz"}`, KindSyntax, 12},
		{"lone surrogate in name", `{"\udfff":1}`, KindUTF8, 2},
		{"high surrogate at end of input", `{"a":"\ud83d`, KindUTF8, 6},

		// Numbers.
		{"leading zero", `{"a":01}`, KindSyntax, 6},
		{"negative leading zero", `{"a":-01}`, KindSyntax, 7},
		{"leading zeros", `{"a":00}`, KindSyntax, 6},
		{"trailing dot", `{"a":1.}`, KindSyntax, 7},
		{"leading dot", `{"a":.5}`, KindSyntax, 5},
		{"plus sign", `{"a":+1}`, KindSyntax, 5},
		{"lone minus", `{"a":-}`, KindSyntax, 6},
		{"minus minus", `{"a":--1}`, KindSyntax, 6},
		{"empty exponent", `{"a":1e}`, KindSyntax, 7},
		{"signed empty exponent", `{"a":1e+}`, KindSyntax, 8},
		{"dot then exponent", `{"a":1.e5}`, KindSyntax, 7},
		{"hex number", `{"a":0x10}`, KindSyntax, 6},
		{"double dot", `{"a":1.2.3}`, KindSyntax, 8},
		{"minus space digit", `{"a":- 1}`, KindSyntax, 6},
		{"number at end of input", `{"a":1`, KindSyntax, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.in), Limits{})
			if m != nil {
				t.Errorf("Parse(%q) returned a non-nil map with an error", tt.in)
			}
			wantErr(t, err, tt.kind, tt.off)
		})
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name string
		in   string
		lim  Limits
		kind Kind // 0: must be accepted
		off  int
	}{
		{"depth 1 accepts flat object", `{"a":1}`, Limits{MaxDepth: 1}, 0, 0},
		{"depth 1 rejects nested object", `{"a":{}}`, Limits{MaxDepth: 1}, KindDepth, 5},
		{"depth 1 rejects array", `{"a":[]}`, Limits{MaxDepth: 1}, KindDepth, 5},
		{"depth exactly at limit", `{"a":[{"b":[]}]}`, Limits{MaxDepth: 4}, 0, 0},
		{"depth one past limit", `{"a":[{"b":[[]]}]}`, Limits{MaxDepth: 4}, KindDepth, 12},
		{"default depth exactly at limit", `{"a":` + strings.Repeat("[", 15) + strings.Repeat("]", 15) + `}`, Limits{}, 0, 0},
		{"default depth one past limit", `{"a":` + strings.Repeat("[", 16) + strings.Repeat("]", 16) + `}`, Limits{}, KindDepth, 20},
		{"negative depth takes default", `{"a":` + strings.Repeat("[", 15) + strings.Repeat("]", 15) + `}`, Limits{MaxDepth: -1}, 0, 0},
		{"depth error before syntax error", `{"a":[[`, Limits{MaxDepth: 2}, KindDepth, 6},
		{"huge depth limit is clamped", strings.Repeat(`{"a":`, hardMaxDepth+1), Limits{MaxDepth: 1 << 40, MaxMembers: 1 << 20}, KindDepth, 5 * hardMaxDepth},

		{"members exactly at limit", `{"a":1,"b":[1,2]}`, Limits{MaxMembers: 4}, 0, 0},
		{"members one past limit", `{"a":1,"b":[1,2,3]}`, Limits{MaxMembers: 4}, KindTooMany, 16},
		{"nested members count", `{"a":{"b":{"c":1}},"d":2}`, Limits{MaxMembers: 3}, KindTooMany, 19},
		{"empty containers do not count", `{"a":[],"b":{}}`, Limits{MaxMembers: 2}, 0, 0},
		{"default members exactly at limit", `{"a":[` + strings.Repeat("0,", 254) + `0]}`, Limits{}, 0, 0},
		{"default members one past limit", `{"a":[` + strings.Repeat("0,", 255) + `0]}`, Limits{}, KindTooMany, 6 + 2*255},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), tt.lim)
			if tt.kind == 0 {
				if err != nil {
					t.Fatalf("Parse error: %v", err)
				}
				return
			}
			wantErr(t, err, tt.kind, tt.off)
		})
	}
}

func TestNumbers(t *testing.T) {
	valid := []string{
		"0", "-0", "1", "-1", "10", "1e5", "1E+5", "1e-5", "0.5", "-0.5", "1.0e3",
		"0e0", "0E-0", "-0.0", "1.000", "12345678901234567890123456789", "1e400", "-1.5E-07",
	}
	for _, n := range valid {
		t.Run("accepts "+n, func(t *testing.T) {
			for _, in := range []string{`{"n":` + n + `}`, `{"n":[` + n + `]}`, `{"n":` + n + " }"} {
				m, err := Parse([]byte(in), Limits{})
				if err != nil {
					t.Fatalf("Parse(%q): %v", in, err)
				}
				v := m["n"]
				if a, ok := v.([]any); ok {
					v = a[0]
				}
				if got, ok := v.(json.Number); !ok || string(got) != n {
					t.Fatalf("Parse(%q) number = %#v, want json.Number(%q)", in, v, n)
				}
			}
		})
	}
	invalid := []string{"01", "-01", "1.", ".5", "+1", "-", "1e", "1e+", "1E-", "-.5", "1.e5", "0x1", "1_000", "١"}
	for _, n := range invalid {
		t.Run("rejects "+n, func(t *testing.T) {
			_, err := Parse([]byte(`{"n":`+n+`}`), Limits{})
			wantErr(t, err, KindSyntax, -1)
		})
	}
}

func TestErrorDoesNotEchoInput(t *testing.T) {
	const secret = "s3cr3t-t0k3n"
	inputs := []string{
		`{"` + secret + `":1,"` + secret + `":2}`,
		`{"a":"` + secret + "\x01" + `"}`,
		`{"a":` + secret + `}`,
		`{"a":"` + secret + "\xff" + `"}`,
		`{"a":1}` + secret,
	}
	for _, in := range inputs {
		_, err := Parse([]byte(in), Limits{})
		if err == nil {
			t.Fatalf("Parse(%q) succeeded", in)
		}
		if msg := err.Error(); strings.Contains(msg, secret) || strings.Contains(msg, "s3") || !strings.HasPrefix(msg, "strictjson: ") {
			t.Fatalf("error message %q", msg)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Parse([]byte(`{"sub":1, "sub":2}`), Limits{})
	if got, want := err.Error(), "strictjson: duplicate member name at offset 10"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	for k := KindSyntax; k <= KindUTF8; k++ {
		if s := k.String(); s == "unknown" || s != strings.ToLower(s) {
			t.Errorf("Kind(%d).String() = %q", k, s)
		}
	}
}

func TestResultIsIndependentOfInput(t *testing.T) {
	in := []byte(`{"iss":"abc","k":"a\nb","n":12,"x":["y"]}`)
	m, err := Parse(in, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 'z'
	}
	want := map[string]any{"iss": "abc", "k": "a\nb", "n": json.Number("12"), "x": []any{"y"}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("result changed with input: %#v", m)
	}
}

func TestConcurrent(t *testing.T) {
	in := []byte(claimsJSON)
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 100 {
				if _, err := Parse(in, Limits{}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}

func wantErr(t *testing.T, err error, kind Kind, off int) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want kind %v", kind)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is %T, not *Error", err, err)
	}
	if e.Kind != kind {
		t.Fatalf("error %v has kind %v, want %v", err, e.Kind, kind)
	}
	if off >= 0 && e.Offset != off {
		t.Fatalf("error %v has offset %d, want %d", err, e.Offset, off)
	}
}

// A typical access-token claims set (~330 bytes).
const claimsJSON = `{"iss":"https://auth.example.com/","sub":"user-8f14e45f-ceea-467a-9575-9a2b4c1e3d7b",` +
	`"aud":["api.example.com","gateway"],"exp":1767225600,"nbf":1767222000,"iat":1767222000,` +
	`"jti":"b3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d","scope":"read:orders write:orders",` +
	`"email":"jane.doe@example.com","email_verified":true,"roles":["admin","billing"],"tid":42}`

const headerJSON = `{"alg":"ES256","typ":"JWT","kid":"2024-06-k1"}`

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{{"claims", claimsJSON}, {"header", headerJSON}} {
		in := []byte(bc.in)
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(in, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodingJSONUnmarshal(b *testing.B) {
	for _, bc := range []struct{ name, in string }{{"claims", claimsJSON}, {"header", headerJSON}} {
		in := []byte(bc.in)
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				var m map[string]any
				if err := json.Unmarshal(in, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestParseOwnedSharesTheBufferAndTheSharedValues: ParseOwned returns what Parse returns; its
// strings are views of the buffer (no copy) and a string found in shared is that very value.
func TestParseOwnedSharesTheBufferAndTheSharedValues(t *testing.T) {
	in := []byte(claimsJSON)
	want, err := Parse(in, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseOwned(bytes.Clone(in), Limits{}, sharedValues)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseOwned() = %#v, %v, want %#v", got, err, want)
	}
	allocs := func(f func()) float64 { return testing.AllocsPerRun(100, f) }
	buf := bytes.Clone(in)
	copied := allocs(func() { _, _ = Parse(buf, Limits{}) })
	shared := allocs(func() { _, _ = ParseOwned(buf, Limits{}, sharedValues) })
	if shared >= copied {
		t.Errorf("ParseOwned allocates %v times, Parse %v: the values are copied", shared, copied)
	}
}
