package cluster

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// assertion is a private_key_jwt client assertion (RFC 7523 §3) of the static client, with a
// fresh jti, for the token_endpoint issuer (an aud every instance accepts).
func (w *world) assertion() string {
	now := time.Now()
	return w.asClient.Token(w.t, map[string]any{
		"iss": asClientID, "sub": asClientID, "aud": asIssuer,
		"jti": fmt.Sprintf("cluster-jti-%d-%d", now.UnixNano(), w.seq.Add(1)),
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
	}, nil)
}

// token posts a client_credentials request with assertion to in's token_endpoint.
func (w *world) token(in *instance, assertion string) response {
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	return w.do(in, http.MethodPost, "/token", []byte(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
}

// accessToken checks a 200 token answer and returns its access_token.
func accessToken(t *testing.T, where string, r response) string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("token on %s: status %d %v, want 200: %s", where, r.status, r.err, r.body)
	}
	tok, _ := r.json(t)["access_token"].(string)
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("token on %s: access_token is not a compact JWS: %q", where, tok)
	}
	return tok
}

// tamper re-encodes the token's claims with scope widened, keeping its header and signature.
func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	claims["scope"] = "accounts payments admin"
	raw, err = json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
}

// TestClusterTokenIssuedOnAVerifiesOnBAndC: an access token that instance A's token_endpoint
// signs with the jwt_signer kept in the shared storage is accepted by jwt_auth (`issuer { signer }`)
// on B and C and reaches the backend; the same token tampered with is refused on B with nothing
// reaching the backend; and the client assertion A accepted is refused on B's token_endpoint
// (its jti is single-use across instances through the Redis replay_store, RFC 7523 §3).
func TestClusterTokenIssuedOnAVerifiesOnBAndC(t *testing.T) {
	w := newWorld(t)
	in := w.start(3)
	a, b, c := in[0], in[1], in[2]

	assertion := w.assertion()
	tok := accessToken(t, "A", w.token(a, assertion))

	for _, other := range []*instance{b, c} {
		// Instances started after A load A's key set at start; poll (bounded by syncTimeout) in
		// case a storage read lags: a 401 reaches no backend, so only the 200 is counted.
		hits := w.hits.Load()
		var last response
		waitStatus(t, "the token from A on "+other.name, http.StatusOK, func() int {
			last = w.do(other, "GET", "/as-api/accounts", nil, "Authorization", "Bearer "+tok)
			return last.status
		})
		if got := w.hits.Load() - hits; got != 1 {
			t.Fatalf("the backend saw %d requests for the call on %s, want 1", got, other.name)
		}
		if string(last.body) != "backend saw /as-api/accounts" {
			t.Fatalf("the call on %s answered %q, want the backend's answer", other.name, last.body)
		}
	}

	hits := w.hits.Load()
	r := w.do(b, "GET", "/as-api/accounts", nil, "Authorization", "Bearer "+tamper(t, tok))
	if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("tampered token on B: status %d, WWW-Authenticate %q, want 401 Bearer: %s",
			r.status, r.header.Get("WWW-Authenticate"), r.body)
	}
	if got := w.hits.Load(); got != hits {
		t.Fatalf("the backend saw %d requests with the tampered token, want none", got-hits)
	}

	r = w.token(b, assertion)
	if r.status != http.StatusUnauthorized {
		t.Fatalf("the assertion A accepted, replayed on B: status %d %v, want 401: %s", r.status, r.err, r.body)
	}
	if m := r.json(t); m["error"] != "invalid_client" || m["access_token"] != nil {
		t.Fatalf("the replay on B answered %v, want error invalid_client and no token", m)
	}
	// B's endpoint itself works: a fresh assertion is granted there, and its token verifies on C.
	tokB := accessToken(t, "B", w.token(b, w.assertion()))
	if r := w.do(c, "GET", "/as-api/accounts", nil, "Authorization", "Bearer "+tokB); r.status != http.StatusOK {
		t.Fatalf("the token from B on C: status %d: %s", r.status, r.body)
	}
}
