package caddyjwt

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/obgate/obgate/internal/metricsreg"
)

// checks counts jwt_check requests by policy (the handler's configured name, a bounded set),
// result (valid, invalid, unavailable, or bad_request / unknown_policy for a request that got no
// verdict) and reason (the closed verify.Reason set; "none" without one). jwt_check answers
// whether any token is valid and why not, so each answer leaves a trace: this counter and a
// debug log line. Labels never carry request values.
var checks struct {
	once  sync.Once
	total *prometheus.CounterVec
}

func registerCheckMetrics(reg *prometheus.Registry) {
	checks.once.Do(func() {
		checks.total = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "obgate",
			Subsystem: "jwt",
			Name:      "checks_total",
			Help:      "jwt_check requests by policy, result (valid, invalid, unavailable, bad_request, unknown_policy) and reason.",
		}, []string{"policy", "result", "reason"})
	})
	metricsreg.Register(reg, "jwt_check", checks.total)
}

// checkResult is the result label of a verdict.
func checkResult(v verdict) (result, reason string) {
	switch {
	case v.Valid:
		return "valid", "none"
	case v.Reason == "keys_unavailable":
		return "unavailable", v.Reason
	}
	return "invalid", v.Reason
}

// observe counts one check request and logs it at debug level with the policy, the verdict, the
// reason and a short SHA-256 prefix of the token (never the token). result is the verdict's
// result, or bad_request / unknown_policy when there was none.
func (h *Check) observe(r *http.Request, token, result, reason string) {
	if checks.total != nil {
		checks.total.WithLabelValues(h.Policy, result, reason).Inc()
	}
	c := h.logger.Check(zapcore.DebugLevel, "token checked")
	if c == nil {
		return
	}
	fields := []zap.Field{
		zap.String("policy", h.Policy),
		zap.String("result", result),
		zap.String("reason", reason),
		zap.String("remote_ip", r.RemoteAddr),
	}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		fields = append(fields, zap.String("token_sha256_prefix", hex.EncodeToString(sum[:6])))
	}
	c.Write(fields...)
}
