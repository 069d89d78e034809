package metricsreg_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/obgate/obgate/internal/metricsreg"
)

// TestRegisterToleratesASecondRegistration: a collector registered twice in one registry (two
// module instances of one config) is there once; a nil registry is no error.
func TestRegisterToleratesASecondRegistration(t *testing.T) {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "obgate_test_total", Help: "test"})
	reg := prometheus.NewRegistry()
	metricsreg.Register(reg, "test", c)
	metricsreg.Register(reg, "test", c)
	metricsreg.Register(nil, "test", c)
	c.Add(3)
	if n, err := testutil.GatherAndCount(reg, "obgate_test_total"); err != nil || n != 1 {
		t.Fatalf("series of obgate_test_total in the registry: %d, %v; want 1", n, err)
	}
	if v := testutil.ToFloat64(c); v != 3 {
		t.Fatalf("counter = %v, want 3", v)
	}
}
