package jwks

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
)

// trustedCAs are certificate authorities loaded from PEM files, trusted instead of the system
// roots for some remote key URLs (a private CA of an issuer), and a digest of their contents that
// tells one set from another in the cache pool.
type trustedCAs struct {
	pool   *x509.CertPool // nil: the system roots
	digest string
}

// loadTrustedCAs reads PEM files of CA certificates. Every file must hold at least one
// certificate and nothing else; a mistake fails at provision, naming the file.
func loadTrustedCAs(field string, paths []string) (trustedCAs, error) {
	if len(paths) == 0 {
		return trustedCAs{}, nil
	}
	pool := x509.NewCertPool()
	h := sha256.New()
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return trustedCAs{}, fmt.Errorf("%s %s: %w", field, p, err)
		}
		n := 0
		for rest := data; ; {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				return trustedCAs{}, fmt.Errorf("%s %s: PEM block %q is not a CERTIFICATE", field, p, block.Type)
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return trustedCAs{}, fmt.Errorf("%s %s: %w", field, p, err)
			}
			pool.AddCert(cert)
			h.Write(block.Bytes)
			n++
		}
		if n == 0 {
			return trustedCAs{}, fmt.Errorf("%s %s: no PEM certificate found", field, p)
		}
	}
	return trustedCAs{pool: pool, digest: hex.EncodeToString(h.Sum(nil))}, nil
}
