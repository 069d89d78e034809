// Package metricsreg registers obgate's process-wide collectors in a Caddy config's metrics
// registry (caddy.Context.GetMetricsRegistry), the same way in every module.
package metricsreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
)

// Register registers the collectors in reg, tolerating collectors registered there before (one
// registry serves every module of a config, and provision runs once per module instance). Any
// other failure is logged on the named logger, never fatal: metrics are not worth refusing a
// config for. A nil reg (outside a config) registers nothing.
func Register(reg *prometheus.Registry, logger string, collectors ...prometheus.Collector) {
	if reg == nil {
		return
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			if _, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); !ok {
				caddy.Log().Named(logger).Error("registering metrics", zap.Error(err))
			}
		}
	}
}
