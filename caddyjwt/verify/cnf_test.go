package verify_test

import (
	"testing"

	"github.com/obgate/obgate/caddyjwt/verify"
)

func TestCertBinding(t *testing.T) {
	const tp = "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"
	bound := map[string]any{"cnf": map[string]any{"x5t#S256": tp}}
	for _, tc := range []struct {
		name     string
		claims   map[string]any
		client   string
		required bool
		want     verify.Reason // ReasonUnknown: accepted
	}{
		{"bound token with its certificate accepted", bound, tp, false, verify.ReasonUnknown},
		{"bound token with its certificate accepted when required", bound, tp, true, verify.ReasonUnknown},
		{"bound token without a certificate rejected", bound, "", false, verify.ReasonCertMissing},
		{"bound token with another certificate rejected", bound, tp[:42] + "A", false, verify.ReasonCertMismatch},
		{"unbound token accepted when not required", map[string]any{}, "", false, verify.ReasonUnknown},
		{"unbound token with a certificate accepted when not required", map[string]any{}, tp, false, verify.ReasonUnknown},
		{"unbound token rejected when required", map[string]any{}, tp, true, verify.ReasonNotCertBound},
		{"cnf with only a DPoP jkt rejected", map[string]any{"cnf": map[string]any{"jkt": "x"}}, tp, false, verify.ReasonUnsupportedBinding},
		{"empty cnf rejected", map[string]any{"cnf": map[string]any{}}, tp, false, verify.ReasonUnsupportedBinding},
		{"cnf with x5t#S256 and jkt checks the certificate", map[string]any{"cnf": map[string]any{"x5t#S256": tp, "jkt": "x"}}, tp, false, verify.ReasonUnknown},
		{"cnf not an object rejected", map[string]any{"cnf": "x"}, tp, false, verify.ReasonCertMismatch},
		{"x5t#S256 not a string rejected", map[string]any{"cnf": map[string]any{"x5t#S256": 1}}, tp, false, verify.ReasonCertMismatch},
		{"empty x5t#S256 rejected", map[string]any{"cnf": map[string]any{"x5t#S256": ""}}, "", false, verify.ReasonCertMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := verify.CertBindingOf(tc.claims)
			if err == nil {
				err = b.Check(tc.client, tc.required)
			}
			if tc.want == verify.ReasonUnknown {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if got := verify.ReasonOf(err); got != tc.want || tc.want.Status() != 401 || tc.want.Code() != "invalid_token" {
				t.Fatalf("reason = %v (err %v), want %v answered 401 invalid_token", got, err, tc.want)
			}
		})
	}
}
