// Package rsaverify verifies RSASSA-PKCS1-v1_5 and RSASSA-PSS signatures (RFC 8017 §8.2.2 and
// §9.1.2) with a public key whose values were prepared once, when the key was loaded.
//
// crypto/rsa rebuilds the modulus in Montgomery form (bigmod.NewModulus, about a third of an
// RSA-2048 verification) on every call, because an rsa.PublicKey has nowhere to keep it. A
// PublicKey here keeps it, so a verification is only the exponentiation with e (variable time:
// everything involved is public) and the encoding check. filippo.io/bigmod is the exported form
// of the standard library's own modular arithmetic.
//
// Where the CPU has AVX-512 IFMA (52-bit integer multiply-add on eight 64-bit lanes) and the
// modulus has 1537 to 4158 bits, the exponentiation runs instead on kernels of its own
// (radix52.go; radix52_amd64.s, written by gen_amd64.go): numbers are held as 40, 64 or 80
// limbs of 52 bits (RSA-2048, -3072, -4096) and multiplied by operand-scanning Montgomery
// multiplication, eight limbs per 512-bit register. Against bigmod that is 3.3 times as fast
// for RSA-2048 and 8-11 times for RSA-3072 and -4096, whose sizes bigmod has no assembly for.
// Elsewhere (no IFMA, other architectures, the purego build tag) bigmod does it.
//
// The verdict is crypto/rsa's on every input: Prepare refuses (returns nil for) every key that
// crypto/rsa would treat differently (even modulus, out-of-range exponent, keys under 1024 bits,
// FIPS 140-3 mode, moduli over 8192 bits), and hashes other than SHA-256/384/512 go to crypto/rsa.
// The tests compare both, and each engine this machine has, on every Wycheproof vector, on
// random keys and corruptions, and under differential fuzz targets (the kernels alone also
// against math/big).
package rsaverify

import (
	"bytes"
	"crypto"
	"crypto/fips140"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"

	"filippo.io/bigmod"

	"github.com/obgate/obgate/caddyjwt/internal/natbytes"
)

// maxBytes bounds the modulus the fast path handles (8192 bits), so that the encoded message
// fits in buffers on the stack; larger keys go to crypto/rsa.
const maxBytes = 1024

// PublicKey is an RSA public key with its modulus prepared for verification. It is immutable and
// safe for concurrent use.
type PublicKey struct {
	pub    *rsa.PublicKey // for what the fast path does not handle
	n      *bigmod.Modulus
	n52    *modulus52 // the AVX-512 IFMA path, where the CPU has it and the size fits; else nil
	e      uint
	size   int // k: the modulus length in octets (RFC 8017 §8.2.2 step 1)
	emBits int // modBits - 1 (RFC 8017 §8.1.2 step 1)
}

// Prepare precomputes pub's values for verification. It returns nil when the fast path must not
// be used for pub, and the caller then verifies with crypto/rsa.
func Prepare(pub *rsa.PublicKey) *PublicKey {
	if pub == nil || pub.N == nil || fips140.Enabled() {
		// In FIPS 140-3 mode crypto/rsa applies the module's own key and hash rules.
		return nil
	}
	bits := pub.N.BitLen()
	// crypto/rsa rejects every signature for these keys (checkPublicKey, checkKeySize); the
	// fallback keeps its exact answer without restating its rules here.
	if bits < 1024 || (bits+7)/8 > maxBytes || pub.N.Bit(0) == 0 ||
		pub.E < 3 || pub.E&1 == 0 || pub.E > 1<<31-1 {
		return nil
	}
	n, err := bigmod.NewModulus(pub.N.Bytes())
	if err != nil {
		return nil
	}
	return &PublicKey{pub: pub, n: n, n52: newModulus52(pub.N, uint(pub.E)), e: uint(pub.E), size: (bits + 7) / 8, emBits: bits - 1}
}

// Public returns the key this was prepared from.
func (k *PublicKey) Public() *rsa.PublicKey { return k.pub }

// DER DigestInfo of each hash up to the digest itself (RFC 8017 §9.2, note 1).
var (
	prefixSHA256 = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	prefixSHA384 = []byte{0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30}
	prefixSHA512 = []byte{0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40}
)

// digestInfoPrefix returns hash's DigestInfo prefix, or nil for a hash the fast path leaves to
// crypto/rsa.
func digestInfoPrefix(h crypto.Hash) []byte {
	switch h {
	case crypto.SHA256:
		return prefixSHA256
	case crypto.SHA384:
		return prefixSHA384
	case crypto.SHA512:
		return prefixSHA512
	}
	return nil
}

