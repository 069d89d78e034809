package keys

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"slices"
)

// MinRSABits is the smallest RSA modulus obgate accepts, following RFC 7518 §3.3 and §3.5.
const MinRSABits = 2048

// Supported lists every JWS algorithm the engine can verify (RFC 7518 §3.1, RFC 8037 §3.1).
// "none" is not among them and never will be.
var Supported = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
	"HS256", "HS384", "HS512",
}

var (
	rsaAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	hmacMinBytes  = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64} // RFC 7518 §3.2
)

// IsSupported reports whether alg is a JWS algorithm the engine can verify.
func IsSupported(alg string) bool {
	return slices.Contains(Supported, alg)
}

// algorithmsFor returns the algorithms a raw public key may verify, or an error when the key
// is too weak or of a type obgate does not verify with.
func algorithmsFor(pub any) ([]string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("RSA key of %d bits is too small (minimum %d)", k.N.BitLen(), MinRSABits)
		}
		return slices.Clone(rsaAlgorithms), nil
	case *ecdsa.PublicKey:
		alg, err := curveAlgorithm(k.Curve)
		if err != nil {
			return nil, err
		}
		return []string{alg}, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 key of %d bytes is malformed", len(k))
		}
		return []string{"EdDSA"}, nil
	case []byte:
		var algs []string
		for _, alg := range []string{"HS256", "HS384", "HS512"} {
			if len(k) >= hmacMinBytes[alg] {
				algs = append(algs, alg)
			}
		}
		if len(algs) == 0 {
			return nil, fmt.Errorf("HMAC secret of %d bytes is too short (minimum 32)", len(k))
		}
		return algs, nil
	}
	return nil, fmt.Errorf("unsupported key type %s", typeName(pub))
}

// curveAlgorithm maps an elliptic curve to its one ECDSA algorithm (RFC 7518 §3.4).
func curveAlgorithm(c elliptic.Curve) (string, error) {
	switch c {
	case elliptic.P256():
		return "ES256", nil
	case elliptic.P384():
		return "ES384", nil
	case elliptic.P521():
		return "ES512", nil
	}
	return "", fmt.Errorf("unsupported elliptic curve %s", c.Params().Name)
}

func typeName(pub any) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "EC"
	case ed25519.PublicKey:
		return "OKP"
	case []byte:
		return "oct"
	}
	return fmt.Sprintf("%T", pub)
}
