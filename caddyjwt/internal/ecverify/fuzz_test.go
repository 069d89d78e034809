package ecverify_test

import (
	"math/big"
	"testing"

	"github.com/obgate/obgate/caddyjwt/internal/ecverify"
)

// FuzzSameVerdictAsCryptoECDSA is the differential fuzz target: for every input the fast path,
// on the plain path and with the key's table, and crypto/ecdsa must agree. sel picks one of the
// fixed test keys (an ordinary one, Q = G, Q = -G: where u1·G and u2·Q can cancel or coincide)
// and the mode: the data is the JWS signature itself (bit 2 clear), or (bit 2 set) u1 || u2,
// from which a valid signature is constructed (see forge) so that the fuzzer explores the scalar
// multiplications behind a signature that verifies, with bit 3 then flipping the bit of the
// signature that msg's first octet names. The digest is SHA-256 of msg, or (bit 4) msg itself,
// of any length (truncation and reduction mod n). Seeds are valid signatures of each key.
//
//	go test -run='^$' -fuzz=FuzzSameVerdictAsCryptoECDSA -fuzztime=5m -parallel=1 ./caddyjwt/internal/ecverify
func FuzzSameVerdictAsCryptoECDSA(f *testing.F) {
	privs := testKeys(f)
	plain := make([]*ecverify.PublicKey, len(privs))
	tabled := make([]*ecverify.PublicKey, len(privs))
	for i, priv := range privs {
		plain[i] = ecverify.Prepare(&priv.PublicKey)
		tabled[i] = ecverify.Prepare(&priv.PublicKey)
		if !ecverify.BuildTable(tabled[i]) {
			f.Fatal("no table")
		}
	}
	for ki, priv := range privs {
		for _, msg := range []string{"", "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0"} {
			sig := sign(f, priv, sha([]byte(msg)))
			f.Add(uint8(ki), []byte(msg), sig)
			f.Add(uint8(ki)|1<<4, sha([]byte(msg)), sig)
			f.Add(uint8(ki)|1<<2, []byte(msg), append(sig[32:], sig[:32]...))
			f.Add(uint8(ki)|1<<2|1<<3, []byte(msg), sig)
		}
	}
	f.Fuzz(func(t *testing.T, sel uint8, msg, data []byte) {
		ki := int(sel&3) % len(privs)
		priv := privs[ki]
		digest := msg
		if sel&(1<<4) == 0 {
			digest = sha(msg)
		}
		sig := data
		if sel&(1<<2) != 0 {
			if len(data) < 64 {
				return
			}
			u1 := new(big.Int).Mod(new(big.Int).SetBytes(data[:32]), n)
			u2 := new(big.Int).Mod(new(big.Int).SetBytes(data[32:64]), n)
			if u2.Sign() == 0 {
				return
			}
			var ok bool
			if digest, sig, ok = forge(t, &priv.PublicKey, u1, u2); !ok {
				return
			}
			if sel&(1<<3) != 0 && len(msg) > 0 {
				i := int(msg[0]) % (len(sig) * 8)
				sig[i/8] ^= 1 << (i % 8)
			}
		}
		want := stdVerdict(&priv.PublicKey, digest, sig)
		for name, k := range map[string]*ecverify.PublicKey{"plain": plain[ki], "table": tabled[ki]} {
			if got := verifyAs(name, k, digest, sig); got != want {
				t.Fatalf("key %d, %s path: fast path says %v, crypto/ecdsa says %v (digest %x, sig %x)", ki, name, got, want, digest, sig)
			}
		}
	})
}

// verifyAs verifies on the plain path for "plain" and with the built table otherwise.
func verifyAs(name string, k *ecverify.PublicKey, digest, sig []byte) bool {
	if name == "plain" {
		return ecverify.VerifyPlain(k, digest, sig)
	}
	return k.VerifyJWS(digest, sig)
}
