package strictjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// This file keeps the evidence for keeping Parse rather than moving to jsontext (the tokenizer
// of github.com/go-json-experiment/json, the future encoding/json/v2), and a second oracle for
// Parse: parseJSONText is the shortest faithful replacement built on jsontext (the same result
// types, the same limits), BenchmarkParseVersusJSONText measures both on the same inputs, and
// TestParseAgreesWithJSONText runs the Wycheproof JOSE segments, the fuzz seeds and the unit
// cases through both. Figures: caddyjwt/internal/strictjson/README.md.

// textDecoders pools jsontext decoders with their readers, as a production replacement would.
var textDecoders = sync.Pool{New: func() any {
	d := &textDecoder{}
	d.dec = jsontext.NewDecoder(&d.r)
	return d
}}

type textDecoder struct {
	r   bytes.Reader
	dec *jsontext.Decoder
	n   int // members and elements so far
	lim Limits
}

// errTextLimit stands for KindDepth and KindTooMany in the jsontext version.
var errTextLimit = errors.New("limit")

// parseJSONText is Parse on top of jsontext: duplicate names and invalid UTF-8 are jsontext's
// defaults; depth and member limits, json.Number and "an object and nothing after it" are added.
func parseJSONText(b []byte, lim Limits) (map[string]any, error) {
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = defaultMaxDepth
	}
	if lim.MaxMembers <= 0 {
		lim.MaxMembers = defaultMaxMembers
	}
	d := textDecoders.Get().(*textDecoder)
	defer textDecoders.Put(d)
	d.r.Reset(b)
	d.dec.Reset(&d.r)
	d.n, d.lim = 0, lim
	if d.dec.PeekKind() != '{' {
		_, err := d.dec.ReadToken()
		if err == nil {
			err = errors.New("top-level value is not an object")
		}
		return nil, err
	}
	v, err := d.value(1)
	if err != nil {
		return nil, err
	}
	if _, err := d.dec.ReadToken(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return v.(map[string]any), nil
}

func (d *textDecoder) value(depth int) (any, error) {
	tok, err := d.dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '{':
		if depth > d.lim.MaxDepth {
			return nil, errTextLimit
		}
		m := map[string]any{}
		for d.dec.PeekKind() != '}' {
			tok, err := d.dec.ReadToken()
			if err != nil {
				return nil, err
			}
			name := tok.String() // before the next read, which invalidates tok
			if d.n++; d.n > d.lim.MaxMembers {
				return nil, errTextLimit
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[name] = v
		}
		_, err := d.dec.ReadToken()
		return m, err
	case '[':
		if depth > d.lim.MaxDepth {
			return nil, errTextLimit
		}
		a := []any{}
		for d.dec.PeekKind() != ']' {
			if d.n++; d.n > d.lim.MaxMembers {
				return nil, errTextLimit
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := d.dec.ReadToken()
		return a, err
	case '"':
		return tok.String(), nil
	case '0':
		return json.Number(tok.String()), nil
	case 't', 'f':
		return tok.Bool(), nil
	case 'n':
		return nil, nil
	}
	return nil, errors.New("unexpected token")
}

// BenchmarkParseVersusJSONText runs Parse and parseJSONText alternately on the same typical
// inputs (an access token's claims, a JOSE header) and reports the ratio of their median times
// (jsontext/strictjson) and both medians: interleaved calls hold up on a busy machine, where two
// separate benchmarks vary by more than the difference. Allocations per call are in
// BenchmarkParse and by testing.AllocsPerRun in TestParseAgreesWithJSONText's log.
func BenchmarkParseVersusJSONText(b *testing.B) {
	for _, bc := range []struct{ name, in string }{{"claims", claimsJSON}, {"header", headerJSON}} {
		in := []byte(bc.in)
		b.Run(bc.name, func(b *testing.B) {
			var own, text []time.Duration
			timed := func(parse func([]byte, Limits) (map[string]any, error), into *[]time.Duration) {
				t0 := time.Now()
				_, err := parse(in, Limits{})
				*into = append(*into, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				if len(own)%2 == 0 {
					timed(Parse, &own)
					timed(parseJSONText, &text)
				} else {
					timed(parseJSONText, &text)
					timed(Parse, &own)
				}
			}
			mo, mt := medianOf(own), medianOf(text)
			b.ReportMetric(float64(mt)/float64(mo), "jsontext/strictjson")
			b.ReportMetric(float64(mo), "strictjson-median-ns")
			b.ReportMetric(float64(mt), "jsontext-median-ns")
		})
	}
}

func medianOf(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// wycheproofSegments returns the decoded header and payload of every Wycheproof JWS case that
// decodes: JOSE JSON as attackers and test authors write it.
func wycheproofSegments(t *testing.T) [][]byte {
	data, err := os.ReadFile(filepath.Join("..", "..", "verify", "testdata", "wycheproof", "json_web_signature_test.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		TestGroups []struct {
			Tests []struct {
				JWS string `json:"jws"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, g := range file.TestGroups {
		for _, tc := range g.Tests {
			parts := strings.Split(tc.JWS, ".")
			for _, seg := range parts[:min(2, len(parts))] {
				if raw, err := base64.RawURLEncoding.DecodeString(seg); err == nil {
					out = append(out, raw)
				}
			}
		}
	}
	return out
}

// TestParseAgreesWithJSONText: on every input at hand, Parse and the jsontext version accept the
// same inputs and return the same values. Where they differ, the difference is listed here with
// the rule that decides it.
func TestParseAgreesWithJSONText(t *testing.T) {
	inputs := wycheproofSegments(t)
	for _, s := range fuzzSeeds {
		inputs = append(inputs, []byte(s))
	}
	for _, s := range []string{claimsJSON, headerJSON} {
		inputs = append(inputs, []byte(s))
	}
	accepted := 0
	for _, in := range inputs {
		for _, lim := range []Limits{{}, {MaxDepth: 3, MaxMembers: 8}} {
			got, err := Parse(in, lim)
			want, errText := parseJSONText(in, lim)
			if (err == nil) != (errText == nil) {
				t.Errorf("%q %+v: strictjson error %v, jsontext error %v", in, lim, err, errText)
				continue
			}
			if err == nil {
				accepted++
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%q: strictjson %#v, jsontext %#v", in, got, want)
				}
			}
		}
	}
	t.Logf("%d inputs (Wycheproof JOSE segments, fuzz seeds), %d accepted by both, no verdict differs", len(inputs), accepted)
	for _, s := range []string{claimsJSON, headerJSON} {
		in := []byte(s)
		own := testing.AllocsPerRun(100, func() { _, _ = Parse(in, Limits{}) })
		text := testing.AllocsPerRun(100, func() { _, _ = parseJSONText(in, Limits{}) })
		t.Logf("%d-byte input: strictjson %v allocations, jsontext %v", len(in), own, text)
	}
}
