package binding

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/jwttest"
)

// BenchmarkBind measures a tokenio request signature (detached, the common form) over 1 KiB and
// 64 KiB bodies, next to verifying a bearer JWT with the same ES256 key (jwt_auth's engine call).
func BenchmarkBind(b *testing.B) {
	s := jwttest.NewEC(b, "ES256")
	v, err := verify.New(verify.Policy{
		Issuers: []verify.Issuer{{Name: "https://tpp.example", Sources: []keys.Source{keys.NewStatic(keys.Key{ID: s.KID, Public: s.Public(), Algorithms: []string{"ES256"}})}}},
		Clock:   fixedClock,
		// A compact tokenio JWS carries the body: the adapter raises the cap the same way.
		MaxTokenSize: verify.DefaultMaxTokenSize + b64.EncodedLen(64<<10),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("jwt_auth_alone", func(b *testing.B) {
		tok := []byte(s.Token(b, jwttest.Claims("https://tpp.example", "api", "alice", testNow), nil))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	binder, err := New(v, Config{Profile: ProfileTokenIO, Clock: fixedClock})
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{t: b, signer: s, v: v}
	for _, size := range []int{1 << 10, 64 << 10} {
		body := bytes.Repeat([]byte("a"), size)
		req := &Request{Method: "POST", Scheme: "https", Host: "api.bank.example", RawPath: "/banks/iron/consents", Body: body}
		h := map[string]any{
			"kid": s.KID, "exp": testNow.Add(time.Minute).UnixMilli(), "method": "POST",
			"host": "api.bank.example", "path": "/banks/iron/consents",
		}
		for _, detached := range []bool{true, false} {
			form := "detached"
			if !detached {
				form = "compact"
			}
			b.Run(fmt.Sprintf("tokenio_%s_%dKiB", form, size>>10), func(b *testing.B) {
				f.t = b
				tok := f.sign(with(h), body, detached)
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := binder.Verify(context.Background(), tok, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
