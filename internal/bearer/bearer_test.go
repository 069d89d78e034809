package bearer

import "testing"

func TestChallenge(t *testing.T) {
	for _, tc := range []struct {
		name, realm, code, desc, want string
	}{
		{"no credentials: realm only", "bank", "", "ignored", `Bearer realm="bank"`},
		{"error with description", "bank", "invalid_token", "the token is expired", `Bearer realm="bank", error="invalid_token", error_description="the token is expired"`},
		{"no realm", "", "invalid_token", "bad", `Bearer error="invalid_token", error_description="bad"`},
		{"bare", "", "", "", `Bearer`},
		{"quotes, backslashes and controls dropped", "a\"b\\c\r\n", "invalid_token", "x\"y", `Bearer realm="abc", error="invalid_token", error_description="xy"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Challenge(tc.realm, tc.code, tc.desc); got != tc.want {
				t.Errorf("Challenge() = %q, want %q", got, tc.want)
			}
		})
	}
}
