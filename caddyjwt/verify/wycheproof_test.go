package verify_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
)

// wycheproofFile is the part of Wycheproof's json_web_signature_test.json schema the test reads.
type wycheproofFile struct {
	NumberOfTests int `json:"numberOfTests"`
	TestGroups    []struct {
		Comment string          `json:"comment"`
		Public  json.RawMessage `json:"public"`
		Private json.RawMessage `json:"private"`
		Tests   []struct {
			TcID    int      `json:"tcId"`
			Comment string   `json:"comment"`
			JWS     string   `json:"jws"`
			Result  string   `json:"result"`
			Flags   []string `json:"flags"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// wycheproofStricter lists the "valid" cases obgate rejects on purpose, with the reason and the rule.
var wycheproofStricter = map[int]struct {
	reason verify.Reason
	why    string
}{
	// RFC 7520 Figure 20 is PS384, but Wycheproof's JWK for it says "alg":"PS256"; obgate binds
	// a JWK's alg to the key (RFC 7517 §4.4), so the key does not verify PS384.
	346: {verify.ReasonAlgNotAllowed, "the JWK's alg (PS256) does not allow the header's PS384"},
	350: {verify.ReasonAlgNotAllowed, "the JWK's alg (PS256) does not allow the header's PS384"},
	// A '?' inside a segment: Wycheproof accepts a verifier that signs over the raw text, but
	// obgate requires strict base64url (RFC 7515 §2) so that a token has exactly one encoding.
	372: {verify.ReasonMalformed, "'?' in the header segment is not base64url"},
	373: {verify.ReasonMalformed, "'?' in the payload segment is not base64url"},
}

// wycheproofContradictory lists "invalid" cases whose jws is byte-identical to a "valid" case
// of the same group and key, so no verifier can satisfy both: C2SP/wycheproof#236.
var wycheproofContradictory = map[int]int{367: 357, 370: 357}

// TestWycheproofJWS runs every Wycheproof JWS case through the signature layer (header, crit,
// algorithm and key fit, signature; no claims, as the payloads are not claim sets). Every
// invalid case must be rejected; every valid case must verify, unless its key is one obgate
// refuses to load (skipped and counted) or it is listed in wycheproofStricter. The two invalid
// cases that duplicate a valid one are skipped and counted.
func TestWycheproofJWS(t *testing.T) {
	data, err := os.ReadFile("testdata/wycheproof/json_web_signature_test.json")
	if err != nil {
		t.Fatal(err)
	}
	var file wycheproofFile
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}

	validJWS := map[int]string{}
	for _, g := range file.TestGroups {
		for _, tc := range g.Tests {
			if tc.Result == "valid" {
				validJWS[tc.TcID] = tc.JWS
			}
		}
	}

	var total, verified, stricter int
	rejected := map[string]int{} // reason -> invalid cases rejected with it
	skipped := map[string]int{}  // why -> cases skipped
	for _, g := range file.TestGroups {
		jwk := g.Public
		if len(jwk) == 0 {
			jwk = g.Private // the HMAC groups: an oct JWK, which is the verification key
		}
		ks, refused, err := keys.ParseJWKs(jwk, "wycheproof", keys.JWKOptions{AllowSymmetric: true})
		var v *verify.Verifier
		switch {
		case err != nil:
			refused = append(refused, err)
		case len(ks) > 0:
			v, err = verify.New(verify.Policy{
				Issuers: []verify.Issuer{{Name: "wycheproof", Sources: []keys.Source{keys.NewStatic(ks...)}}},
				Clock:   fixedClock,
			})
			if err != nil {
				t.Fatalf("group %q: verify.New() error = %v", g.Comment, err)
			}
		}
		for _, tc := range g.Tests {
			total++
			name := fmt.Sprintf("tc%d %s %s", tc.TcID, g.Comment, tc.Comment)
			if v == nil {
				// obgate refuses the group's key when loading it, so no token verifies with it.
				if tc.Result == "valid" {
					why := "key refused at load: " + refused[0].Error()
					t.Logf("%s: skipped, %s", name, why)
					skipped[why]++
				} else {
					rejected["key refused at load"]++
				}
				continue
			}
			if twin, ok := wycheproofContradictory[tc.TcID]; ok {
				if validJWS[twin] != tc.JWS {
					t.Errorf("%s: listed as identical to valid tc%d, but it differs: run it again", name, twin)
				}
				why := fmt.Sprintf("invalid case byte-identical to valid tc%d, C2SP/wycheproof#236", twin)
				t.Logf("%s: skipped, %s", name, why)
				skipped[why]++
				continue
			}
			opts := verify.JWSOptions{}
			if parts := strings.Split(tc.JWS, "."); len(parts) == 3 && parts[1] == "" {
				// An empty payload segment is the empty payload: hand it over as a detached,
				// empty body (RFC 7515 Appendix F gives both the same signing input).
				opts.Detached, opts.Body = true, []byte{}
			}
			_, err := v.VerifyJWS(t.Context(), []byte(tc.JWS), opts)
			switch {
			case tc.Result == "invalid":
				if err == nil {
					t.Errorf("%s %v: invalid case verified", name, tc.Flags)
					continue
				}
				if verify.ReasonOf(err) == verify.ReasonUnknown {
					t.Errorf("%s: error %v is not a *verify.Error", name, err)
				}
				rejected[verify.ReasonOf(err).String()]++
			case tc.Result == "valid":
				if s, ok := wycheproofStricter[tc.TcID]; ok {
					if got := verify.ReasonOf(err); got != s.reason {
						t.Errorf("%s: error %v, want the deliberate rejection %v (%s)", name, err, s.reason, s.why)
					}
					stricter++
					continue
				}
				if err != nil {
					t.Errorf("%s: valid case rejected: %v", name, err)
					continue
				}
				verified++
			default:
				t.Errorf("%s: unknown result %q", name, tc.Result)
			}
		}
	}
	if total != file.NumberOfTests {
		t.Errorf("ran %d cases, the file declares %d", total, file.NumberOfTests)
	}
	nSkipped := 0
	for _, n := range skipped {
		nSkipped += n
	}
	nRejected := 0
	for _, n := range rejected {
		nRejected += n
	}
	t.Logf("wycheproof: %d cases: %d valid verified, %d invalid rejected, %d valid rejected on purpose, %d skipped",
		total, verified, nRejected, stricter, nSkipped)
	for _, r := range slices.Sorted(maps.Keys(rejected)) {
		t.Logf("  invalid rejected as %s: %d", r, rejected[r])
	}
	for _, why := range slices.Sorted(maps.Keys(skipped)) {
		t.Logf("  skipped (%s): %d", why, skipped[why])
	}
}
