package dcrhandler

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Numbers in registered metadata are kept as written: every decoder on the way in (the engine's
// strict JSON, the JSON body's decoder, the storage's) yields json.Number, which holds the
// number's text, so an integer above 2^53 or a long decimal comes back exactly as it was sent.
// A number that no IEEE 754 double can hold (1e400, 1e-400: RFC 8259 §6 lets implementations
// refuse what they cannot represent, and most clients parse into doubles) is refused at
// registration rather than stored for every reader to trip on.

// checkNumbers walks the metadata and refuses a number that cannot be represented, naming the
// top-level field that holds it.
func checkNumbers(md map[string]any) *rejection {
	for k, v := range md {
		if !representable(v) {
			return badMetadata(k + ": holds a number that cannot be represented (out of the range of a double)")
		}
	}
	return nil
}

// representable reports whether every number in v fits a double.
func representable(v any) bool {
	switch x := v.(type) {
	case json.Number:
		return numberFits(string(x))
	case map[string]any:
		for _, e := range x {
			if !representable(e) {
				return false
			}
		}
	case []any:
		for _, e := range x {
			if !representable(e) {
				return false
			}
		}
	}
	return true
}

// numberFits: the literal parses as a finite double, and a literal with a non-zero digit does
// not underflow to zero.
func numberFits(s string) bool {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return false
	}
	if f == 0 {
		mantissa, _, _ := strings.Cut(strings.ToLower(s), "e")
		return strings.Trim(mantissa, "-+0.") == ""
	}
	return true
}

// jsonFloat reads a JSON number as a double: json.Number from the engine's and the body's
// decoders, float64 from a plain encoding/json decode.
func jsonFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	case float64:
		return n, true
	}
	return 0, false
}
