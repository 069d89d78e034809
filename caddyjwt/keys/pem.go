package keys

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// LoadFile reads the keys in a file: PEM public keys (PKIX "PUBLIC KEY", PKCS#1 "RSA PUBLIC KEY"),
// PEM X.509 certificates (the certificate's public key), or a JWK / JWK Set in JSON. A JSON file
// may hold "oct" keys (HMAC secrets); those are the only symmetric keys obgate accepts.
//
// kid, when not empty, becomes the ID of the file's key; the file must then hold exactly one key.
// A file with private key material, a weak key or nothing usable is an error: a mistake in a key
// file must fail at provision time, not at the first request.
func LoadFile(path, kid string) ([]Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ks, err := parseFile(data, path)
	if err != nil {
		return nil, err
	}
	if len(ks) == 0 {
		return nil, errors.New("no key found in file")
	}
	if kid != "" {
		if len(ks) != 1 {
			return nil, fmt.Errorf("a kid can only be given for a file with one key, this one has %d", len(ks))
		}
		ks[0].ID, ks[0].NoKID = kid, false
	}
	return ks, nil
}

func parseFile(data []byte, origin string) ([]Key, error) {
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "{") {
		ks, skipped, err := ParseJWKs(data, origin, JWKOptions{AllowSymmetric: true})
		if err != nil {
			return nil, err
		}
		if len(skipped) > 0 {
			return nil, skipped[0]
		}
		return ks, nil
	}
	if !strings.Contains(trimmed, "-----BEGIN ") {
		return nil, errors.New("neither PEM nor JSON (JWK)")
	}
	return ParsePEM(data, origin)
}

// ParsePEM parses every PEM block in data into a Key. Blocks of other types than public keys and
// certificates are an error, private keys with a message that says so.
func ParsePEM(data []byte, origin string) ([]Key, error) {
	var out []Key
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		pub, err := pemPublicKey(block)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %w", n, block.Type, err)
		}
		k, err := newKey(pub, "", "", origin)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %w", n, block.Type, err)
		}
		out = append(out, k)
	}
	return out, nil
}

func pemPublicKey(block *pem.Block) (any, error) {
	switch block.Type {
	case "PUBLIC KEY":
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		return dereference(pub), nil
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		return dereference(cert.PublicKey), nil
	}
	if strings.Contains(block.Type, "PRIVATE KEY") {
		return nil, fmt.Errorf("%w: configure the public key or certificate instead", ErrPrivateKey)
	}
	return nil, errors.New("unsupported PEM block type")
}

// dereference normalises the shapes Go's parsers return (value or pointer) to the ones Key uses.
func dereference(pub any) any {
	switch k := pub.(type) {
	case rsa.PublicKey:
		return &k
	case ecdsa.PublicKey:
		return &k
	case *ed25519.PublicKey:
		return *k
	}
	return pub
}
