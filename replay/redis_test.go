package replay_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/internal/redistest"
	"github.com/obgate/obgate/replay"
)

// TestRedisStorePasswordPlaceholderExpandedAtProvision: the config holds {env.…}; provision
// expands it, and the store authenticates with the value.
func TestRedisStorePasswordPlaceholderExpandedAtProvision(t *testing.T) {
	srv := redistest.Start(t, redistest.WithPassword("from-the-environment"))
	t.Setenv("OBGATE_TEST_REDIS_PASSWORD", "from-the-environment")
	raw, _ := json.Marshal(map[string]any{"address": srv.Addr, "password": "{env.OBGATE_TEST_REDIS_PASSWORD}"})
	var s replay.RedisStore
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := s.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Cleanup() }()
	if s.Password != "{env.OBGATE_TEST_REDIS_PASSWORD}" {
		t.Errorf("Password = %q after provision, want the placeholder as written (the config never holds the secret)", s.Password)
	}
	st, release, err := s.OpenScope("test/password", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	until := time.Now().Add(time.Minute)
	if err := st.Claim(context.Background(), value("p"), until); err != nil {
		t.Fatalf("claim with the expanded password: %v", err)
	}
	if err := st.Claim(context.Background(), value("p"), until); !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("second claim: error = %v, want ErrReplayed", err)
	}
}

func TestRedisStoreConfigErrors(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	for name, s := range map[string]replay.RedisStore{
		"no address":      {},
		"no port":         {Address: "127.0.0.1"},
		"bad port":        {Address: "127.0.0.1:99999"},
		"negative db":     {Address: "127.0.0.1:6379", DB: -1},
		"timeout too big": {Address: "127.0.0.1:6379", Timeout: caddy.Duration(time.Minute)},
	} {
		if err := s.Provision(ctx); err == nil {
			t.Errorf("%s: Provision succeeded", name)
			_ = s.Cleanup()
		}
	}
}
