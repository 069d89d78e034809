package main

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
)

// mint is the mint mode: n distinct access tokens of one issuer, one per line, each with its own
// sub and jti and otherwise the shape of a typical access token (iss, aud, sub, iat, exp, jti,
// scope, client_id; header alg, kid, typ). RS256, PS256 (RSA keys) and ES256 (P-256) only.
func mint(args []string) {
	fs := flag.NewFlagSet("loadgen mint", flag.ExitOnError)
	keyPath := fs.String("key", "", "PEM private key (PKCS#8, PKCS#1 or SEC 1)")
	iss := fs.String("iss", "", "iss of the tokens")
	aud := fs.String("aud", "", "aud of the tokens")
	n := fs.Int("n", 1000, "how many tokens")
	ttl := fs.Duration("ttl", 2*time.Hour, "lifetime")
	alg := fs.String("alg", "", "RS256 or PS256 for an RSA key (default RS256); ES256 for P-256")
	_ = fs.Parse(args)
	if *keyPath == "" || *iss == "" || *aud == "" || *n < 1 {
		fatal("mint: -key, -iss, -aud and a positive -n are required")
	}
	signer, pub, err := readPrivateKey(*keyPath)
	if err != nil {
		fatal("mint: %v", err)
	}
	algorithm, err := pickAlgorithm(signer, *alg)
	if err != nil {
		fatal("mint: %v", err)
	}
	kid, err := keys.Thumbprint(pub) // the kid obgate gives a PEM public key without one
	if err != nil {
		fatal("mint: %v", err)
	}
	header := encodeJSON(map[string]any{"alg": algorithm, "kid": kid, "typ": "at+jwt"})
	now := time.Now()
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for i := range *n {
		claims := encodeJSON(map[string]any{
			"iss": *iss, "aud": *aud, "sub": fmt.Sprintf("bench-user-%d", i),
			"iat": now.Unix(), "exp": now.Add(*ttl).Unix(), "jti": fmt.Sprintf("bench-%d-%d", now.UnixNano(), i),
			"scope": "accounts payments", "client_id": "tpp-8d2f1c",
		})
		input := header + "." + claims
		sig, err := sign(signer, algorithm, []byte(input))
		if err != nil {
			fatal("mint: %v", err)
		}
		fmt.Fprintf(w, "%s.%s\n", input, base64.RawURLEncoding.EncodeToString(sig))
	}
}

func readPrivateKey(path string) (crypto.Signer, crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, nil, fmt.Errorf("%s: no PEM block", path)
	}
	var k any
	switch {
	case strings.Contains(block.Type, "RSA"):
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case strings.Contains(block.Type, "EC"):
		k, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("%s: %T cannot sign", path, k)
	}
	return s, s.Public(), nil
}

func pickAlgorithm(s crypto.Signer, alg string) (string, error) {
	switch s.(type) {
	case *rsa.PrivateKey:
		if alg == "" {
			return "RS256", nil
		}
		if alg == "RS256" || alg == "PS256" {
			return alg, nil
		}
	case *ecdsa.PrivateKey:
		if alg == "" || alg == "ES256" {
			return "ES256", nil
		}
	}
	return "", fmt.Errorf("algorithm %q does not fit a %T", alg, s)
}

// sign makes the JWS signature of input (RFC 7518 §3.3-3.5; ES256 as r||s, §3.4).
func sign(s crypto.Signer, alg string, input []byte) ([]byte, error) {
	digest := sha256.Sum256(input)
	switch alg {
	case "RS256":
		return s.Sign(rand.Reader, digest[:], crypto.SHA256)
	case "PS256":
		return s.Sign(rand.Reader, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	}
	r, ss, err := ecdsa.Sign(rand.Reader, s.(*ecdsa.PrivateKey), digest[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	ss.FillBytes(out[32:])
	return out, nil
}

func encodeJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		fatal("mint: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
