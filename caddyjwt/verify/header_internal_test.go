package verify

import "testing"

// TestReadHeaderCrit covers the half of RFC 7515 §4.1.11 that bearer mode cannot show: a crit
// entry the caller understands is accepted, and the list's form is still enforced.
func TestReadHeaderCrit(t *testing.T) {
	for _, tc := range []struct {
		name       string
		header     map[string]any
		understood []string
		want       Reason // ReasonUnknown: accepted
	}{
		{"understood extension listed in crit accepted",
			map[string]any{"alg": "RS256", "crit": []any{"x-ext"}, "x-ext": "v"}, []string{"x-ext"}, ReasonUnknown},
		{"b64 listed in crit accepted when understood",
			map[string]any{"alg": "RS256", "crit": []any{"b64"}, "b64": false}, []string{"b64"}, ReasonUnknown},
		{"b64 without crit accepted when understood",
			map[string]any{"alg": "RS256", "b64": true}, []string{"b64"}, ReasonUnknown},
		{"understood extension not listed in crit accepted",
			map[string]any{"alg": "RS256", "x-ext": "v"}, []string{"x-ext"}, ReasonUnknown},
		{"repeated understood entry rejected",
			map[string]any{"alg": "RS256", "crit": []any{"x-ext", "x-ext"}, "x-ext": "v"}, []string{"x-ext"}, ReasonBadHeader},
		{"understood entry absent from the header rejected",
			map[string]any{"alg": "RS256", "crit": []any{"x-ext"}}, []string{"x-ext"}, ReasonBadHeader},
		{"understood and unknown entries together rejected",
			map[string]any{"alg": "RS256", "crit": []any{"x-ext", "y-ext"}, "x-ext": 1, "y-ext": 2}, []string{"x-ext"}, ReasonCritUnsupported},
		{"registered name rejected even when the caller lists it",
			map[string]any{"alg": "RS256", "crit": []any{"kid"}, "kid": "k"}, []string{"kid"}, ReasonBadHeader},
		{"unknown extension rejected in bearer mode",
			map[string]any{"alg": "RS256", "crit": []any{"x-ext"}, "x-ext": "v"}, nil, ReasonCritUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readHeader(tc.header, tc.understood)
			if tc.want == ReasonUnknown {
				if err != nil {
					t.Fatalf("readHeader() error = %v, want accepted", err)
				}
				return
			}
			if got := ReasonOf(err); got != tc.want {
				t.Fatalf("readHeader() error = %v, want reason %v", err, tc.want)
			}
		})
	}
}
