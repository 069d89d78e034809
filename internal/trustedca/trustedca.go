// Package trustedca loads the PEM files of certificate authorities that a config trusts instead
// of the system roots (an issuer's private CA for its JWKS server, an operator's private CA for
// its Redis servers), once, at provision.
package trustedca

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
)

// Set is certificate authorities loaded from PEM files, and a digest of their certificates that
// tells one set from another (in a usage pool's key, say). The zero Set stands for the system
// roots: a nil Pool, an empty Digest.
type Set struct {
	// Pool holds the certificates; nil means the system roots (where SSL_CERT_FILE applies).
	Pool *x509.CertPool

	// Digest is the hex SHA-256 of the certificates' DER, in file order; "" for the system roots.
	Digest string
}

// Load reads PEM files of CA certificates; no paths is the zero Set (the system roots). Every
// file must hold at least one certificate and nothing else. A mistake is an error that starts
// with field and the file's path, for a provision error that names both.
func Load(field string, paths []string) (Set, error) {
	if len(paths) == 0 {
		return Set{}, nil
	}
	pool := x509.NewCertPool()
	h := sha256.New()
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return Set{}, fmt.Errorf("%s %s: %w", field, p, err)
		}
		n := 0
		for rest := data; ; {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				return Set{}, fmt.Errorf("%s %s: PEM block %q is not a CERTIFICATE", field, p, block.Type)
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return Set{}, fmt.Errorf("%s %s: %w", field, p, err)
			}
			pool.AddCert(cert)
			h.Write(block.Bytes)
			n++
		}
		if n == 0 {
			return Set{}, fmt.Errorf("%s %s: no PEM certificate found", field, p)
		}
	}
	return Set{Pool: pool, Digest: hex.EncodeToString(h.Sum(nil))}, nil
}
