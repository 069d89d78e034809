package jwks

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/internal/metricsreg"
)

// The collectors are process-wide, like the caches they describe, and registered in the
// registry of every config (Caddy makes a new registry per config). Labels come from
// configuration (URL, issuer) and closed sets (result), never from requests.
var metrics struct {
	once    sync.Once
	fetches *prometheus.CounterVec
	forced  *prometheus.CounterVec
	state   *stateCollector
}

func initMetrics() {
	metrics.once.Do(func() {
		metrics.fetches = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "obgate",
			Subsystem: "jwks",
			Name:      "fetches_total",
			Help:      "Fetches of remote keys (JWKS or discovery document) by URL and result.",
		}, []string{"url", "result"})
		metrics.forced = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "obgate",
			Subsystem: "jwks",
			Name:      "forced_refreshes_total",
			Help:      "Refreshes forced by a token naming an unknown kid, by URL.",
		}, []string{"url"})
		metrics.state = newStateCollector()
	})
}

// registerMetrics registers the collectors in a config's registry, tolerating a second call.
func registerMetrics(reg *prometheus.Registry) {
	initMetrics()
	metricsreg.Register(reg, "jwks", metrics.fetches, metrics.forced, metrics.state)
}

// urlMetric counts the events of one cache.
type urlMetric struct{ url string }

// liveURLs counts the caches of each URL label (a URL can have two while a reload changes a
// setting), so that a URL's series are deleted only when its last cache retires: a gateway whose
// configs come and go does not accumulate series of URLs it no longer uses.
var liveURLs = struct {
	sync.Mutex
	n map[string]int
}{n: make(map[string]int)}

func urlMetrics(u string) urlMetric {
	initMetrics()
	liveURLs.Lock()
	defer liveURLs.Unlock()
	liveURLs.n[u]++
	for _, r := range keys.FetchResults() { // export every result at 0, so rates work from the start
		metrics.fetches.WithLabelValues(u, r.String())
	}
	metrics.forced.WithLabelValues(u)
	return urlMetric{url: u}
}

// release is called when the cache retires; the last cache of a URL deletes its series.
func (m urlMetric) release() {
	liveURLs.Lock()
	defer liveURLs.Unlock()
	if liveURLs.n[m.url]--; liveURLs.n[m.url] > 0 {
		return
	}
	delete(liveURLs.n, m.url)
	for _, r := range keys.FetchResults() {
		metrics.fetches.DeleteLabelValues(m.url, r.String())
	}
	metrics.forced.DeleteLabelValues(m.url)
}

func (m urlMetric) fetched(r keys.FetchResult) {
	metrics.fetches.WithLabelValues(m.url, r.String()).Inc()
}

func (m urlMetric) forced() { metrics.forced.WithLabelValues(m.url).Inc() }

// stateCollector reports each cache's state at scrape time, from its Status.
type stateCollector struct {
	lastSuccess, staleness, ready, failures, keys *prometheus.Desc
}

func newStateCollector() *stateCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("obgate", "jwks", name), help, labels, nil)
	}
	return &stateCollector{
		lastSuccess: desc("last_success_timestamp_seconds", "When the keys were last fetched successfully (Unix time; 0: never).", "url"),
		staleness:   desc("staleness_seconds", "How long the keys in use are past their refresh interval (0: fresh).", "url"),
		ready:       desc("ready", "1 when the keys may be used, 0 when tokens are answered 503.", "url"),
		failures:    desc("consecutive_failures", "Failed fetches since the last successful one.", "url"),
		keys:        desc("keys", "Usable keys in the current set, per issuer that uses it.", "url", "issuer"),
	}
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.lastSuccess, c.staleness, c.ready, c.failures, c.keys} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A URL that two caches share during a reload (with
// different settings) is reported once, from the first.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	seen := map[string]bool{}
	for _, e := range entries() {
		if seen[e.url] {
			continue
		}
		seen[e.url] = true
		st := e.remote.Status()
		var last float64
		if !st.LastSuccess.IsZero() {
			last = float64(st.LastSuccess.UnixNano()) / 1e9
		}
		ready := 0.0
		if st.Ready {
			ready = 1
		}
		ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, last, e.url)
		ch <- prometheus.MustNewConstMetric(c.staleness, prometheus.GaugeValue, st.StaleFor.Seconds(), e.url)
		ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, ready, e.url)
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.GaugeValue, float64(st.ConsecutiveFailures), e.url)
		n := float64(len(st.KeyIDs))
		if !st.Ready {
			n = 0
		}
		for _, iss := range e.issuerList() {
			ch <- prometheus.MustNewConstMetric(c.keys, prometheus.GaugeValue, n, e.url, iss)
		}
	}
}
