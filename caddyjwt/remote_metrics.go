package caddyjwt

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/caddyjwt/verify"
)

// verifications counts token verifications by result (valid, invalid, unavailable) and reason
// (the closed verify.Reason set; "none" for a valid token). It is process-wide and registered in
// every config's registry; its labels never carry request values.
var verifications struct {
	once  sync.Once
	total *prometheus.CounterVec
}

func registerVerificationMetrics(reg *prometheus.Registry) {
	verifications.once.Do(func() {
		verifications.total = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "obgate",
			Subsystem: "jwt",
			Name:      "verifications_total",
			Help:      "Token verifications by result (valid, invalid, unavailable) and reason.",
		}, []string{"result", "reason"})
	})
	if reg == nil {
		return
	}
	if err := reg.Register(verifications.total); err != nil {
		if _, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); !ok {
			caddy.Log().Named("jwt_auth").Error("registering metrics", zap.Error(err))
		}
	}
}

// observeVerification counts one verification outcome.
func observeVerification(err error) {
	if verifications.total == nil {
		return
	}
	result, reason := "valid", "none"
	if err != nil {
		r := verify.ReasonOf(err)
		result, reason = "invalid", r.String()
		if r == verify.ReasonKeysUnavailable || r == verify.ReasonReplayUnavailable {
			result = "unavailable"
		}
	}
	verifications.total.WithLabelValues(result, reason).Inc()
}
