package signing_test

import (
	"testing"

	"github.com/obgate/obgate/authserver/signing"
)

// BenchmarkMint measures one access token (RFC 9068 claims, typ at+jwt) per algorithm:
//
//	go test -run '^$' -bench BenchmarkMint -benchmem ./authserver/signing/
func BenchmarkMint(b *testing.B) {
	for _, alg := range signing.GeneratedAlgorithms {
		b.Run(alg, func(b *testing.B) {
			clock := newClock()
			m := newManager(b, newMemStorage(), clock, alg)
			if err := m.Refresh(b.Context()); err != nil {
				b.Fatal(err)
			}
			now := clock.Now()
			claims := map[string]any{
				"iss": testIssuer, "sub": "client-1", "client_id": "client-1", "aud": "api",
				"scope": "accounts payments", "iat": now.Unix(), "exp": now.Add(5 * 60e9).Unix(),
				"jti": "b1f0c9d2-7c1e-4c55-9a53-2f1d0b7e6a11",
				"cnf": map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Mint(b.Context(), "at+jwt", claims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
