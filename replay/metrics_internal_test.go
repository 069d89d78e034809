package replay

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/caddyserver/caddy/v2"
)

// TestClaimsAreCountedByResult: obgate_replay_claims_total counts each claim under its result.
func TestClaimsAreCountedByResult(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	scope := "test/" + t.Name()
	st, release, err := Open(ctx, scope, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	results := []string{resultFresh, resultReplayed, resultFull, resultLifetime, resultUnavailable}
	count := func(result string) float64 {
		return testutil.ToFloat64(metrics.claims.WithLabelValues("memory", scope, result))
	}
	before := map[string]float64{} // the counters are the process's: earlier runs (-count) add to them
	for _, result := range results {
		before[result] = count(result)
	}
	until := time.Now().Add(time.Minute)
	_ = st.Claim(context.Background(), sha256.Sum256([]byte("a")), until)                   // fresh
	_ = st.Claim(context.Background(), sha256.Sum256([]byte("a")), until)                   // replayed
	_ = st.Claim(context.Background(), sha256.Sum256([]byte("b")), until)                   // full
	_ = st.Claim(context.Background(), sha256.Sum256([]byte("c")), until.Add(48*time.Hour)) // lifetime
	for result, want := range map[string]float64{resultFresh: 1, resultReplayed: 1, resultFull: 1, resultLifetime: 1, resultUnavailable: 0} {
		if got := count(result) - before[result]; got != want {
			t.Errorf("obgate_replay_claims_total{result=%q} rose by %v, want %v", result, got, want)
		}
	}
}
