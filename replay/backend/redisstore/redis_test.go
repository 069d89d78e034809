package redisstore_test

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/redistest"
	"github.com/obgate/obgate/replay/backend"
	"github.com/obgate/obgate/replay/backend/redisstore"
)

func newRedis(t testing.TB, o redisstore.RedisOptions) *redisstore.Redis {
	t.Helper()
	r, err := redisstore.NewRedis(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// TestRedisClaimIsSharedByEveryInstance: two clients stand for two gateway instances; a value
// claimed through one is refused through the other, and of many concurrent claims exactly one wins.
func TestRedisClaimIsSharedByEveryInstance(t *testing.T) {
	srv := redistest.Start(t)
	a := newRedis(t, redisstore.RedisOptions{Addr: srv.Addr}).Scope("request_signature/p")
	b := newRedis(t, redisstore.RedisOptions{Addr: srv.Addr}).Scope("request_signature/p")
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	if err := a.Claim(ctx, id(1), until); err != nil {
		t.Fatalf("claim on instance A: %v", err)
	}
	if err := b.Claim(ctx, id(1), until); !errors.Is(err, backend.ErrReplayed) {
		t.Fatalf("the same value on instance B: error = %v, want ErrReplayed", err)
	}
	if err := a.Claim(ctx, id(1), until); !errors.Is(err, backend.ErrReplayed) {
		t.Fatalf("the same value again on instance A: error = %v, want ErrReplayed", err)
	}

	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Go(func() {
			err := st.Claim(ctx, id(2), until)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, backend.ErrReplayed):
				t.Errorf("concurrent claim: %v", err)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d of 40 concurrent claims across two instances won, want exactly 1", n)
	}
}

// TestRedisKeyIsHashedPrefixedAndLivesAsLongAsTheValue: the one key a claim writes is the prefix
// and a hash (nothing of the id in clear), and its TTL is the value's remaining lifetime.
func TestRedisKeyIsHashedPrefixedAndLivesAsLongAsTheValue(t *testing.T) {
	srv := redistest.Start(t)
	st := newRedis(t, redisstore.RedisOptions{Addr: srv.Addr, KeyPrefix: "gw-test:"}).Scope("dcr/x")
	value := id(3)
	if err := st.Claim(context.Background(), value, time.Now().Add(90*time.Second)); err != nil {
		t.Fatal(err)
	}
	key, err := srv.Do("RANDOMKEY")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^gw-test:[0-9a-f]{64}$`).MatchString(key) {
		t.Errorf("key = %q, want the prefix and 64 hex digits", key)
	}
	if strings.Contains(key, hex.EncodeToString(value[:])) || strings.Contains(key, "dcr/x") {
		t.Errorf("key %q shows the id or the scope in clear", key)
	}
	pttl, err := srv.Do("PTTL", key)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := strconv.Atoi(pttl)
	if ms <= 80_000 || ms > 90_000 {
		t.Errorf("PTTL = %d ms, want the remaining lifetime (at most 90000, more than 80000)", ms)
	}
	if n, _ := srv.Keys(); n != 1 {
		t.Errorf("DBSIZE = %d after one claim, want 1", n)
	}
}

// TestRedisScopesAreSeparate: the same id in two scopes is two values.
func TestRedisScopesAreSeparate(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, redisstore.RedisOptions{Addr: srv.Addr})
	until := time.Now().Add(time.Minute)
	for _, scope := range []string{"a", "b", "a\x00b"} {
		if err := r.Scope(scope).Claim(context.Background(), id(4), until); err != nil {
			t.Errorf("scope %q: %v", scope, err)
		}
	}
}

// TestRedisOneRoundTripPerClaim: a claim is exactly one SET; a lifetime out of bounds reaches
// Redis not at all.
func TestRedisOneRoundTripPerClaim(t *testing.T) {
	srv := redistest.Start(t)
	st := newRedis(t, redisstore.RedisOptions{Addr: srv.Addr}).Scope("s")
	ctx := context.Background()
	for n := range 10 {
		_ = st.Claim(ctx, id(100+n%5), time.Now().Add(time.Minute)) // 5 fresh, 5 replayed
	}
	if err := st.Claim(ctx, id(200), time.Now().Add(backend.MaxLifetime+time.Minute)); !errors.Is(err, backend.ErrLifetime) {
		t.Errorf("claim beyond MaxLifetime: error = %v, want ErrLifetime", err)
	}
	calls, err := srv.CommandCalls()
	if err != nil {
		t.Fatal(err)
	}
	if calls["set"] != 10 {
		t.Errorf("SET ran %d times for 10 claims, want 10 (commandstats %v)", calls["set"], calls)
	}
}

// TestRedisDownIsUnavailableThenRecovers: with Redis stopped a claim fails with ErrUnavailable
// (never a success, never a hang past the bound); once it runs again, claims succeed again with
// the same client, no reload.
func TestRedisDownIsUnavailableThenRecovers(t *testing.T) {
	srv := redistest.Start(t)
	st := newRedis(t, redisstore.RedisOptions{Addr: srv.Addr, Timeout: 300 * time.Millisecond}).Scope("s")
	ctx := context.Background()
	if err := st.Claim(ctx, id(5), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	for n := range 3 {
		if err := st.Claim(ctx, id(6+n), time.Now().Add(time.Minute)); !errors.Is(err, backend.ErrUnavailable) {
			t.Fatalf("claim %d with Redis stopped: error = %v, want ErrUnavailable", n, err)
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := st.Claim(ctx, id(20), time.Now().Add(time.Minute))
		if err == nil {
			break
		}
		if !errors.Is(err, backend.ErrUnavailable) {
			t.Fatalf("claim after the restart: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("claims still fail 10s after Redis came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRedisPassword: a server that requires a password refuses a client without it
// (ErrUnavailable) and serves one with it.
func TestRedisPassword(t *testing.T) {
	srv := redistest.Start(t, redistest.WithPassword("s3cret-pw"))
	until := time.Now().Add(time.Minute)
	bad := newRedis(t, redisstore.RedisOptions{Addr: srv.Addr, Password: "wrong"}).Scope("s")
	if err := bad.Claim(context.Background(), id(9), until); !errors.Is(err, backend.ErrUnavailable) {
		t.Errorf("claim with a wrong password: error = %v, want ErrUnavailable", err)
	}
	good := newRedis(t, redisstore.RedisOptions{Addr: srv.Addr, Password: "s3cret-pw", DB: 3}).Scope("s")
	if err := good.Claim(context.Background(), id(9), until); err != nil {
		t.Errorf("claim with the password: %v", err)
	}
}

// id is a value id made from a number, for readable tests.
func id(n int) [32]byte {
	var v [32]byte
	binary.BigEndian.PutUint64(v[:8], uint64(n))
	return v
}

// TestRedisConcurrentClaimsSharePipelines: many concurrent claims, each value claimed by two of
// them, travel in shared pipelines (fewer pipelines than claims), and each claim still gets its
// own answer: exactly one of the two claims of every value wins.
func TestRedisConcurrentClaimsSharePipelines(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, redisstore.RedisOptions{Addr: srv.Addr, Timeout: 5 * time.Second})
	st := r.Scope("pipelines")
	const values, perValue = 600, 2
	wins := make([]atomic.Int32, values)
	var wg sync.WaitGroup
	until := time.Now().Add(time.Minute)
	for g := range 64 {
		wg.Go(func() {
			for n := g; n < values*perValue; n += 64 {
				v := n % values
				switch err := st.Claim(context.Background(), id(1000+v), until); {
				case err == nil:
					wins[v].Add(1)
				case !errors.Is(err, backend.ErrReplayed):
					t.Errorf("claim of value %d: %v", v, err)
				}
			}
		})
	}
	wg.Wait()
	for v := range wins {
		if n := wins[v].Load(); n != 1 {
			t.Fatalf("value %d: %d of %d claims won, want exactly 1", v, n, perValue)
		}
	}
	pipes, claims := r.Stats()
	if claims != values*perValue {
		t.Errorf("Stats: %d claims sent, want %d", claims, values*perValue)
	}
	if pipes >= claims {
		t.Errorf("Stats: %d pipelines for %d concurrent claims, want them shared", pipes, claims)
	}
	calls, err := srv.CommandCalls()
	if err != nil {
		t.Fatal(err)
	}
	if calls["set"] != values*perValue {
		t.Errorf("SET ran %d times for %d claims, want one each", calls["set"], values*perValue)
	}
}

// TestRedisFrozenServerFailsClosedThenRecovers: a server that stops answering (SIGSTOP: the
// connections stay open, nothing comes back) makes every concurrent claim fail with
// ErrUnavailable within its bound, the ones waiting for a turn as well as the ones on the wire;
// once it answers again (SIGCONT), claims succeed again with the same client.
func TestRedisFrozenServerFailsClosedThenRecovers(t *testing.T) {
	srv := redistest.Start(t)
	st := newRedis(t, redisstore.RedisOptions{Addr: srv.Addr, Timeout: 200 * time.Millisecond}).Scope("frozen")
	ctx := context.Background()
	if err := st.Claim(ctx, id(30), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	pid := srv.PID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	defer resume()

	const claimers = 40
	errs := make(chan error, claimers)
	start := time.Now()
	for n := range claimers {
		go func() { errs <- st.Claim(ctx, id(40+n), time.Now().Add(time.Minute)) }()
	}
	for range claimers {
		select {
		case err := <-errs:
			if !errors.Is(err, backend.ErrUnavailable) {
				t.Errorf("claim with the server frozen: error = %v, want ErrUnavailable", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("claims still waiting %v after the server froze; the bound is 200ms per claim", time.Since(start))
		}
	}
	resume()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := st.Claim(ctx, id(99), time.Now().Add(time.Minute))
		if err == nil {
			break
		}
		if !errors.Is(err, backend.ErrUnavailable) {
			t.Fatalf("claim after the server resumed: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("claims still fail 10s after the server resumed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
