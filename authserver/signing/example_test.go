package signing_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/obgate/obgate/authserver/signing"
)

// A manager on a storage creates its first key on Refresh and mints compact JWS tokens whose
// header is {alg, kid, typ}, kid being the key's RFC 7638 thumbprint.
func ExampleManager_Mint() {
	ctx := context.Background()
	m, err := signing.NewManager(newMemStorage(), signing.Options{Name: "main"})
	if err != nil {
		panic(err)
	}
	if err := m.Refresh(ctx); err != nil { // at first start: generates and stores the first key
		panic(err)
	}
	now := time.Now()
	tok, err := m.Mint(ctx, "at+jwt", map[string]any{
		"iss": "https://as.example", "sub": "client-1", "aud": "api",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	})
	if err != nil {
		panic(err)
	}
	seg, _, _ := strings.Cut(tok, ".")
	header, _ := base64.RawURLEncoding.DecodeString(seg)
	kid, _ := m.KeyID()
	fmt.Println(strings.Replace(string(header), kid, "<thumbprint>", 1))
	fmt.Println(m.Algorithm(), len(kid))
	// Output:
	// {"alg":"ES256","kid":"<thumbprint>","typ":"at+jwt"}
	// ES256 43
}