// VerifyPKCS1v15 reports whether sig is a valid RSASSA-PKCS1-v1_5 signature of the digest
// hashed made with hash (RFC 8017 §8.2.2), as rsa.VerifyPKCS1v15 would.
func (k *PublicKey) VerifyPKCS1v15(hash crypto.Hash, hashed, sig []byte) bool {
	prefix := digestInfoPrefix(hash)
	if prefix == nil {
		return rsa.VerifyPKCS1v15(k.pub, hash, hashed, sig) == nil
	}
	if len(hashed) != hash.Size() || len(sig) != k.size || k.size < len(prefix)+len(hashed)+11 {
		return false
	}
	var emBuf, wantBuf [maxBytes]byte
	em := emBuf[:k.size]
	if !k.encrypt(em, sig) {
		return false
	}
	// Step 3 (EMSA-PKCS1-v1_5 encoding, §9.2): EM = 0x00 || 0x01 || PS || 0x00 || T. The whole
	// expected EM is built and compared, rather than the received one parsed, so that no
	// variant of the padding or the DER can be accepted.
	want := wantBuf[:k.size]
	want[1] = 0x01
	tStart := k.size - len(prefix) - len(hashed)
	for i := 2; i < tStart-1; i++ {
		want[i] = 0xff
	}
	copy(want[tStart:], prefix)
	copy(want[tStart+len(prefix):], hashed)
	return subtle.ConstantTimeCompare(em, want) == 1
}

// VerifyPSS reports whether sig is a valid RSASSA-PSS signature of the digest made with hash,
// MGF1 with the same hash and a salt as long as the hash (RFC 8017 §9.1.2; the JWS PS algorithms,
// RFC 7518 §3.5), as rsa.VerifyPSS with rsa.PSSSaltLengthEqualsHash would.
func (k *PublicKey) VerifyPSS(hash crypto.Hash, digest, sig []byte) bool {
	if digestInfoPrefix(hash) == nil {
		// Copies, so that the fast path's arguments stay where the caller put them.
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
		return rsa.VerifyPSS(k.pub, hash, bytes.Clone(digest), bytes.Clone(sig), opts) == nil
	}
	hLen := hash.Size()
	sLen := hLen
	if len(digest) != hLen || len(sig) != k.size {
		return false
	}
	var emBuf [maxBytes]byte
	em := emBuf[:k.size]
	if !k.encrypt(em, sig) {
		return false
	}
	// RSAVP1 gives k octets; EM is emLen = ceil(emBits/8) octets, one fewer when modBits-1 is a
	// multiple of 8, and the octet dropped must then be zero (§8.1.2 step 2c).
	emLen := (k.emBits + 7) / 8
	for len(em) > emLen {
		if em[0] != 0 {
			return false
		}
		em = em[1:]
	}
	// EMSA-PSS-VERIFY (§9.1.2), steps 3-14.
	if emLen < hLen+sLen+2 || em[emLen-1] != 0xbc {
		return false
	}
	db := em[:emLen-hLen-1]
	h := em[emLen-hLen-1 : emLen-1]
	bitMask := byte(0xff >> (8*emLen - k.emBits))
	if em[0]&^bitMask != 0 {
		return false
	}
	mgf1XOR(db, hash, h)
	db[0] &= bitMask
	psLen := emLen - hLen - sLen - 2
	for _, b := range db[:psLen] {
		if b != 0 {
			return false
		}
	}
	if db[psLen] != 0x01 {
		return false
	}
	salt := db[len(db)-sLen:]
	var mBuf [8 + 2*sha512.Size]byte // M' = (0x)00 00 00 00 00 00 00 00 || mHash || salt
	n := copy(mBuf[8:], digest) + 8
	n += copy(mBuf[n:], salt)
	var sum [sha512.Size]byte
	return subtle.ConstantTimeCompare(sumInto(&sum, hash, mBuf[:n]), h) == 1
}

// encrypt is RSAVP1 (§5.2.2): em = sig^e mod n as k octets. It fails when sig is not less than
// n (step 1), as crypto/rsa does.
func (k *PublicKey) encrypt(em, sig []byte) bool {
	if k.n52 != nil {
		return k.n52.encrypt(em, sig)
	}
	s, err := bigmod.NewNat().SetBytes(sig, k.n)
	if err != nil {
		return false
	}
	natbytes.Fill(em, bigmod.NewNat().ExpShortVarTime(s, k.e, k.n)) // I2OSP (§4.1)
	return true
}

// mgf1XOR xors out with MGF1(seed, len(out)) under hash (RFC 8017 Appendix B.2.1).
func mgf1XOR(out []byte, hash crypto.Hash, seed []byte) {
	var in [sha512.Size + 4]byte
	n := copy(in[:], seed)
	var sum [sha512.Size]byte
	for counter := uint32(0); len(out) > 0; counter++ {
		in[n], in[n+1], in[n+2], in[n+3] = byte(counter>>24), byte(counter>>16), byte(counter>>8), byte(counter)
		block := sumInto(&sum, hash, in[:n+4])
		m := subtle.XORBytes(out, out, block)
		out = out[m:]
	}
}

// sumInto hashes in with hash (SHA-256, SHA-384 or SHA-512) into buf, without allocating.
func sumInto(buf *[sha512.Size]byte, hash crypto.Hash, in []byte) []byte {
	switch hash {
	case crypto.SHA256:
		s := sha256.Sum256(in)
		return buf[:copy(buf[:], s[:])]
	case crypto.SHA384:
		s := sha512.Sum384(in)
		return buf[:copy(buf[:], s[:])]
	default:
		*buf = sha512.Sum512(in)
		return buf[:]
	}
}
