package rsaverify

import "crypto/rsa"

// PrepareBigmod prepares pub as Prepare does but without the AVX-512 IFMA path, so that the
// tests check the bigmod path on machines that have IFMA too.
func PrepareBigmod(pub *rsa.PublicKey) *PublicKey {
	k := Prepare(pub)
	if k != nil {
		k.n52 = nil
	}
	return k
}

// UsesIFMA reports whether k verifies with the AVX-512 IFMA path.
func (k *PublicKey) UsesIFMA() bool { return k.n52 != nil }
