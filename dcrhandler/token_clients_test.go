package dcrhandler

import (
	"context"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/obgate/obgate/authserver/grant"
	"github.com/obgate/obgate/internal/oauthreg"
)

// registerClient registers an obie private_key_jwt client for the client_credentials grant
// through h and returns its client_id and registration access token.
func registerClient(t *testing.T, f *fixture, h *Handler, mutate func(map[string]any)) (string, string) {
	t.Helper()
	w := post(t, h, f.requestJWT("obie", nil, func(c map[string]any) {
		c["grant_types"] = []string{"client_credentials"}
		c["scope"] = "accounts payments"
		if mutate != nil {
			mutate(c)
		}
	}))
	if w.Code != http.StatusCreated {
		t.Fatalf("register = %d %s", w.Code, w.Body)
	}
	m := decode(t, w)
	return m["client_id"].(string), m["registration_access_token"].(string)
}

func TestNamedDCRPublishesRegistrationsAtOnceAndOthersAfterReload(t *testing.T) {
	f := newFixture(t)
	a := f.handler(t, "obie", func(h *Handler) { h.Name = "instance-a" })
	b := f.handler(t, "obie", func(h *Handler) { h.Name = "instance-b" }) // another instance, same storage
	id, rat := registerClient(t, f, a, nil)

	published, ok := oauthreg.Clients("instance-a")
	if !ok {
		t.Fatal("instance-a publishes no clients")
	}
	if c, _ := published.Client(id); c == nil || c.Method() != grant.MethodPrivateKeyJWT {
		t.Fatalf("registration not published at once on the instance that made it: %v", c)
	}
	if c, _ := b.directory.Client(id); c != nil {
		t.Fatal("the other instance knows the client before it reloads")
	}
	if err := b.directory.reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, _ := b.directory.Client(id); c == nil {
		t.Fatal("the other instance does not know the client after a reload")
	}

	if w := do(t, a, http.MethodDelete, "/register/"+id, "", "", "Authorization", "Bearer "+rat); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", w.Code, w.Body)
	}
	if c, _ := a.directory.Client(id); c != nil {
		t.Fatal("a deleted registration is still a client on the instance that deleted it")
	}
	if err := b.directory.reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, _ := b.directory.Client(id); c != nil {
		t.Fatal("the other instance keeps a deleted client after a reload")
	}
}

func TestDirectoryReloadNeverUndoesALocalDeletionMadeDuringIt(t *testing.T) {
	f := newFixture(t)
	a := f.handler(t, "obie", func(h *Handler) { h.Name = "during" })
	id, _ := registerClient(t, f, a, nil)
	// The reload reads storage while the client is still there; the local deletion lands
	// before the reload swaps its result in.
	a.directory.afterLoad = func() { a.directory.remove(id) }
	if err := a.directory.reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, _ := a.directory.Client(id); c != nil {
		t.Fatal("a reload resurrected a client deleted while it ran")
	}
}

func TestRegistrationsBecomeTokenClients(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "obie", func(h *Handler) { h.Name = "grants" })
	pk, _ := registerClient(t, f, h, nil)
	mtls, _ := registerClient(t, f, h, func(c map[string]any) {
		c["token_endpoint_auth_method"] = "tls_client_auth"
		c["tls_client_auth_subject_dn"] = "CN=client.example"
	})
	noGrant, _ := registerClient(t, f, h, func(c map[string]any) { delete(c, "grant_types") })

	minted := map[string]any{}
	ep, err := grant.New(grant.Options{
		Issuer: "https://as.example", Audience: []string{"api"}, Clients: h.directory, Clock: func() time.Time { return f.now },
		Minter:    minterFunc(func(c map[string]any) { minted = c }),
		Replay:    claimOnce{},
		DNMatches: func(c *x509.Certificate, dn string) bool { return "CN="+c.Subject.CommonName == dn },
	})
	if err != nil {
		t.Fatal(err)
	}
	assertion := f.soft.sign(t, map[string]any{
		"iss": pk, "sub": pk, "aud": "https://as.example", "jti": "a1", "exp": f.now.Add(time.Minute).Unix(),
	}, nil)
	req := &grant.Request{GrantType: "client_credentials", AssertionType: grant.AssertionTypeJWTBearer, Assertion: assertion}
	// The engine's clock is the fixture's; the verify engine in the client checks exp against it too.
	tok, err := ep.Grant(context.Background(), req, grant.Presented{})
	if err != nil {
		t.Fatalf("private_key_jwt grant of a registered client: %v", err)
	}
	if tok.Scope != "accounts payments" || minted["client_id"] != pk {
		t.Errorf("token scope %q claims %v, want the registered scope and client", tok.Scope, minted)
	}
	if c, _ := h.directory.Client(mtls); c == nil || c.Method() != grant.MethodTLSClientAuth {
		t.Errorf("tls_client_auth registration: client %v", c)
	}
	_, err = ep.Grant(context.Background(), &grant.Request{GrantType: "client_credentials", ClientID: noGrant}, grant.Presented{})
	if e, ok := err.(*grant.Error); !ok || e.Code != grant.CodeInvalidClient {
		// noGrant is a private_key_jwt client: without an assertion it cannot authenticate at all.
		t.Fatalf("certificate-less grant for a private_key_jwt registration: %v, want invalid_client", err)
	}
	a2 := f.soft.sign(t, map[string]any{"iss": noGrant, "sub": noGrant, "aud": "https://as.example", "jti": "a2", "exp": f.now.Add(time.Minute).Unix()}, nil)
	_, err = ep.Grant(context.Background(), &grant.Request{GrantType: "client_credentials", AssertionType: grant.AssertionTypeJWTBearer, Assertion: a2}, grant.Presented{})
	if e, ok := err.(*grant.Error); !ok || e.Code != grant.CodeUnauthorizedClient {
		t.Fatalf("registration without grant_types: %v, want unauthorized_client (RFC 7591 §2 default authorization_code)", err)
	}
}

type minterFunc func(map[string]any)

func (m minterFunc) Mint(_ context.Context, _ string, claims map[string]any) (string, error) {
	m(claims)
	return "token", nil
}

type claimOnce struct{}

func (claimOnce) Claim(context.Context, [32]byte, time.Time) error { return nil }
