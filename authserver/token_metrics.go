package authserver

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obgate/obgate/authserver/grant"
	"github.com/obgate/obgate/internal/metricsreg"
)

// grants counts token_endpoint answers: obgate_token_grants_total{endpoint, outcome}, where
// endpoint is the handler's name (a configured, bounded set) and outcome is issued or the
// RFC 6749 §5.2 error code of the refusal (the closed grant.Code* set). It is process-wide and
// registered in every config's registry; its labels never carry request values.
var grants struct {
	once  sync.Once
	total *prometheus.CounterVec
}

// grantOutcomeIssued is the outcome label of a token answer.
const grantOutcomeIssued = "issued"

// grantErrorCodes are every error code a token_endpoint answers with, each an outcome label.
var grantErrorCodes = []string{
	grant.CodeInvalidRequest, grant.CodeInvalidClient, grant.CodeUnauthorizedClient,
	grant.CodeUnsupportedGrantType, grant.CodeInvalidScope, grant.CodeTemporarilyUnavailable,
	grant.CodeServerError,
}

// registerGrantMetrics makes the counter once and registers it in reg (the config's registry).
func registerGrantMetrics(reg *prometheus.Registry) {
	grants.once.Do(func() {
		grants.total = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "obgate",
			Subsystem: "token",
			Name:      "grants_total",
			Help:      "token_endpoint answers by endpoint (its name) and outcome (issued, or the OAuth error code).",
		}, []string{"endpoint", "outcome"})
	})
	metricsreg.Register(reg, "token_endpoint", grants.total)
}

// grantCounters are one endpoint's series, resolved at provision so that an answer only
// increments a counter.
type grantCounters struct {
	issued prometheus.Counter
	byCode map[string]prometheus.Counter
}

// newGrantCounters registers the metric in reg and resolves every series of endpoint.
func newGrantCounters(reg *prometheus.Registry, endpoint string) *grantCounters {
	registerGrantMetrics(reg)
	g := &grantCounters{
		issued: grants.total.WithLabelValues(endpoint, grantOutcomeIssued),
		byCode: make(map[string]prometheus.Counter, len(grantErrorCodes)),
	}
	for _, code := range grantErrorCodes {
		g.byCode[code] = grants.total.WithLabelValues(endpoint, code)
	}
	return g
}

// observe counts one answer: a token when e is nil, else a refusal with e's code (a code outside
// the set, which the grant engine never makes, counts as server_error).
func (g *grantCounters) observe(e *grant.Error) {
	if g == nil {
		return
	}
	if e == nil {
		g.issued.Inc()
		return
	}
	c, ok := g.byCode[e.Code]
	if !ok {
		c = g.byCode[grant.CodeServerError]
	}
	c.Inc()
}
