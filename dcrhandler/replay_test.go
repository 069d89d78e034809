package dcrhandler

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/obgate/obgate/replay"
)

// TestRequestJTIWithHugeExpIsNotReplayable is issue 10 item 4: a request JWT with exp >= 2^63
// (1e19) made the replay entry's expiry wrap into the past, so the same request registered again
// and again. A lifetime the store cannot hold is refused, and the request never registers twice.
func TestRequestJTIWithHugeExpIsNotReplayable(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "obie", nil)
	for _, exp := range []any{1e19, float64(1 << 62), f.now.Add(replay.MaxLifetime + time.Hour).Unix()} {
		t.Run(fmt.Sprint(exp), func(t *testing.T) {
			tok := f.requestJWT("obie", nil, setAll("exp", exp, "jti", fmt.Sprint("jti-", exp)))
			created := 0
			for range 2 {
				w := post(t, h, tok)
				if w.Code == http.StatusCreated {
					created++
					continue
				}
				expectError(t, w, http.StatusBadRequest, codeInvalidMetadata, "exp")
			}
			if created > 0 {
				t.Fatalf("a request JWT with exp %v registered %d times, want never", exp, created)
			}
		})
	}
}

// TestRequestJTIStoreFullIs503: a handler whose jti bound is full of live jtis refuses the next
// registration with 503 and Retry-After (nothing forgotten, nothing stored), and still refuses
// the replay of the first request.
func TestRequestJTIStoreFullIs503(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "obie", func(h *Handler) { h.ReplayMaxEntries = 1; h.Audience = []string{"https://full.example"} })
	first := f.requestJWT("obie", nil, setAll("aud", "https://full.example", "jti", "first"))
	if w := post(t, h, first); w.Code != http.StatusCreated {
		t.Fatalf("first registration: status %d; body %s", w.Code, w.Body.String())
	}
	w := post(t, h, f.requestJWT("obie", nil, setAll("aud", "https://full.example", "jti", "second")))
	expectError(t, w, http.StatusServiceUnavailable, codeUnavailable, "")
	if w.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	expectError(t, post(t, h, first), http.StatusBadRequest, codeInvalidMetadata, "jti")
}

// unavailableStore is a store that cannot answer, as Redis down.
type unavailableStore struct{}

func (unavailableStore) Claim(context.Context, [32]byte, time.Time) error {
	return fmt.Errorf("%w: dial tcp 127.0.0.1:1: connection refused", replay.ErrUnavailable)
}

// TestRequestJTIStoreUnavailableIs503: a store that cannot tell whether a jti was used makes the
// registration 503 with Retry-After; nothing is registered.
func TestRequestJTIStoreUnavailableIs503(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "obie", nil)
	h.replay = &replayCache{store: unavailableStore{}}
	w := post(t, h, f.requestJWT("obie", nil, set("jti", "while-down")))
	expectError(t, w, http.StatusServiceUnavailable, codeUnavailable, "")
	if w.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

// setAll sets several claims: name, value, name, value...
func setAll(kv ...any) func(map[string]any) {
	return func(c map[string]any) {
		for i := 0; i+1 < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
	}
}
