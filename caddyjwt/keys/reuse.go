package keys

import (
	"crypto"
	"slices"
)

// keepPrepared returns fresh, the keys of a new fetch, with every key that is the same as one
// in old replaced by old's Key value, so that what was prepared for it survives the refresh:
// an RSA key's modulus in Montgomery form, a P-256 key's table of multiples (and its place in
// the process's budget of tables). Keys that are new or changed stay as parsed; keys missing
// from fresh are not added. fresh is modified in place and returned.
func keepPrepared(old *Set, fresh []Key) []Key {
	if old.Len() == 0 {
		return fresh
	}
	for i, k := range fresh {
		if prev, ok := old.Lookup(k.ID); ok && sameKey(prev, k) {
			fresh[i] = prev
		}
	}
	return fresh
}

// sameKey reports whether a and b are the same verification key: the same kid (and whether
// it is the key's own), the same algorithms in the same order, the same origin and the same
// public key. A kid alone is not enough: an issuer may reuse a kid for a new key, and that key
// must be used. Only keys whose public key has an Equal method (RSA, EC, OKP) can be the same;
// an HMAC secret has nothing prepared to keep. The prepared state is derived from the public
// key and is not compared. A field added to Key must be added here (a test checks).
func sameKey(a, b Key) bool {
	if a.ID != b.ID || a.NoKID != b.NoKID || a.Thumbprint != b.Thumbprint || a.Origin != b.Origin ||
		!slices.Equal(a.Algorithms, b.Algorithms) {
		return false
	}
	pub, ok := a.Public.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(b.Public)
}
