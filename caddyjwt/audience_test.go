package caddyjwt

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/internal/jwttest"
)

// TestAudienceAnyIsAnExplicitOptOut: `audience any` (JSON any_audience) accepts a token for any
// aud and logs one warning per policy; per issuer it overrides the top-level audience for that
// issuer only.
func TestAudienceAnyIsAnExplicitOptOut(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	dir := t.TempDir()
	a, b := jwttest.NewEC(t, "ES256"), jwttest.NewEC(t, "ES256")
	for _, tc := range []struct {
		name       string
		cfg        Config
		iss        string
		signer     *jwttest.Signer
		wantStatus int
		wantWarn   []string // the issuers the one warning names; nil: no warning
	}{
		{"top-level any accepts any aud",
			Config{AnyAudience: true, Issuers: []IssuerConfig{{Issuer: "https://a.example", Keys: []KeyFile{{Path: a.PublicPEM(t, dir)}}}}},
			"https://a.example", a, 200, []string{"https://a.example"}},
		{"issuer any overrides the top-level audience",
			Config{Audience: []string{"api"}, Issuers: []IssuerConfig{
				{Issuer: "https://a.example", AnyAudience: true, Keys: []KeyFile{{Path: a.PublicPEM(t, dir)}}},
				{Issuer: "https://b.example", Keys: []KeyFile{{Path: b.PublicPEM(t, dir)}}},
			}},
			"https://a.example", a, 200, []string{"https://a.example"}},
		{"the other issuer keeps the top-level audience",
			Config{Audience: []string{"api"}, Issuers: []IssuerConfig{
				{Issuer: "https://a.example", AnyAudience: true, Keys: []KeyFile{{Path: a.PublicPEM(t, dir)}}},
				{Issuer: "https://b.example", Keys: []KeyFile{{Path: b.PublicPEM(t, dir)}}},
			}},
			"https://b.example", b, 401, []string{"https://a.example"}},
		{"an issuer's own audience beats the top-level any",
			Config{AnyAudience: true, Issuers: []IssuerConfig{
				{Issuer: "https://a.example", Audience: []string{"api"}, Keys: []KeyFile{{Path: a.PublicPEM(t, dir)}}},
			}},
			"https://a.example", a, 401, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zap.WarnLevel)
			h := &JWTAuth{Config: tc.cfg}
			a, err := h.Config.provision(ctx, zap.New(core))
			if err != nil {
				t.Fatalf("provision: %v", err)
			}
			h.auth = a
			defer func() { _ = h.Cleanup() }()
			tok := tc.signer.Token(t, jwttest.Claims(tc.iss, "some-other-service", "alice", time.Now()), nil)
			r := httptest.NewRequest("GET", "https://api.example/", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
			w := httptest.NewRecorder()
			_ = h.ServeHTTP(w, r, nextOK{})
			if w.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", w.Code, tc.wantStatus, w.Body)
			}
			warns := logs.FilterMessageSnippet("audience any").All()
			if tc.wantWarn == nil {
				if len(warns) != 0 {
					t.Fatalf("warnings %v, want none", warns)
				}
				return
			}
			if len(warns) != 1 {
				t.Fatalf("%d audience warnings, want exactly 1", len(warns))
			}
			if got := warns[0].ContextMap()["issuers"]; len(got.([]any)) != len(tc.wantWarn) || got.([]any)[0] != tc.wantWarn[0] {
				t.Errorf("warning names issuers %v, want %v", got, tc.wantWarn)
			}
		})
	}
}

// nextOK is a next handler that answers 200.
type nextOK struct{}

func (nextOK) ServeHTTP(w http.ResponseWriter, _ *http.Request) error {
	w.WriteHeader(http.StatusOK)
	return nil
}
