package caddyjwt

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/metricsreg"
)

// verifications counts jwt_auth's answers by result (valid, invalid, unavailable) and reason (the
// closed verify.Reason set, such as no_token, multiple_tokens or expired; "none" for a valid
// token): every request the policy answers, a missing token and the 400s included. It is
// process-wide and registered in every config's registry; its labels never carry request values.
// Every series is resolved once, so the hot path only increments a counter.
var verifications struct {
	once     sync.Once
	total    *prometheus.CounterVec
	valid    prometheus.Counter
	byReason [verify.ReasonCount]prometheus.Counter

	cacheHits, cacheMisses prometheus.Counter
	cacheEntries           prometheus.GaugeFunc
}

func registerVerificationMetrics(reg *prometheus.Registry) {
	verifications.once.Do(func() {
		v := &verifications
		v.total = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "obgate",
			Subsystem: "jwt",
			Name:      "verifications_total",
			Help:      "Token verifications by result (valid, invalid, unavailable) and reason.",
		}, []string{"result", "reason"})
		v.valid = v.total.WithLabelValues("valid", "none")
		for i := range v.byReason {
			r := verify.Reason(i)
			result := "invalid"
			if r == verify.ReasonKeysUnavailable || r == verify.ReasonReplayUnavailable {
				result = "unavailable"
			}
			v.byReason[i] = v.total.WithLabelValues(result, r.String())
		}
		v.cacheHits = prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "obgate", Subsystem: "jwt", Name: "verified_cache_hits_total",
			Help: "Tokens served from a verified_cache (signature check skipped; key and claims still checked).",
		})
		v.cacheMisses = prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "obgate", Subsystem: "jwt", Name: "verified_cache_misses_total",
			Help: "Tokens a verified_cache did not hold (or whose key was gone): verified in full.",
		})
		v.cacheEntries = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "obgate", Subsystem: "jwt", Name: "verified_cache_entries",
			Help: "Tokens held by the verified_cache of every jwt_auth policy in use.",
		}, liveCaches.entries)
	})
	metricsreg.Register(reg, "jwt_auth", verifications.total, verifications.cacheHits, verifications.cacheMisses, verifications.cacheEntries)
}

// observeVerification counts one answer.
func observeVerification(err error) {
	if verifications.total == nil {
		return
	}
	if err == nil {
		verifications.valid.Inc()
		return
	}
	r := verify.ReasonOf(err)
	if int(r) < 0 || int(r) >= verify.ReasonCount {
		r = verify.ReasonUnknown
	}
	verifications.byReason[r].Inc()
}

// observeCacheLookup counts one verified_cache lookup (verify.Policy.OnCacheLookup).
func observeCacheLookup(hit bool) {
	if verifications.cacheHits == nil {
		return
	}
	if hit {
		verifications.cacheHits.Inc()
	} else {
		verifications.cacheMisses.Inc()
	}
}

// liveCaches are the verifiers with a verified_cache of the configs in use, for the entries gauge.
var liveCaches = cacheSet{m: map[*verify.Verifier]struct{}{}}

type cacheSet struct {
	mu sync.Mutex
	m  map[*verify.Verifier]struct{}
}

func (s *cacheSet) add(v *verify.Verifier) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[v] = struct{}{}
}

func (s *cacheSet) remove(v *verify.Verifier) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, v)
}

func (s *cacheSet) entries() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for v := range s.m {
		n += v.CacheLen()
	}
	return float64(n)
}
