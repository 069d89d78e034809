package ecverify_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"math/big"
	mrand "math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/internal/ecverify"
)

// checkSame asserts that both fast paths and the public VerifyJWS give crypto/ecdsa's verdict
// on (digest, sig), and returns that verdict.
func checkSame(t *testing.T, what string, priv *ecdsa.PrivateKey, k *ecverify.PublicKey, digest, sig []byte) bool {
	t.Helper()
	want := stdVerdict(&priv.PublicKey, digest, sig)
	for _, p := range paths {
		if got := p.verify(k, digest, sig); got != want {
			t.Errorf("%s (%s path): fast path says %v, crypto/ecdsa says %v (digest %x, sig %x)", what, p.name, got, want, digest, sig)
		}
	}
	if got := k.VerifyJWS(digest, sig); got != want {
		t.Errorf("%s (VerifyJWS): fast path says %v, crypto/ecdsa says %v", what, got, want)
	}
	return want
}

// corruptions returns variants of a valid (digest, sig) that must all get crypto/ecdsa's
// verdict: bit flips, r and s at and around the range limits (0, 1, n-1, n, n+1, 2^256-1),
// swapped halves, the other valid s (n - s), wrong lengths, and digests truncated, extended,
// empty or shifted by n.
func corruptions(rng *mrand.Rand, digest, sig []byte) map[string][2][]byte {
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	flip := func(b []byte) []byte {
		c := bytes.Clone(b)
		if len(c) > 0 {
			i := rng.IntN(len(c) * 8)
			c[i/8] ^= 1 << (i % 8)
		}
		return c
	}
	one := big.NewInt(1)
	max := new(big.Int).Sub(new(big.Int).Lsh(one, 256), one)
	values := map[string]*big.Int{
		"0": new(big.Int), "1": one, "n-1": new(big.Int).Sub(n, one), "n": n,
		"n+1": new(big.Int).Add(n, one), "2^256-1": max,
	}
	out := map[string][2][]byte{
		"valid":               {digest, sig},
		"signature bit flip":  {digest, flip(sig)},
		"digest bit flip":     {flip(digest), sig},
		"r and s swapped":     {digest, append(bytes.Clone(sig[32:]), sig[:32]...)},
		"s = n - s":           {digest, jwsSig(r, new(big.Int).Sub(n, s))},
		"r + n":               {digest, jwsSig(new(big.Int).Add(r, n), s)},
		"s + n":               {digest, jwsSig(r, new(big.Int).Add(s, n))},
		"signature truncated": {digest, sig[:63]},
		"signature extended":  {digest, append(bytes.Clone(sig), 0)},
		"leading zero":        {digest, append([]byte{0}, sig...)},
		"signature empty":     {digest, nil},
		"DER-length sig":      {digest, append(bytes.Clone(sig), 0, 0, 0, 0, 0, 0, 0, 0)[:72]},
		"digest truncated":    {digest[:31], sig},
		"digest extended":     {append(bytes.Clone(digest), 0xff), sig},
		"digest empty":        {nil, sig},
	}
	for name, v := range values {
		out["r = "+name] = [2][]byte{digest, jwsSig(v, s)}
		out["s = "+name] = [2][]byte{digest, jwsSig(r, v)}
	}
	if e := new(big.Int).SetBytes(digest); new(big.Int).Add(e, n).BitLen() <= 256 {
		out["digest + n"] = [2][]byte{new(big.Int).Add(e, n).FillBytes(make([]byte, 32)), sig}
	}
	return out
}

// TestRandomSignaturesSameVerdictAsCryptoECDSA signs random messages with random keys and with
// the fixed test keys (among them Q = G and Q = -G), and checks that the fast path, before and
// after its table is built, gives crypto/ecdsa's verdict on the valid signature and on every
// corruption of it.
func TestRandomSignaturesSameVerdictAsCryptoECDSA(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	privs := testKeys(t)
	for range 3 {
		p, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		privs = append(privs, p)
	}
	for ki, priv := range privs {
		k := ecverify.Prepare(&priv.PublicKey)
		if k == nil {
			t.Fatalf("key %d: Prepare refused a P-256 key", ki)
		}
		for range 6 {
			msg := make([]byte, rng.IntN(200))
			for i := range msg {
				msg[i] = byte(rng.Uint32())
			}
			digest := sha(msg)
			sig := sign(t, priv, digest)
			for what, c := range corruptions(rng, digest, sig) {
				if got := checkSame(t, what, priv, k, c[0], c[1]); what == "valid" && !got {
					t.Errorf("key %d: crypto/ecdsa rejected a valid signature", ki)
				}
			}
		}
	}
}

