package keys_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/jwttest"
)

// jwksServer is a loopback JWKS endpoint whose document a test swaps, counting its fetches.
type jwksServer struct {
	mu      sync.Mutex
	body    []byte
	fetches atomic.Int64
	url     string
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{body: body}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		b := s.body
		s.mu.Unlock()
		s.fetches.Add(1)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL + "/jwks"
	return s
}

func (s *jwksServer) serve(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = body
}

// reuseRemote is a started Remote on the loopback server whose every unknown kid forces a
// refresh (a cooldown of 1ns), ready with the first document when it returns.
type reuseRemote struct {
	*keys.Remote
	srv    *jwksServer
	probes int
}

func newReuseRemote(t *testing.T, srv *jwksServer, logger *zap.Logger) *reuseRemote {
	t.Helper()
	r, err := keys.NewRemote(srv.url, keys.RemoteOptions{
		AllowHTTP: loopbackHTTP, MissCooldown: time.Nanosecond, Logger: logger, Issuer: issuerName,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	t.Cleanup(r.Close)
	for i := 0; ; i++ { // bounded: 10 s at most
		if _, err := r.Keys(); err == nil {
			break
		} else if i == 1000 {
			t.Fatalf("no keys after 10s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return &reuseRemote{Remote: r, srv: srv}
}

// refresh forces one refresh, as a token with an unknown kid does, waits for it and returns the
// new set.
func (r *reuseRemote) refresh(t *testing.T) *keys.Set {
	t.Helper()
	before := r.srv.fetches.Load()
	r.probes++
	set, err := r.KeysAfterMiss(t.Context(), fmt.Sprintf("probe-%d", r.probes))
	if err != nil {
		t.Fatalf("KeysAfterMiss() error = %v", err)
	}
	if got := r.srv.fetches.Load() - before; got != 1 {
		t.Fatalf("forced refresh fetched %d times, want 1", got)
	}
	return set
}

func mustLookup(t *testing.T, set *keys.Set, kid string) keys.Key {
	t.Helper()
	k, ok := set.Lookup(kid)
	if !ok {
		t.Fatalf("set lacks kid %q", kid)
	}
	return k
}

// verifierOf verifies tokens of issuerName with the Remote's keys, every algorithm its keys
// allow, and no cache.
func verifierOf(t *testing.T, r *keys.Remote) *verify.Verifier {
	t.Helper()
	v, err := verify.New(verify.Policy{Issuers: []verify.Issuer{{Name: issuerName, Sources: []keys.Source{r}}}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// verdict is nil for a token that verifies, else the reason it is rejected.
func verdict(t *testing.T, v *verify.Verifier, s *jwttest.Signer) error {
	t.Helper()
	tok := s.Token(t, jwttest.Claims(issuerName, "api", "alice", time.Now()), nil)
	_, err := v.VerifyUncached(t.Context(), []byte(tok))
	return err
}

// TestRemoteRefreshKeepsPreparedKeys: a refresh that finds the same keys keeps their Key values,
// so the P-256 key's prepared verifier (and the table it built on its second verification) and
// the RSA key's prepared modulus are not rebuilt; the keys still verify, and the refresh logs no
// key change. A key added in the same document is prepared as usual, and logged.
func TestRemoteRefreshKeepsPreparedKeys(t *testing.T) {
	ec := jwttest.NewEC(t, "ES256")
	ec.KID = "ec"
	rs := jwttest.NewRSA(t, 2048, "RS256")
	rs.KID = "rsa"
	added := jwttest.NewEC(t, "ES256")
	added.KID = "added"
	srv := newJWKSServer(t, jwttest.JWKS(t, ec, rs))
	core, logs := observer.New(zapcore.InfoLevel)
	r := newReuseRemote(t, srv, zap.New(core))
	v := verifierOf(t, r.Remote)
	for range 3 { // the P-256 key builds its table on its second verification
		if err := verdict(t, v, ec); err != nil {
			t.Fatalf("ES256 token before the refresh: %v", err)
		}
	}
	if err := verdict(t, v, rs); err != nil {
		t.Fatalf("RS256 token before the refresh: %v", err)
	}
	set, _ := r.Keys()
	ecBefore, rsaBefore := mustLookup(t, set, "ec").PreparedEC(), mustLookup(t, set, "rsa").PreparedRSA()
	if ecBefore == nil || rsaBefore == nil {
		t.Fatalf("keys not prepared at load: EC %v, RSA %v", ecBefore, rsaBefore)
	}
	logs.TakeAll()

	set = r.refresh(t) // the same document again
	if got := mustLookup(t, set, "ec").PreparedEC(); got != ecBefore {
		t.Errorf("PreparedEC() after an unchanged refresh = %p, want the same %p", got, ecBefore)
	}
	if got := mustLookup(t, set, "rsa").PreparedRSA(); got != rsaBefore {
		t.Errorf("PreparedRSA() after an unchanged refresh = %p, want the same %p", got, rsaBefore)
	}
	for _, s := range []*jwttest.Signer{ec, rs} {
		if err := verdict(t, v, s); err != nil {
			t.Errorf("%s token after the refresh: %v", s.Alg, err)
		}
	}
	if n := logs.FilterMessage("jwks keys updated").Len(); n != 0 {
		t.Errorf("an unchanged refresh logged %d key changes, want none", n)
	}

	srv.serve(jwttest.JWKS(t, ec, rs, added))
	set = r.refresh(t)
	if got := mustLookup(t, set, "ec").PreparedEC(); got != ecBefore {
		t.Errorf("PreparedEC() after a refresh that added a key = %p, want the same %p", got, ecBefore)
	}
	if p := mustLookup(t, set, "added").PreparedEC(); p == nil || p == ecBefore {
		t.Errorf("the added key's PreparedEC() = %p, want its own", p)
	}
	if err := verdict(t, v, added); err != nil {
		t.Errorf("token of the added key: %v", err)
	}
	changes := logs.FilterMessage("jwks keys updated").All()
	if len(changes) != 1 || fmt.Sprint(changes[0].ContextMap()["added"]) != "[added]" ||
		fmt.Sprint(changes[0].ContextMap()["removed"]) != "[]" {
		t.Errorf("key changes logged = %v, want one with added [added] and nothing removed", changes)
	}
}

// TestRemoteRefreshKidNamingNewKey: when the issuer reuses a kid for another key, the refresh
// gives the new key, for each key type that keeps prepared state: a token of the new key
// verifies, the old key's does not.
func TestRemoteRefreshKidNamingNewKey(t *testing.T) {
	for name, pair := range map[string][2]*jwttest.Signer{
		"ES256": {jwttest.NewEC(t, "ES256"), jwttest.NewEC(t, "ES256")},
		"RS256": {jwttest.NewRSA(t, 2048, "RS256"), jwttest.NewRSA(t, 2048, "RS256")},
	} {
		t.Run(name, func(t *testing.T) {
			oldKey, newKey := pair[0], pair[1]
			oldKey.KID, newKey.KID = "same-kid", "same-kid"
			srv := newJWKSServer(t, jwttest.JWKS(t, oldKey))
			r := newReuseRemote(t, srv, nil)
			v := verifierOf(t, r.Remote)
			if err := verdict(t, v, oldKey); err != nil {
				t.Fatalf("old key's token before the change: %v", err)
			}
			before := mustLookup(t, mustKeys(t, r.Remote), "same-kid")

			srv.serve(jwttest.JWKS(t, newKey))
			after := mustLookup(t, r.refresh(t), "same-kid")
			if !equalPublic(after.Public, newKey.Public()) {
				t.Error("the kid still names the old key after the refresh")
			}
			if after.PreparedEC() == before.PreparedEC() && after.PreparedRSA() == before.PreparedRSA() {
				t.Error("the new key carries the old key's prepared state")
			}
			if err := verdict(t, v, newKey); err != nil {
				t.Errorf("new key's token after the change: %v", err)
			}
			if err := verdict(t, v, oldKey); verify.ReasonOf(err) != verify.ReasonBadSignature {
				t.Errorf("old key's token after the change = %v, want a bad signature", err)
			}
		})
	}
}

// TestRemoteRefreshAlgorithmChangeNotReused: a key whose JWK now restricts it to one algorithm
// (same kid, same public key) is taken as parsed: the algorithm it no longer allows is refused.
func TestRemoteRefreshAlgorithmChangeNotReused(t *testing.T) {
	rs := jwttest.NewRSA(t, 2048, "RS256")
	rs.KID = "rsa"
	ps := *rs // the same key, signing PS256
	ps.Alg = "PS256"
	srv := newJWKSServer(t, jwttest.JWKS(t, rs)) // no "alg": every RSA algorithm
	r := newReuseRemote(t, srv, nil)
	v := verifierOf(t, r.Remote)
	if err := verdict(t, v, rs); err != nil {
		t.Fatalf("RS256 token before the change: %v", err)
	}
	before := mustLookup(t, mustKeys(t, r.Remote), "rsa")

	srv.serve(mustJSON(t, map[string]any{"keys": []any{ps.JWK(t, true)}})) // "alg": "PS256"
	after := mustLookup(t, r.refresh(t), "rsa")
	if fmt.Sprint(after.Algorithms) != "[PS256]" {
		t.Errorf("Algorithms after the change = %v, want [PS256]", after.Algorithms)
	}
	if after.PreparedRSA() == before.PreparedRSA() {
		t.Error("a key whose algorithms changed kept the old Key value")
	}
	if err := verdict(t, v, &ps); err != nil {
		t.Errorf("PS256 token after the change: %v", err)
	}
	if err := verdict(t, v, rs); verify.ReasonOf(err) != verify.ReasonAlgNotAllowed {
		t.Errorf("RS256 token after the key was restricted to PS256 = %v, want alg not allowed", err)
	}
}

func mustKeys(t *testing.T, r *keys.Remote) *keys.Set {
	t.Helper()
	set, err := r.Keys()
	if err != nil {
		t.Fatal(err)
	}
	return set
}
