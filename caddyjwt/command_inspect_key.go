package caddyjwt

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/obgate/obgate/caddyjwt/keys"
)

// keyReport is what `caddy jwt inspect --key` says of one key in a file.
type keyReport struct {
	where   string   // "PEM block 1 (PUBLIC KEY)", "JWK Set member 0", "JWK"
	key     keys.Key // valid when skip is nil
	private bool     // the file holds the private key; the report is of its public half
	skip    error    // why obgate would not use this entry
}

// inspectKeyFile prints every key of a PEM or JWK file as obgate's key loader sees it.
func inspectKeyFile(w io.Writer, path string) error {
	data, err := readLimited(path)
	if err != nil {
		return fmt.Errorf("--key %s: %w", path, err)
	}
	reports, err := describeKeys(data, path)
	if err != nil {
		return fmt.Errorf("--key %s: %w", path, err)
	}
	p := &printer{w: w}
	usable := 0
	for i, r := range reports {
		if i > 0 {
			p.line("")
		}
		p.line(fmt.Sprintf("key %d: %s", i+1, r.where))
		if r.skip != nil {
			p.line("  skipped     " + r.skip.Error())
			continue
		}
		usable++
		p.line("  kty         " + r.key.Type())
		p.line("  algorithms  " + strings.Join(r.key.Algorithms, " ") + "  (obgate's default for this key)")
		if r.key.NoKID {
			// INTERFACE.md Wave 2, "Keys without a kid".
			p.line("  kid         none in the file: obgate names it by its thumbprint, and (configured")
			p.line("              without <kid>) it verifies tokens whatever kid they name, if the algorithm fits")
		} else {
			p.line("  kid         " + r.key.ID + "  (from the file: chosen by exact match)")
		}
		p.line("  thumbprint  " + r.key.Thumbprint + "  (RFC 7638, SHA-256)")
		if r.private {
			p.line("  ! private key: the public half is shown; give obgate the public key or certificate")
		}
	}
	if p.err != nil {
		return p.err
	}
	if usable == 0 {
		return fmt.Errorf("--key %s: no key obgate can use", path)
	}
	return nil
}

// describeKeys reads a PEM or JSON (JWK, JWK Set) key file entry by entry.
func describeKeys(data []byte, origin string) ([]keyReport, error) {
	trimmed := strings.TrimSpace(string(data))
	switch {
	case strings.HasPrefix(trimmed, "{"):
		return describeJWKs(data, origin)
	case strings.Contains(trimmed, "-----BEGIN "):
		return describePEM(data, origin)
	}
	return nil, errors.New("neither PEM nor JSON (JWK)")
}

// describePEM reports each PEM block; a private key is reported by its public half.
func describePEM(data []byte, origin string) ([]keyReport, error) {
	var out []keyReport
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		r := keyReport{where: fmt.Sprintf("PEM block %d (%s)", n, block.Type)}
		public := pem.EncodeToMemory(block)
		if strings.Contains(block.Type, "PRIVATE KEY") {
			r.private = true
			public, r.skip = publicOfPrivate(block)
		}
		if r.skip == nil {
			var ks []keys.Key
			if ks, r.skip = keys.ParsePEM(public, origin); r.skip == nil {
				r.key = ks[0]
			}
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM block found")
	}
	return out, nil
}

// publicOfPrivate turns a private key PEM block into its public key, PKIX PEM encoded.
func publicOfPrivate(block *pem.Block) ([]byte, error) {
	priv, err := parsePrivateBlock(block)
	if err != nil {
		return nil, err
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T is not a signing key", priv)
	}
	return publicPEM(signer)
}

// publicPEM encodes a signer's public key as a PKIX PEM block.
func publicPEM(signer crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// parsePrivateBlock parses a PKCS#8, PKCS#1 or SEC 1 private key block.
func parsePrivateBlock(block *pem.Block) (any, error) {
	switch block.Type {
	case "PRIVATE KEY":
		return x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	}
	return nil, fmt.Errorf("unsupported private key block %q (encrypted keys are not read)", block.Type)
}

// describeJWKs reports each member of a JWK Set, or a lone JWK.
func describeJWKs(data []byte, origin string) ([]keyReport, error) {
	var set struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a valid JWK or JWK Set: %w", err)
	}
	if set.Keys == nil {
		return []keyReport{describeJWK(data, "JWK", origin)}, nil
	}
	if len(*set.Keys) == 0 {
		return nil, errors.New("the JWK Set has no keys")
	}
	out := make([]keyReport, 0, len(*set.Keys))
	for i, raw := range *set.Keys {
		out = append(out, describeJWK(raw, fmt.Sprintf("JWK Set member %d", i), origin))
	}
	return out, nil
}

// describeJWK reports one JWK; a private asymmetric JWK is reported by its public half.
func describeJWK(raw []byte, where, origin string) keyReport {
	r := keyReport{where: where}
	jk, err := jwk.ParseKey(raw)
	if err != nil {
		r.skip = fmt.Errorf("not a valid JWK: %w", err)
		return r
	}
	if jk.KeyType().String() != "oct" {
		if private, err := jwk.IsPrivateKey(jk); err == nil && private {
			r.private = true
			pub, err := jwk.PublicKeyOf(jk)
			if err != nil {
				r.skip = err
				return r
			}
			if raw, err = json.Marshal(pub); err != nil {
				r.skip = err
				return r
			}
		}
	}
	ks, skipped, err := keys.ParseJWKs(raw, origin, keys.JWKOptions{AllowSymmetric: true})
	switch {
	case err != nil:
		r.skip = err
	case len(skipped) > 0:
		r.skip = skipped[0]
	case len(ks) != 1:
		r.skip = errors.New("no usable key")
	default:
		r.key = ks[0]
	}
	return r
}
