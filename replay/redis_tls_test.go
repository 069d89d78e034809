package replay_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/redistest"
	"github.com/obgate/obgate/replay"
)

// failTimeout bounds each claim that is meant to fail, so the failing cases stay quick.
const failTimeout = "300ms"

// provisionRedis provisions a RedisStore from its JSON config and returns it; it is cleaned up
// when t ends.
func provisionRedis(t *testing.T, cfg map[string]any) (*replay.RedisStore, error) {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := new(replay.RedisStore)
	if err := json.Unmarshal(raw, s); err != nil {
		t.Fatal(err)
	}
	if err := s.Provision(bareContext(t)); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = s.Cleanup() })
	return s, nil
}

// redisScope provisions a RedisStore from cfg and opens one scope of it.
func redisScope(t *testing.T, cfg map[string]any, scope string) replay.Store {
	t.Helper()
	s, err := provisionRedis(t, cfg)
	if err != nil {
		t.Fatalf("Provision(%v): %v", cfg, err)
	}
	st, release, err := s.OpenScope(scope, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return st
}

// setCalls is how many SETs the server has run: a refused connection must run none.
func setCalls(t *testing.T, srv *redistest.Server) int {
	t.Helper()
	calls, err := srv.CommandCalls()
	if err != nil {
		t.Fatal(err)
	}
	return calls["set"]
}

// TestRedisStoreTLSWithTrustedCA: over TLS to a real redis-server whose certificate a private CA
// signed, trusted through trusted_ca, with a password: a fresh value is claimed, its replay is
// refused, and the claims went through the server (two SETs).
func TestRedisStoreTLSWithTrustedCA(t *testing.T) {
	srv := redistest.Start(t, redistest.WithTLS(), redistest.WithPassword("tls-pw"))
	st := redisScope(t, map[string]any{
		"address": srv.TLSAddr, "password": "tls-pw", "tls": true, "trusted_ca": []string{srv.CAFile},
	}, "test/tls")
	until := time.Now().Add(time.Minute)
	if err := st.Claim(context.Background(), value("tls-1"), until); err != nil {
		t.Fatalf("claim over TLS with the private CA trusted: %v", err)
	}
	if err := st.Claim(context.Background(), value("tls-1"), until); !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("replay over TLS: error = %v, want ErrReplayed", err)
	}
	if n := setCalls(t, srv); n != 2 {
		t.Errorf("the server ran %d SETs, want 2", n)
	}
}

// TestRedisStoreTLSServerName: server_name replaces the address's host as the name verified: the
// certificate is for 127.0.0.1 and localhost, so "localhost" passes at 127.0.0.1, and the address
// given as localhost passes too.
func TestRedisStoreTLSServerName(t *testing.T) {
	srv := redistest.Start(t, redistest.WithTLS())
	_, port, _ := strings.Cut(srv.TLSAddr, ":")
	for name, cfg := range map[string]map[string]any{
		"server_name localhost": {"address": srv.TLSAddr, "tls": true, "trusted_ca": []string{srv.CAFile}, "server_name": "localhost"},
		"address localhost":     {"address": "localhost:" + port, "tls": true, "trusted_ca": []string{srv.CAFile}},
	} {
		st := redisScope(t, cfg, "test/server-name")
		if err := st.Claim(context.Background(), value(name), time.Now().Add(time.Minute)); err != nil {
			t.Errorf("%s: claim: %v", name, err)
		}
	}
}

// TestRedisStoreTLSFailsClosed: every TLS mismatch is a claim that fails with ErrUnavailable (a
// 503 at the handler), never a success, and no command reaches the server: the private CA not
// trusted (the system roots, nothing set), another CA trusted, a server_name the certificate does
// not hold, a plain client on the TLS port, a TLS client on the plain port.
func TestRedisStoreTLSFailsClosed(t *testing.T) {
	srv := redistest.Start(t, redistest.WithTLS())
	other := redistest.Start(t, redistest.WithTLS()) // its CA signed another certificate
	for name, cfg := range map[string]map[string]any{
		"system roots":            {"address": srv.TLSAddr, "tls": true},
		"another CA trusted":      {"address": srv.TLSAddr, "tls": true, "trusted_ca": []string{other.CAFile}},
		"wrong server_name":       {"address": srv.TLSAddr, "tls": true, "trusted_ca": []string{srv.CAFile}, "server_name": "redis.example"},
		"plain client, TLS port":  {"address": srv.TLSAddr},
		"TLS client, plain port":  {"address": srv.Addr, "tls": true, "trusted_ca": []string{srv.CAFile}},
		"wrong name, address set": {"address": srv.TLSAddr, "tls": true, "trusted_ca": []string{srv.CAFile}, "server_name": "127.0.0.2"},
	} {
		cfg["timeout"] = failTimeout
		st := redisScope(t, cfg, "test/fail-closed")
		for n := range 2 { // the second claim takes the same path again (no half-made connection reused)
			err := st.Claim(context.Background(), value(name), time.Now().Add(time.Minute))
			t.Logf("%s: claim %d: %v", name, n+1, err)
			if !errors.Is(err, replay.ErrUnavailable) {
				t.Errorf("%s: claim %d: error = %v, want ErrUnavailable", name, n+1, err)
			}
		}
	}
	if n := setCalls(t, srv); n != 0 {
		t.Errorf("the server ran %d SETs through refused connections, want 0", n)
	}
}

