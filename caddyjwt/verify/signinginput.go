package verify

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"io"

	"github.com/lestrrat-go/dsig"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/obgate/obgate/caddyjwt/internal/ecverify"
	"github.com/obgate/obgate/caddyjwt/internal/rsaverify"
	"github.com/obgate/obgate/caddyjwt/keys"
)

// signingInput is what a JWS signature covers (RFC 7515 §5.2):
// ASCII(BASE64URL(UTF8(JWS Protected Header)) || '.' || BASE64URL(JWS Payload)), or with the
// payload as it is when b64 is false (RFC 7797 §3).
//
// A token in compact form carries its signing input, which is used as it is. For a detached
// payload (RFC 7515 Appendix F) such as a request body, the signing input is streamed into the
// algorithm's hash instead of being built: a 64 KiB body then costs no copy and no
// base64-encoded buffer. Only EdDSA, which signs the message itself, needs the bytes together.
type signingInput struct {
	whole []byte // the signing input as the token carries it; nil for a detached payload

	header      []byte // the protected header segment, as sent
	body        []byte // the detached payload
	encodedBody bool   // the payload is base64url-encoded in the signing input (b64 absent or true)
}

// compactInput is the signing input of a token that carries its payload.
func compactInput(whole []byte) signingInput { return signingInput{whole: whole} }

// detachedInput is the signing input of a detached payload.
func detachedInput(header, body []byte, encoded bool) signingInput {
	return signingInput{header: header, body: body, encodedBody: encoded}
}

// writeTo writes the signing input to w, encoding the body on the fly.
func (in signingInput) writeTo(w io.Writer) {
	if in.whole != nil {
		_, _ = w.Write(in.whole)
		return
	}
	_, _ = w.Write(in.header)
	_, _ = w.Write([]byte{'.'})
	if !in.encodedBody {
		_, _ = w.Write(in.body)
		return
	}
	enc := base64.NewEncoder(base64.RawURLEncoding, w)
	_, _ = enc.Write(in.body)
	_ = enc.Close() // flushes the last partial quantum; writes to a hash never fail
}

// bytes returns the signing input in one slice (a copy only for a detached payload).
func (in signingInput) bytes() []byte {
	if in.whole != nil {
		return in.whole
	}
	var b sliceWriter
	in.writeTo(&b)
	return b
}

type sliceWriter []byte

func (s *sliceWriter) Write(p []byte) (int, error) { *s = append(*s, p...); return len(p), nil }

// hashes maps each digest-based algorithm to its hash (RFC 7518 §3.2-3.5).
var hashes = map[string]crypto.Hash{
	"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512,
	"PS256": crypto.SHA256, "PS384": crypto.SHA384, "PS512": crypto.SHA512,
	"ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512,
	"HS256": crypto.SHA256, "HS384": crypto.SHA384, "HS512": crypto.SHA512,
}

// signatureCheck verifies one signature over one signing input with the candidate keys of one
// algorithm. A detached payload's digest is computed once and shared by the candidates.
type signatureCheck struct {
	alg    string
	input  signingInput
	sig    []byte
	digest []byte // a detached signing input's hash, computed on first use
}

// rsaSchemes maps each RSA algorithm to its hash and whether it is PSS (RFC 7518 §3.3, §3.5).
var rsaSchemes = map[string]struct {
	hash crypto.Hash
	pss  bool
}{
	"RS256": {crypto.SHA256, false}, "RS384": {crypto.SHA384, false}, "RS512": {crypto.SHA512, false},
	"PS256": {crypto.SHA256, true}, "PS384": {crypto.SHA384, true}, "PS512": {crypto.SHA512, true},
}

