package caddyjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/spf13/cobra"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	"github.com/obgate/obgate/caddyjwt/keys"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "jwt",
		Usage: "mint | inspect | sign-request (see caddy jwt <subcommand> --help)",
		Short: "Tools for obgate's JWT modules",
		Long: `
Tools for obgate's JWT modules.

"caddy jwt mint" signs a JWT with a private key in a PEM file, so that a config can be tried
out: for example with the demo key of Caddyfile.example,

	caddy jwt mint --key examples/demo-key.pem --iss https://issuer.demo.obgate --aud demo-api --sub alice

The kid is the key's RFC 7638 thumbprint unless --kid is given, which is also the kid obgate
gives a PEM public key that has none. The algorithm follows the key (RS256, ES256/384/512,
EdDSA) unless --alg is given. The token goes to standard output.

"caddy jwt inspect <token>" decodes a token without verifying it (header, claims, times and
warnings); "caddy jwt inspect --key <file>" prints each key's type, default algorithms and
RFC 7638 thumbprint kid.

"caddy jwt sign-request" makes the signature request_signature checks (profiles tokenio,
ob_jws, detached) for a method, URL and body, so a signed-request site can be tried with curl.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(mintCommand(), inspectCommand(), signRequestCommand())
		},
	})
}

// mintOptions are the flags of `caddy jwt mint`.
type mintOptions struct {
	keyPath, iss, sub, kid, alg string
	aud, claims                 []string
	ttl                         time.Duration
}

func mintCommand() *cobra.Command {
	var o mintOptions
	c := &cobra.Command{
		Use:   "mint --key <private.pem> --iss <issuer> [flags]",
		Short: "Sign a JWT with a private key (for trying out a configuration)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := mint(o, time.Now())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&o.keyPath, "key", "", "PEM file with the private key (PKCS#8, PKCS#1 or SEC 1)")
	f.StringVar(&o.iss, "iss", "", "issuer (iss claim)")
	f.StringVar(&o.sub, "sub", "", "subject (sub claim)")
	f.StringSliceVar(&o.aud, "aud", nil, "audience (aud claim); repeatable")
	f.StringVar(&o.kid, "kid", "", "key ID (default: the key's RFC 7638 thumbprint)")
	f.StringVar(&o.alg, "alg", "", "JWS algorithm (default: RS256, ES256/384/512 or EdDSA by key)")
	f.DurationVar(&o.ttl, "ttl", time.Hour, "lifetime: exp = now + ttl")
	f.StringArrayVar(&o.claims, "claim", nil, "extra claim name=value; a value that parses as JSON is used as JSON; repeatable")
	_ = c.MarkFlagRequired("key")
	_ = c.MarkFlagRequired("iss")
	return c
}

// mint builds and signs the token.
func mint(o mintOptions, now time.Time) (string, error) {
	priv, err := loadPrivateKey(o.keyPath)
	if err != nil {
		return "", fmt.Errorf("--key %s: %w", o.keyPath, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return "", fmt.Errorf("--key %s: a %T cannot sign", o.keyPath, priv)
	}
	pub := signer.Public()
	if o.alg == "" {
		if o.alg, err = defaultAlgorithm(pub); err != nil {
			return "", err
		}
	}
	if o.kid == "" {
		if o.kid, err = keys.Thumbprint(pub); err != nil {
			return "", err
		}
	}
	claims := map[string]any{"iss": o.iss, "iat": now.Unix(), "exp": now.Add(o.ttl).Unix()}
	if o.sub != "" {
		claims["sub"] = o.sub
	}
	switch len(o.aud) {
	case 0:
	case 1:
		claims["aud"] = o.aud[0]
	default:
		claims["aud"] = o.aud
	}
	for _, kv := range o.claims {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return "", fmt.Errorf("--claim %q: want name=value", kv)
		}
		var v any
		if json.Unmarshal([]byte(value), &v) != nil {
			v = value
		}
		claims[name] = v
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	alg, ok := jwa.LookupSignatureAlgorithm(o.alg)
	if !ok {
		return "", fmt.Errorf("--alg %q: unknown algorithm", o.alg)
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, o.kid); err != nil {
		return "", err
	}
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		return "", err
	}
	tok, err := jws.Sign(payload, jws.WithKey(alg, priv, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("signing with %s: %w", o.alg, err)
	}
	return string(tok), nil
}

// loadPrivateKey reads the first private key in a PEM file.
func loadPrivateKey(path string) (any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no private key PEM block found")
		}
		switch block.Type {
		case "PRIVATE KEY":
			return x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(block.Bytes)
		}
	}
}

// defaultAlgorithm picks the usual algorithm for a public key.
func defaultAlgorithm(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RS256", nil
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 256:
			return "ES256", nil
		case 384:
			return "ES384", nil
		case 521:
			return "ES512", nil
		}
	case ed25519.PublicKey:
		return "EdDSA", nil
	}
	return "", fmt.Errorf("no default algorithm for a %T key; give --alg", pub)
}