// TestRedisStoreTLSSettingsKeepClientsApart: the shared client of a server is keyed by its TLS
// settings too. A store that trusts the private CA works; one provisioned next to it with the same
// address, credentials and prefix but without trusted_ca (or with another server_name) gets its own
// client and fails, instead of borrowing the first one's verified connections.
func TestRedisStoreTLSSettingsKeepClientsApart(t *testing.T) {
	srv := redistest.Start(t, redistest.WithTLS())
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"address": srv.TLSAddr, "tls": true, "timeout": failTimeout}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	good := redisScope(t, base(map[string]any{"trusted_ca": []string{srv.CAFile}}), "test/pool")
	if err := good.Claim(context.Background(), value("pool-1"), time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("claim with the private CA trusted: %v", err)
	}
	for name, extra := range map[string]map[string]any{
		"no trusted_ca":     nil,
		"other server_name": {"trusted_ca": []string{srv.CAFile}, "server_name": "redis.example"},
	} {
		st := redisScope(t, base(extra), "test/pool")
		if err := st.Claim(context.Background(), value("pool-"+name), time.Now().Add(time.Minute)); !errors.Is(err, replay.ErrUnavailable) {
			t.Errorf("%s, next to a working store: error = %v, want ErrUnavailable", name, err)
		}
	}
	if err := good.Claim(context.Background(), value("pool-2"), time.Now().Add(time.Minute)); err != nil {
		t.Errorf("the working store after the others: %v", err)
	}
}

// TestRedisStoreTLSConfigErrors: TLS settings that cannot work fail at provision, before any
// connection, with a message naming the field (and the file).
func TestRedisStoreTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing-ca.pem")
	garbage := filepath.Join(dir, "garbage.pem")
	key := filepath.Join(dir, "key.pem")
	badCert := filepath.Join(dir, "bad-cert.pem")
	for path, data := range map[string]string{
		garbage: "not a PEM file",
		key:     "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		badCert: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const addr = "127.0.0.1:6379"
	t.Setenv("OBGATE_TEST_UNSET", "")
	for name, tc := range map[string]struct {
		cfg  map[string]any
		want []string
	}{
		"trusted_ca without tls":  {map[string]any{"address": addr, "trusted_ca": []string{missing}}, []string{"trusted_ca", "tls"}},
		"server_name without tls": {map[string]any{"address": addr, "server_name": "redis.example"}, []string{"server_name", "tls"}},
		"missing file":            {map[string]any{"address": addr, "tls": true, "trusted_ca": []string{missing}}, []string{"trusted_ca", missing, "no such file"}},
		"not PEM":                 {map[string]any{"address": addr, "tls": true, "trusted_ca": []string{garbage}}, []string{"trusted_ca", garbage, "no PEM certificate"}},
		"a key, not a cert":       {map[string]any{"address": addr, "tls": true, "trusted_ca": []string{key}}, []string{"trusted_ca", key, "not a CERTIFICATE"}},
		"unparseable cert":        {map[string]any{"address": addr, "tls": true, "trusted_ca": []string{badCert}}, []string{"trusted_ca", badCert}},
		"empty server_name":       {map[string]any{"address": addr, "tls": true, "server_name": "{env.OBGATE_TEST_UNSET}"}, []string{"server_name"}},
		"server_name with a path": {map[string]any{"address": addr, "tls": true, "server_name": "redis.example/x"}, []string{"server_name"}},
	} {
		_, err := provisionRedis(t, tc.cfg)
		if err == nil {
			t.Errorf("%s: Provision succeeded", name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", name, err, w)
			}
		}
	}
}

// TestRedisStoreTLSPlaceholders: trusted_ca paths and server_name take placeholders, expanded at
// provision; the config keeps what was written.
func TestRedisStoreTLSPlaceholders(t *testing.T) {
	srv := redistest.Start(t, redistest.WithTLS())
	t.Setenv("OBGATE_TEST_REDIS_CA", srv.CAFile)
	t.Setenv("OBGATE_TEST_REDIS_NAME", "localhost")
	s, err := provisionRedis(t, map[string]any{
		"address": srv.TLSAddr, "tls": true,
		"trusted_ca": []string{"{env.OBGATE_TEST_REDIS_CA}"}, "server_name": "{env.OBGATE_TEST_REDIS_NAME}",
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.TrustedCA[0] != "{env.OBGATE_TEST_REDIS_CA}" || s.ServerName != "{env.OBGATE_TEST_REDIS_NAME}" {
		t.Errorf("config after provision: trusted_ca %q, server_name %q; want the placeholders as written", s.TrustedCA, s.ServerName)
	}
	st, release, err := s.OpenScope("test/placeholders", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if err := st.Claim(context.Background(), value("placeholders"), time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("claim: %v", err)
	}
}
