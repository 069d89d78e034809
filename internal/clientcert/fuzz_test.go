package clientcert_test

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/obgate/obgate/internal/clientcert"
)

// FuzzParseHeader: any header value either decodes to a certificate or fails with
// ErrMalformedHeader, never a panic; a decoded certificate encodes back to a value that decodes to
// the same certificate.
func FuzzParseHeader(f *testing.F) {
	der := testCert(f, "fuzz").Raw
	f.Add(":" + base64.StdEncoding.EncodeToString(der) + ":")
	f.Add(":" + base64.RawStdEncoding.EncodeToString(der) + ":;a=1")
	f.Add("")
	f.Add("::")
	f.Add(":AAAA")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := clientcert.ParseHeader(v)
		if err != nil {
			if !errors.Is(err, clientcert.ErrMalformedHeader) {
				t.Fatalf("error %v is not ErrMalformedHeader", err)
			}
			return
		}
		again, err := clientcert.ParseHeader(":" + base64.StdEncoding.EncodeToString(c.Raw) + ":")
		if err != nil || !again.Equal(c) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
