package clientcert

// This file finds the request's client certificate: the TLS connection's verified leaf or, behind a
// TLS-terminating proxy, the RFC 9440 Client-Cert header that only a trusted proxy may set.

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// MaxHeaderSize bounds the certificate header value before it is decoded; a DER certificate with a
// long chain of extensions stays well under it.
const MaxHeaderSize = 16 << 10

// ErrMalformedHeader reports a certificate header from a trusted proxy that is not one RFC 9440
// Client-Cert value: an RFC 8941 byte sequence (":<base64>:") holding one DER certificate.
var ErrMalformedHeader = errors.New("client certificate header is not an RFC 9440 Client-Cert value")

// FromRequest returns the request's client certificate.
//
// A certificate on the TLS connection wins: the verified leaf (the first certificate of the first
// verified chain) is returned, and header is never consulted, even when the connection's
// certificate was not verified (then nil: an unverified certificate proves nothing here). Without
// one, when header is not empty and the request came from an address in the server's
// trusted_proxies (Caddy's trusted_proxy request variable), the certificate is read from that
// header in the RFC 9440 §2.2 form; a request from any other address has its header ignored. It
// returns nil, nil when there is no certificate, and ErrMalformedHeader (wrapped) when a trusted
// proxy sent a value that is not one certificate.
func FromRequest(r *http.Request, header string) (*x509.Certificate, error) {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		if len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
			return r.TLS.VerifiedChains[0][0], nil
		}
		return nil, nil
	}
	if header == "" || !fromTrustedProxy(r) {
		return nil, nil
	}
	values := r.Header.Values(header)
	switch len(values) {
	case 0:
		return nil, nil
	case 1:
	default:
		// RFC 9440 §2.2: one certificate, an Item; repeated lines would combine into a List.
		return nil, fmt.Errorf("%w: %s sent %d times", ErrMalformedHeader, header, len(values))
	}
	v := strings.Trim(values[0], " \t")
	if v == "" {
		return nil, nil
	}
	return ParseHeader(v)
}

// fromTrustedProxy reports whether Caddy marked the request as coming from trusted_proxies.
func fromTrustedProxy(r *http.Request) bool {
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	return trusted
}

// ParseHeader decodes an RFC 9440 Client-Cert value: an RFC 8941 §3.3.5 byte sequence, ":" base64
// ":" (standard alphabet; '=' padding optional, as RFC 8941 §4.2.7 asks of parsers), optionally
// followed by parameters, which are ignored (RFC 9440 defines none). The bytes must be exactly one
// DER X.509 certificate.
func ParseHeader(v string) (*x509.Certificate, error) {
	if len(v) > MaxHeaderSize {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformedHeader, MaxHeaderSize)
	}
	v = strings.Trim(v, " \t")
	if len(v) < 2 || v[0] != ':' {
		return nil, fmt.Errorf("%w: not a byte sequence (want :<base64>:)", ErrMalformedHeader)
	}
	end := strings.IndexByte(v[1:], ':')
	if end < 0 {
		return nil, fmt.Errorf("%w: unterminated byte sequence", ErrMalformedHeader)
	}
	b64, rest := v[1:1+end], v[2+end:]
	if rest != "" && rest[0] != ';' {
		return nil, fmt.Errorf("%w: unexpected text after the byte sequence", ErrMalformedHeader)
	}
	enc := base64.StdEncoding
	if len(b64)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	der, err := enc.Strict().DecodeString(b64)
	if err != nil || len(der) == 0 {
		return nil, fmt.Errorf("%w: invalid base64", ErrMalformedHeader)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedHeader, err)
	}
	return cert, nil
}

// Thumbprint is the certificate's x5t#S256 value (RFC 8705 §3.1): the base64url encoding, without
// padding, of the SHA-256 hash of its DER encoding. The token endpoint writes it into cnf and
// jwt_auth compares it with the one a token carries.
func Thumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