// verify reports whether key made the signature. The algorithm fits the key: candidates checked it.
func (c *signatureCheck) verify(k keys.Key) bool {
	if p := k.PreparedRSA(); p != nil {
		if rs, ok := rsaSchemes[c.alg]; ok {
			return c.verifyPrepared(p, rs.hash, rs.pss)
		}
	}
	if p := k.PreparedEC(); p != nil && c.alg == "ES256" {
		return c.verifyPreparedEC(p)
	}
	// The library calls below may keep what they are given, so they get copies: the token's
	// signature and digest buffers then stay on the verifier's stack for the paths above.
	return c.verifyWith(k.Public, bytes.Clone(c.sig))
}

// verifyPrepared verifies with an RSA key whose modulus was prepared when it was loaded: only the
// exponentiation and the encoding check remain (the same verdict as crypto/rsa, see
// caddyjwt/internal/rsaverify). A compact input is hashed into a buffer on the stack.
func (c *signatureCheck) verifyPrepared(p *rsaverify.PublicKey, h crypto.Hash, pss bool) bool {
	var buf [sha512.Size]byte
	digest := c.inputDigest(&buf, h)
	if pss {
		return p.VerifyPSS(h, digest, c.sig)
	}
	return p.VerifyPKCS1v15(h, digest, c.sig)
}

// verifyPreparedEC verifies ES256 with a prepared P-256 key (the same verdict as crypto/ecdsa,
// see caddyjwt/internal/ecverify): from its second verification on, u2·Q uses the key's table
// instead of 256 doublings. A compact input is hashed into a buffer on the stack.
func (c *signatureCheck) verifyPreparedEC(p *ecverify.PublicKey) bool {
	var buf [sha512.Size]byte
	return p.VerifyJWS(c.inputDigest(&buf, crypto.SHA256), c.sig) // RFC 7518 §3.4: R || S, 32 octets each
}

// inputDigest is the hash h of the signing input: a compact input hashed into buf (on the caller's
// stack), a detached one as detachedDigest makes it.
func (c *signatureCheck) inputDigest(buf *[sha512.Size]byte, h crypto.Hash) []byte {
	if c.input.whole != nil {
		return hashInto(buf, h, c.input.whole)
	}
	return c.detachedDigest(h)
}

// verifyWith verifies with a key the standard library (through jwx) checks: ECDSA, EdDSA, HMAC,
// and RSA keys nothing was prepared for.
func (c *signatureCheck) verifyWith(key any, sig []byte) bool {
	if c.input.whole != nil {
		return jwsbb.Verify(key, c.alg, c.input.whole, sig) == nil
	}
	h, digestBased := hashes[c.alg]
	if !digestBased { // EdDSA (RFC 8037 §3.1) signs the message, not a digest of it
		return jwsbb.Verify(key, c.alg, c.input.bytes(), sig) == nil
	}
	dsigAlg, ok := jwsbb.GetDsigAlgorithm(c.alg)
	if !ok {
		return false
	}
	if secret, ok := key.([]byte); ok { // HMAC: the MAC depends on the key
		mac := hmac.New(h.New, secret)
		c.input.writeTo(mac)
		return dsig.VerifyDigest(nil, dsigAlg, mac.Sum(nil), sig) == nil
	}
	return dsig.VerifyDigest(key, dsigAlg, c.detachedDigest(h), sig) == nil
}

// detachedDigest returns a detached signing input's hash under h, streaming the input into the
// hash on first use.
func (c *signatureCheck) detachedDigest(h crypto.Hash) []byte {
	if c.digest == nil {
		c.digest = sum(h.New(), c.input)
	}
	return c.digest
}

// hashInto hashes in with h (SHA-256, SHA-384 or SHA-512) into buf.
func hashInto(buf *[sha512.Size]byte, h crypto.Hash, in []byte) []byte {
	switch h {
	case crypto.SHA256:
		s := sha256.Sum256(in)
		return buf[:copy(buf[:], s[:])]
	case crypto.SHA384:
		s := sha512.Sum384(in)
		return buf[:copy(buf[:], s[:])]
	}
	*buf = sha512.Sum512(in)
	return buf[:]
}

func sum(h hash.Hash, in signingInput) []byte {
	in.writeTo(h)
	return h.Sum(nil)
}