// TestEdgeScalarsSameVerdictAsCryptoECDSA verifies valid signatures constructed for chosen u1
// and u2 (see forge), and corruptions of them: u2 with every window zero but one, with every
// signed digit at its limit (carries through all windows), u2 = 1, 2, n-1 (u2·Q = -Q), u1 = 0
// (e ≡ 0: a digest of 0 or of n), u1 = u2 with Q = G (the final addition is a doubling).
func TestEdgeScalarsSameVerdictAsCryptoECDSA(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(3, 4))
	one := big.NewInt(1)
	u2s := []*big.Int{one, big.NewInt(2), big.NewInt(15), big.NewInt(16), big.NewInt(17), big.NewInt(31),
		big.NewInt(32), big.NewInt(33), new(big.Int).Sub(n, one), new(big.Int).Sub(n, big.NewInt(16)),
		new(big.Int).Rsh(n, 1), new(big.Int).Lsh(one, 255)}
	for bit := 0; bit < 256; bit += 7 {
		u2s = append(u2s, new(big.Int).Lsh(one, uint(bit)))
	}
	for _, d := range []int64{16, 17, 31, 1} { // one digit value in every 5-bit window
		x := new(big.Int)
		for i := 0; i < 256; i += 5 {
			x.Or(x, new(big.Int).Lsh(big.NewInt(d), uint(i)))
		}
		u2s = append(u2s, x.Mod(x, n))
	}
	for ki, priv := range testKeys(t) {
		k := ecverify.Prepare(&priv.PublicKey)
		for _, u2 := range u2s {
			for _, u1 := range []*big.Int{new(big.Int), one, randScalar(rng), u2} {
				digest, sig, ok := forge(t, &priv.PublicKey, u1, u2)
				if !ok {
					continue // R at infinity: TestPointAtInfinityRejected
				}
				if !checkSame(t, "forged", priv, k, digest, sig) {
					t.Errorf("key %d, u1 %x, u2 %x: the constructed signature does not verify with crypto/ecdsa", ki, u1, u2)
				}
				for what, c := range corruptions(rng, digest, sig) {
					checkSame(t, "forged, "+what, priv, k, c[0], c[1])
				}
			}
		}
		// e ≡ 0 mod n from a digest equal to n, and digests that reduce to small values.
		for _, e := range []*big.Int{new(big.Int), n, big.NewInt(5), new(big.Int).Add(n, big.NewInt(5))} {
			digest := e.FillBytes(make([]byte, 32))
			sig := sign(t, priv, digest)
			if !checkSame(t, "small digest", priv, k, digest, sig) {
				t.Errorf("key %d, digest %x: valid signature rejected by crypto/ecdsa", ki, digest)
			}
		}
	}
}

// TestPointAtInfinityRejected: with Q = G, r = n - e makes u1·G + u2·Q the point at infinity
// for every s; with Q = -G, r = e does. Both crypto/ecdsa and the fast path reject.
func TestPointAtInfinityRejected(t *testing.T) {
	keys := testKeys(t)
	rng := mrand.New(mrand.NewPCG(5, 6))
	for _, tc := range []struct {
		name string
		priv *ecdsa.PrivateKey
		r    func(e *big.Int) *big.Int
	}{
		{"Q = G, r = n - e", keys[1], func(e *big.Int) *big.Int { return new(big.Int).Sub(n, e) }},
		{"Q = -G, r = e", keys[2], func(e *big.Int) *big.Int { return new(big.Int).Set(e) }},
	} {
		k := ecverify.Prepare(&tc.priv.PublicKey)
		for range 8 {
			e, s := randScalar(rng), randScalar(rng)
			if e.Sign() == 0 || s.Sign() == 0 {
				continue
			}
			digest, sig := e.FillBytes(make([]byte, 32)), jwsSig(tc.r(e), s)
			if checkSame(t, tc.name, tc.priv, k, digest, sig) {
				t.Errorf("%s: crypto/ecdsa accepted R at infinity", tc.name)
			}
		}
	}
}

