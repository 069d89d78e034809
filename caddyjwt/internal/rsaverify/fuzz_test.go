package rsaverify_test

import (
	"crypto/rsa"
	"math/big"
	"testing"
)

// FuzzSameVerdictAsCryptoRSA is the differential fuzz target: for every input the fast path and
// crypto/rsa must agree. The input picks a key (2048 or 2049 bits), a scheme, a hash and a
// message, and gives either an encoded message, which the test signs with the raw private-key
// operation so that the fuzzer explores the encoding checks behind a real exponentiation, or
// (sel bit 4) the signature bytes themselves. Seeds are the valid encodings of each combination.
//
//	go test -run='^$' -fuzz=FuzzSameVerdictAsCryptoRSA -fuzztime=10m -parallel=1 ./caddyjwt/internal/rsaverify
func FuzzSameVerdictAsCryptoRSA(f *testing.F) {
	privs := []*rsa.PrivateKey{loadTestKey(f, "test-rsa-2048.pem"), loadTestKey(f, "test-rsa-2049.pem")}
	prepared := [][]engine{engines(&privs[0].PublicKey), engines(&privs[1].PublicKey)}
	for ki, priv := range privs {
		for si, s := range []scheme{pkcs1, pss} {
			for hi, h := range hashes {
				for _, msg := range []string{"", "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0"} {
					sig := signFor(f, priv, s, h, digestOf(h, []byte(msg)))
					sel := uint8(ki | si<<1 | hi<<2)
					f.Add(sel, []byte(msg), rawOpen(f, &priv.PublicKey, sig))
					f.Add(sel|1<<4, []byte(msg), sig)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, sel uint8, msg, data []byte) {
		priv, engs := privs[sel&1], prepared[sel&1]
		s := scheme(sel >> 1 & 1)
		h := hashes[min(int(sel>>2&3), len(hashes)-1)]
		digest := digestOf(h, msg)
		sig := data
		if sel&(1<<4) == 0 {
			size := priv.Size()
			em := make([]byte, size)
			if len(data) >= size {
				copy(em, data[len(data)-size:])
			} else {
				copy(em[size-len(data):], data)
			}
			if new(big.Int).SetBytes(em).Cmp(priv.N) < 0 {
				sig = rawSign(t, priv, em)
			}
		}
		want := stdVerdict(&priv.PublicKey, s, h, digest, sig)
		for _, e := range engs {
			if got := fastVerdict(e.key, s, h, digest, sig); got != want {
				t.Fatalf("%d-bit key, %v, %v: fast path (%s) says %v, crypto/rsa says %v", priv.N.BitLen(), s, h, e.name, got, want)
			}
		}
	})
}
