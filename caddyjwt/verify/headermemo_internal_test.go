package verify

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/internal/jwttest"
)

// TestHeaderMemoRemembersOnlyVerifiedHeadersAndStaysBounded: a header is remembered once a token
// carrying it verified, never for a rejected token; with it remembered, tokens with that header
// get the same verdicts as before (a bad signature is still one); the memo never outgrows its size.
func TestHeaderMemoRemembersOnlyVerifiedHeadersAndStaysBounded(t *testing.T) {
	s := jwttest.NewHMAC(t, []byte("0123456789abcdef0123456789abcdef"), "HS256")
	s.KID = "h1"
	k, _, err := keys.ParseJWKs([]byte(mustMarshal(t, s.JWK(t, false))), "test", keys.JWKOptions{AllowSymmetric: true})
	if err != nil || len(k) != 1 {
		t.Fatalf("ParseJWKs() = %v, %v", k, err)
	}
	now := time.Unix(1_800_000_000, 0)
	v, err := New(Policy{
		Issuers: []Issuer{{Name: "iss", Sources: []keys.Source{keys.NewStatic(k...)}}},
		Clock:   func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"iss": "iss", "sub": "a", "exp": now.Add(time.Hour).Unix()}
	memoLen := func() int {
		if m := v.headers.m.Load(); m != nil {
			return len(*m)
		}
		return 0
	}
	good := s.Token(t, claims, nil)
	head, rest, _ := strings.Cut(good, ".")
	forged := head + "." + rest[:strings.LastIndexByte(rest, '.')] + ".AAAA"
	if _, err := v.Verify(context.Background(), []byte(forged)); ReasonOf(err) != ReasonBadSignature || memoLen() != 0 {
		t.Fatalf("forged token: %v, memo %d entries; want a bad signature and nothing remembered", err, memoLen())
	}
	if _, err := v.Verify(context.Background(), []byte(good)); err != nil || memoLen() != 1 {
		t.Fatalf("valid token: %v, memo %d entries; want it verified and its header remembered", err, memoLen())
	}
	if _, ok := v.headers.get([]byte(head)); !ok {
		t.Fatal("the verified token's header is not remembered")
	}
	if _, err := v.Verify(context.Background(), []byte(forged)); ReasonOf(err) != ReasonBadSignature {
		t.Fatalf("forged token with a remembered header: %v, want a bad signature", err)
	}
	if _, err := v.Verify(context.Background(), []byte(good)); err != nil {
		t.Fatalf("valid token with a remembered header: %v", err)
	}
	for i := range 2 * headerMemoSize {
		tok := s.Token(t, claims, map[string]any{"typ": fmt.Sprintf("t%d", i)})
		if _, err := v.Verify(context.Background(), []byte(tok)); err != nil {
			t.Fatal(err)
		}
	}
	if n := memoLen(); n > headerMemoSize || n < headerMemoSize/2 {
		t.Errorf("memo holds %d headers after %d distinct ones, want at most %d", n, 2*headerMemoSize, headerMemoSize)
	}
}