// TestTableIsBuiltOnSecondUse: a prepared key has no table; its first verification does not
// build one, its second does (and takes a place in the budget); every verdict along the way is
// crypto/ecdsa's.
func TestTableIsBuiltOnSecondUse(t *testing.T) {
	waitTables(t, 0) // the keys of earlier tests, collected now rather than during the counts
	priv := testKeys(t)[0]
	k := ecverify.Prepare(&priv.PublicKey)
	digest := sha([]byte("msg"))
	sig := sign(t, priv, digest)
	bad := bytes.Clone(sig)
	bad[5] ^= 1
	if ecverify.HasTable(k) {
		t.Fatal("Prepare built a table")
	}
	if !k.VerifyJWS(digest, sig) || ecverify.HasTable(k) {
		t.Fatalf("first verification: table built = %v, want false", ecverify.HasTable(k))
	}
	before := ecverify.TablesInUse()
	if k.VerifyJWS(digest, bad) || !ecverify.HasTable(k) {
		t.Fatalf("second verification: table built = %v, want true", ecverify.HasTable(k))
	}
	if got := ecverify.TablesInUse(); got != before+1 {
		t.Errorf("tables in use %d, want %d", got, before+1)
	}
	for range 3 {
		if !k.VerifyJWS(digest, sig) || k.VerifyJWS(digest, bad) {
			t.Fatal("wrong verdict with the table")
		}
	}
	runtime.KeepAlive(k)
}

// TestTableBudget: beyond MaxTables keys, keys verify on the plain path (same verdicts) without
// a table; when keys are collected their places are given back and a new key gets a table.
func TestTableBudget(t *testing.T) {
	waitTables(t, 0)
	priv := testKeys(t)[0]
	digest := sha([]byte("budget"))
	sig := sign(t, priv, digest)
	var held []*ecverify.PublicKey
	for range ecverify.MaxTables + 3 {
		k := ecverify.Prepare(&priv.PublicKey)
		for range 2 {
			if !k.VerifyJWS(digest, sig) {
				t.Fatal("valid signature rejected")
			}
		}
		held = append(held, k)
	}
	if got := ecverify.TablesInUse(); got != ecverify.MaxTables {
		t.Fatalf("tables in use %d, want the cap %d", got, ecverify.MaxTables)
	}
	for i, k := range held {
		if has := ecverify.HasTable(k); has != (i < ecverify.MaxTables) {
			t.Errorf("key %d: has table %v", i, has)
		}
	}
	last := held[len(held)-1]
	held = nil
	runtime.KeepAlive(held)
	waitTables(t, 0)
	// The key that found the budget full gets its table once places are free.
	if !last.VerifyJWS(digest, sig) || !ecverify.HasTable(last) {
		t.Errorf("after the budget was freed: has table %v, want true", ecverify.HasTable(last))
	}
	runtime.KeepAlive(last)
}

// waitTables runs the garbage collector until at most want tables are in use (the cleanups of
// collected keys run in their own goroutine), failing after a bounded number of rounds.
func waitTables(t *testing.T, want int64) {
	t.Helper()
	for range 200 {
		if ecverify.TablesInUse() <= want {
			return
		}
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("tables in use %d, want at most %d after collecting the keys", ecverify.TablesInUse(), want)
}

// TestConcurrentFirstUses: goroutines verifying with a fresh key at once all get the right
// verdicts while one of them builds the table (run under -race), and the key ends with a single
// table.
func TestConcurrentFirstUses(t *testing.T) {
	waitTables(t, 0)
	priv := testKeys(t)[0]
	k := ecverify.Prepare(&priv.PublicKey)
	digest := sha([]byte("concurrent"))
	sig := sign(t, priv, digest)
	bad := bytes.Clone(sig)
	bad[40] ^= 0x80
	before := ecverify.TablesInUse()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				if !k.VerifyJWS(digest, sig) || k.VerifyJWS(digest, bad) {
					t.Error("wrong verdict")
				}
			}
		})
	}
	wg.Wait()
	if !ecverify.HasTable(k) || ecverify.TablesInUse() != before+1 {
		t.Errorf("has table %v, tables in use %d (before %d)", ecverify.HasTable(k), ecverify.TablesInUse(), before)
	}
	runtime.KeepAlive(k)
}

// TestTableSize keeps the documented memory figure honest.
func TestTableSize(t *testing.T) {
	if ecverify.TableBytes < 120_000 || ecverify.TableBytes > 140_000 {
		t.Errorf("a table takes %d bytes; the package doc says 129 KiB", ecverify.TableBytes)
	}
}
