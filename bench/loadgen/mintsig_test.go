package main

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/binding"
	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/jwttest"
	"github.com/obgate/obgate/replay/backend"
)

// TestSignManyMakesDistinctTokenIOSignatures: signatures made on several workers are all
// present, detached, carry the tokenio header request_signature wants (exp in milliseconds,
// method, host, path), and are distinct single-use values: the tokenio Binder with a replay
// store accepts each once for the request it names (its header is not another's, and the
// header, not the signature, is what a replay repeats), refuses it a second time, and refuses
// it for another path.
func TestSignManyMakesDistinctTokenIOSignatures(t *testing.T) {
	s := jwttest.NewEC(t, "ES256")
	v, err := verify.New(verify.Policy{Issuers: []verify.Issuer{{Name: "anon", Sources: []keys.Source{keys.NewStatic(keys.Key{
		ID: s.KID, Public: s.Public(), Algorithms: []string{"ES256"},
	})}}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := binding.New(v, binding.Config{Profile: binding.ProfileTokenIO, Replay: backend.NewMemory(0, nil)})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(10 * time.Minute)
	signing := binding.Signing{Profile: binding.ProfileTokenIO, Algorithm: "ES256", KeyID: s.KID, Expires: exp, Detached: true}
	req := &binding.Request{Method: "GET", Scheme: "http", Host: "127.0.0.1:9201", RawPath: "/pay"}
	const n = 25
	sigs, err := signMany(s.Key.(crypto.Signer), signing, req, n, 3)
	if err != nil || len(sigs) != n {
		t.Fatalf("signMany() = %d signatures, %v; want %d", len(sigs), err, n)
	}
	seen := map[string]bool{}
	for i, sig := range sigs {
		parts := strings.Split(sig, ".")
		if len(parts) != 3 || parts[1] != "" {
			t.Fatalf("signature %d is not a detached JWS: %q", i, sig)
		}
		var h map[string]any
		raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatalf("signature %d header: %v", i, err)
		}
		if h["alg"] != "ES256" || h["kid"] != s.KID || h["method"] != "GET" || h["host"] != "127.0.0.1:9201" ||
			h["path"] != "/pay" || h["exp"] != float64(exp.Add(time.Duration(i)*time.Millisecond).UnixMilli()) {
			t.Fatalf("signature %d header = %v", i, h)
		}
		if seen[parts[0]] {
			t.Fatalf("signature %d repeats an earlier one's header", i)
		}
		seen[parts[0]] = true
		if _, err := b.Accept(context.Background(), []byte(sig), req); err != nil {
			t.Fatalf("Accept(signature %d) error = %v, want accepted", i, err)
		}
	}
	if _, err := b.Accept(context.Background(), []byte(sigs[n-1]), req); err == nil {
		t.Error("Accept(a signature already used) accepted, want a replay")
	}
	other := *req
	other.RawPath = "/pay/other"
	if _, err := b.Verify(context.Background(), []byte(sigs[0]), &other); err == nil {
		t.Error("Verify(signature for /pay, request to /pay/other) accepted")
	}
}

// TestSignManyReportsASigningError: a signing that cannot be made (no algorithm) is an error,
// not a file of empty lines.
func TestSignManyReportsASigningError(t *testing.T) {
	s := jwttest.NewEC(t, "ES256")
	req := &binding.Request{Method: "GET", Scheme: "http", Host: "h", RawPath: "/"}
	if _, err := signMany(s.Key.(crypto.Signer), binding.Signing{Profile: binding.ProfileTokenIO}, req, 4, 2); err == nil {
		t.Error("signMany(no algorithm) succeeded")
	}
}
