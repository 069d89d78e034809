package signing

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"
)

// Mint signs claims as a compact JWS (RFC 7515 §7.1) whose protected header is exactly
// {"alg", "kid", "typ"}: alg and kid of the key that signs now (kid = its RFC 7638 thumbprint),
// and typ as given (such as "at+jwt", RFC 9068 §2.1; empty leaves typ out).
//
// claims must carry a numeric exp no further ahead than MaxTokenLifetime: that bound is what lets
// a retired key leave the published set once its last token expired.
func (m *Manager) Mint(ctx context.Context, typ string, claims map[string]any) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	now := m.clock()
	k, err := m.current(now)
	if err != nil {
		return "", err
	}
	if err := m.checkExp(claims, now); err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encoding claims: %w", err)
	}
	header, err := json.Marshal(joseHeader{Alg: k.alg, Kid: k.kid, Typ: typ})
	if err != nil {
		return "", fmt.Errorf("encoding header: %w", err)
	}
	enc := base64.RawURLEncoding
	hl, pl := enc.EncodedLen(len(header)), enc.EncodedLen(len(payload))
	buf := make([]byte, hl+1+pl, hl+1+pl+1+enc.EncodedLen(512))
	enc.Encode(buf, header)
	buf[hl] = '.'
	enc.Encode(buf[hl+1:], payload)
	sig, err := sign(k.priv, k.alg, buf)
	if err != nil {
		return "", fmt.Errorf("signing with key %s: %w", k.kid, err)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// joseHeader is the protected header of minted tokens, in this member order.
type joseHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ,omitempty"`
}

// checkExp requires a numeric exp within MaxTokenLifetime of now.
func (m *Manager) checkExp(claims map[string]any, now time.Time) error {
	exp, ok := numericDate(claims["exp"])
	if !ok {
		return errors.New("claims: exp is required and must be a number (RFC 7519 §2 NumericDate)")
	}
	if limit := now.Add(m.maxTokenLifetime).Unix(); exp > float64(limit) {
		return fmt.Errorf("claims: exp is more than %v ahead (the signer's max token lifetime)", m.maxTokenLifetime)
	}
	return nil
}

// numericDate reads the number types a caller may put in claims.
func numericDate(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, !math.IsNaN(n) && !math.IsInf(n, 0)
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// sign makes the JWS signature of input (RFC 7518 §3).
func sign(priv crypto.Signer, alg string, input []byte) ([]byte, error) {
	h := hashFor(alg)
	var digest []byte
	if h != 0 {
		hh := h.New()
		hh.Write(input)
		digest = hh.Sum(nil)
	}
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		der, err := ecdsa.SignASN1(rand.Reader, k, digest)
		if err != nil {
			return nil, err
		}
		return ecdsaRaw(der, (k.Curve.Params().BitSize+7)/8)
	case *rsa.PrivateKey:
		if alg[0] == 'R' {
			return rsa.SignPKCS1v15(rand.Reader, k, h, digest)
		}
		// RFC 7518 §3.5: the salt is as long as the hash.
		return rsa.SignPSS(rand.Reader, k, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
	case ed25519.PrivateKey:
		return ed25519.Sign(k, input), nil
	}
	return nil, fmt.Errorf("unsupported private key type %T", priv)
}

// hashFor is the hash of a JWS algorithm; 0 for EdDSA, which hashes internally.
func hashFor(alg string) crypto.Hash {
	switch alg[len(alg)-3:] {
	case "256":
		return crypto.SHA256
	case "384":
		return crypto.SHA384
	case "512":
		return crypto.SHA512
	}
	return 0
}

// ecdsaRaw turns an ASN.1 ECDSA signature into the JWS form R || S, each size bytes
// (RFC 7518 §3.4).
func ecdsaRaw(der []byte, size int) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 {
		return nil, errors.New("malformed ECDSA signature")
	}
	out := make([]byte, 2*size)
	sig.R.FillBytes(out[:size])
	sig.S.FillBytes(out[size:])
	return out, nil
}
