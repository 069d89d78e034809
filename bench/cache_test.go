package bench

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
)

// cacheSecret is the HS256 key of the cache scenarios: HMAC verification is cheap, so what the
// figures show is the cache's own cost.
var cacheSecret = []byte("0123456789abcdef0123456789abcdef")

// cacheTokens mints n distinct HS256 access tokens of a typical shape (iss, aud, sub, iat, exp,
// jti, scope, client_id), valid at now.
func cacheTokens(b *testing.B, n int, now time.Time) [][]byte {
	b.Helper()
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"cache-1","typ":"at+jwt"}`))
	out := make([][]byte, n)
	for i := range n {
		claims, err := json.Marshal(map[string]any{
			"iss": benchIssuer, "aud": "bench", "sub": fmt.Sprintf("user-%d", i),
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": fmt.Sprintf("5f0c1e2a-%08d", i),
			"scope": "accounts payments", "client_id": "tpp-8d2f1c",
		})
		if err != nil {
			b.Fatal(err)
		}
		input := header + "." + base64.RawURLEncoding.EncodeToString(claims)
		mac := hmac.New(sha256.New, cacheSecret)
		mac.Write([]byte(input))
		out[i] = []byte(input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)))
	}
	return out
}

func cacheVerifier(b *testing.B, size int, now time.Time) *verify.Verifier {
	b.Helper()
	k, skipped, err := keys.ParseJWKs([]byte(fmt.Sprintf(`{"kty":"oct","kid":"cache-1","k":%q}`,
		base64.RawURLEncoding.EncodeToString(cacheSecret))), "bench", keys.JWKOptions{AllowSymmetric: true})
	if err != nil || len(skipped) > 0 {
		b.Fatalf("key: %v %v", err, skipped)
	}
	v, err := verify.New(verify.Policy{
		Issuers:   []verify.Issuer{{Name: benchIssuer, Sources: []keys.Source{keys.NewStatic(k...)}}},
		Audience:  []string{"bench"},
		CacheSize: size,
		Clock:     func() time.Time { return now },
	})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkVerifiedCache100k is a verified-token cache of 100,000 entries: "hit" cycles through
// 100,000 tokens already remembered; "evicting" cycles through 150,000, so that most lookups miss
// and every miss evicts an entry to make room; "off" verifies the same 150,000 without a cache
// (the reference for "evicting"). B/entry is the live heap the full cache holds per entry (the
// entry, its map slot and the token's decoded claims).
//
//	go test -run='^$' -bench=VerifiedCache100k -benchmem ./bench
func BenchmarkVerifiedCache100k(b *testing.B) {
	const size = 100_000
	now := time.Now()
	tokens := cacheTokens(b, size*3/2, now)
	for _, tc := range []struct {
		name   string
		cache  int
		tokens [][]byte
	}{
		{"hit", size, tokens[:size]},
		{"evicting", size, tokens},
		{"off", 0, tokens},
	} {
		b.Run(tc.name, func(b *testing.B) {
			before := heapInUse()
			v := cacheVerifier(b, tc.cache, now)
			for _, tok := range tc.tokens[:min(len(tc.tokens), size)] {
				if _, err := v.Verify(b.Context(), tok); err != nil {
					b.Fatal(err)
				}
			}
			held := heapInUse() - before
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				if _, err := v.Verify(b.Context(), tc.tokens[i%len(tc.tokens)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			if tc.cache > 0 {
				b.ReportMetric(float64(held)/float64(tc.cache), "B/entry")
			}
		})
	}
}
