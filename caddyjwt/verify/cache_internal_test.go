package verify

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/internal/jwttest"
)

func TestVerifiedCacheServesHitsAndStaysBounded(t *testing.T) {
	s := jwttest.NewEC(t, "ES256")
	k, _, err := keys.ParseJWKs([]byte(fmt.Sprintf(`{"keys":[%s]}`, mustMarshal(t, s.JWK(t, false)))), "test", keys.JWKOptions{})
	if err != nil || len(k) != 1 {
		t.Fatalf("ParseJWKs() = %v, %v", k, err)
	}
	now := time.Unix(1_800_000_000, 0)
	v, err := New(Policy{
		Issuers:   []Issuer{{Name: "iss", Sources: []keys.Source{keys.NewStatic(k...)}}},
		Clock:     func() time.Time { return now },
		CacheSize: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	token := func(sub string) []byte {
		return []byte(s.Token(t, map[string]any{"iss": "iss", "sub": sub, "exp": now.Add(time.Hour).Unix()}, nil))
	}
	first := token("a")
	if _, err := v.Verify(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	// Mark the remembered claims: a second Verify that returns the mark was served from memory.
	v.cache.get(sha256.Sum256(first), now).claims["served_from_cache"] = true
	res, err := v.Verify(context.Background(), first)
	if err != nil || res.Claims["served_from_cache"] != true {
		t.Fatalf("second Verify() = %v, %v; want the remembered result", res, err)
	}
	for _, sub := range []string{"b", "c", "d"} {
		if _, err := v.Verify(context.Background(), token(sub)); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.cache.len(); n != 2 {
		t.Errorf("cache holds %d tokens, want its size 2", n)
	}
	if _, err := v.Verify(context.Background(), []byte("x.y.z")); err == nil || v.cache.len() != 2 {
		t.Errorf("a rejected token changed the cache (len %d) or passed (%v)", v.cache.len(), err)
	}
	fresh := token("e")
	if _, err := v.VerifyUncached(context.Background(), fresh); err != nil {
		t.Fatal(err)
	}
	if v.cache.get(sha256.Sum256(fresh), now) != nil {
		t.Error("VerifyUncached remembered the token")
	}
}

func mustMarshal(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
