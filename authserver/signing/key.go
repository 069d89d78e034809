package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
)

// signingKey is one private key of a set and its place in the rotation schedule. It is immutable
// once built; a schedule change builds a new one.
type signingKey struct {
	kid  string // RFC 7638 SHA-256 thumbprint
	alg  string
	priv crypto.Signer
	der  []byte // PKCS #8, as stored

	created time.Time
	// activeFrom is when the key starts signing; zero for the first key of a set (no predecessor).
	activeFrom time.Time
	// retireAt is when the successor takes over; zero while no successor is planned.
	retireAt time.Time
	// removeAt is when the key leaves the published set; zero while it is not retired.
	removeAt time.Time
}

// generateKey makes a new private key for alg.
func generateKey(alg string, rsaBits int, now time.Time) (*signingKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "PS256":
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("cannot generate a key for algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generating a %s key: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encoding the %s key: %w", alg, err)
	}
	return newSigningKey(priv, der, alg, now)
}

// newSigningKey checks that priv fits alg and computes its kid.
func newSigningKey(priv crypto.Signer, der []byte, alg string, created time.Time) (*signingKey, error) {
	if err := fits(priv, alg); err != nil {
		return nil, err
	}
	kid, err := keys.Thumbprint(priv.Public())
	if err != nil {
		return nil, err
	}
	return &signingKey{kid: kid, alg: alg, priv: priv, der: der, created: created}, nil
}

// fits reports whether priv can sign with alg (RFC 7518 §3.1, RFC 8037 §3.1).
func fits(priv crypto.Signer, alg string) error {
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		want, ok := curveAlgorithms[k.Curve]
		if !ok {
			return fmt.Errorf("unsupported elliptic curve %s", k.Curve.Params().Name)
		}
		if alg != want {
			return fmt.Errorf("algorithm %s does not fit a %s key (it needs %s)", alg, k.Curve.Params().Name, want)
		}
	case *rsa.PrivateKey:
		if k.N.BitLen() < keys.MinRSABits {
			return fmt.Errorf("RSA key of %d bits is too small (minimum %d)", k.N.BitLen(), keys.MinRSABits)
		}
		if alg != "PS256" && alg != "PS384" && alg != "PS512" && alg != "RS256" && alg != "RS384" && alg != "RS512" {
			return fmt.Errorf("algorithm %s does not fit an RSA key", alg)
		}
	case ed25519.PrivateKey:
		if alg != "EdDSA" {
			return fmt.Errorf("algorithm %s does not fit an Ed25519 key (it needs EdDSA)", alg)
		}
	default:
		return fmt.Errorf("unsupported private key type %T", priv)
	}
	return nil
}

var curveAlgorithms = map[elliptic.Curve]string{
	elliptic.P256(): "ES256",
	elliptic.P384(): "ES384",
	elliptic.P521(): "ES512",
}

// defaultAlgorithm is the algorithm an operator key signs with when none is configured.
func defaultAlgorithm(priv crypto.Signer) (string, error) {
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		if alg, ok := curveAlgorithms[k.Curve]; ok {
			return alg, nil
		}
		return "", fmt.Errorf("unsupported elliptic curve %s", k.Curve.Params().Name)
	case *rsa.PrivateKey:
		return "PS256", nil
	case ed25519.PrivateKey:
		return "EdDSA", nil
	}
	return "", fmt.Errorf("unsupported private key type %T", priv)
}

// ParsePrivateKeyPEM reads one PEM private key: PKCS #8 ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY")
// or PKCS #1 ("RSA PRIVATE KEY"), of type EC (P-256, P-384, P-521), RSA (at least 2048 bits) or
// Ed25519. Encrypted PEM, public keys and certificates are errors.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	var found crypto.Signer
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue // such as a certificate next to the key
		}
		if found != nil {
			return nil, errors.New("more than one private key in the file")
		}
		priv, err := parsePrivateBlock(block)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %w", n, block.Type, err)
		}
		found = priv
	}
	if found == nil {
		return nil, errors.New("no PEM private key found")
	}
	return found, nil
}

func parsePrivateBlock(block *pem.Block) (crypto.Signer, error) {
	if _, encrypted := block.Headers["DEK-Info"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("encrypted private keys are not supported")
	}
	var k any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, errors.New("unsupported PEM block type")
	}
	if err != nil {
		return nil, err
	}
	switch priv := k.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
		return priv.(crypto.Signer), nil
	case *ed25519.PrivateKey:
		return *priv, nil
	}
	return nil, fmt.Errorf("unsupported private key type %T", k)
}
