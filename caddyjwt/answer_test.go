package caddyjwt

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
)

func TestAnswerFor(t *testing.T) {
	unavailable := &verify.Error{Reason: verify.ReasonKeysUnavailable,
		Err: &keys.UnavailableError{Origin: "https://idp.example/jwks", RetryAfter: 7 * time.Second, Err: errors.New("refused")}}
	for _, tc := range []struct {
		name          string
		err           error
		status        int
		code          string
		retryAfter    string
		noChallengeOK bool
	}{
		{"no token is a bare challenge", verify.Reject(verify.ReasonNoToken, nil), 401, "", "", false},
		{"expired is invalid_token", verify.Reject(verify.ReasonExpired, nil), 401, "invalid_token", "", false},
		{"two tokens are invalid_request", verify.Reject(verify.ReasonMultipleTokens, nil), 400, "invalid_request", "", false},
		{"claim rule is insufficient_scope", verify.Reject(verify.ReasonClaimRule, nil), 403, "insufficient_scope", "", false},
		{"unavailable keys are 503 with Retry-After", unavailable, 503, "temporarily_unavailable", "7", true},
		{"an unknown error still rejects", errors.New("boom"), 401, "invalid_token", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			answerFor(tc.err).write(w, "bank")
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d", w.Code, tc.status)
			}
			if got := w.Header().Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.retryAfter)
			}
			ch := w.Header().Get("WWW-Authenticate")
			switch {
			case tc.noChallengeOK:
			case tc.code == "" && ch != `Bearer realm="bank"`:
				t.Errorf("WWW-Authenticate = %q, want a bare challenge", ch)
			case tc.code != "" && !strings.Contains(ch, `error="`+tc.code+`"`):
				t.Errorf("WWW-Authenticate = %q, want error %q", ch, tc.code)
			}
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error_description"] == "" {
				t.Fatalf("body = %q, want the JSON error shape", w.Body.String())
			}
			if tc.code != "" && body["error"] != tc.code {
				t.Errorf("body error = %q, want %q", body["error"], tc.code)
			}
			if strings.Contains(w.Body.String(), "boom") || strings.Contains(w.Body.String(), "refused") {
				t.Errorf("body leaks the internal error: %s", w.Body.String())
			}
		})
	}
}

func TestRealmForDropsWhatCannotBeQuoted(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Host = `bank"\.example:8443`
	if got := realmFor("", r); got != "bank.example" {
		t.Errorf("realmFor() = %q, want bank.example", got)
	}
	if got := realmFor("configured", r); got != "configured" {
		t.Errorf("realmFor() = %q, want the configured realm", got)
	}
}
