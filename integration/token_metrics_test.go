package integration

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// TestTokenGrantMetrics: every token_endpoint answer is counted in obgate_token_grants_total by
// the endpoint's name and the outcome (issued, or the OAuth error code); read from /metrics of the
// running Caddy.
func TestTokenGrantMetrics(t *testing.T) {
	w := newASWorld(t)
	adminPort := freePort(t)
	cfg := strings.Replace(w.caddyfile(""), "\tadmin off\n", fmt.Sprintf("\tadmin 127.0.0.1:%d\n", adminPort), 1)
	w.g = startGateway(t, cfg)
	series := func(outcome string) string {
		return `obgate_token_grants_total{endpoint="main-token",outcome="` + outcome + `"}`
	}
	outcomes := []string{"issued", "invalid_request", "invalid_client", "unsupported_grant_type", "invalid_scope"}
	read := func() map[string]float64 {
		_, m := adminGet(t, adminPort, "/metrics")
		out := map[string]float64{}
		for _, o := range outcomes {
			out[o] = metricValue(t, m, series(o))
		}
		return out
	}
	before := read()
	granted(t, w.token(&w.client, url.Values{"grant_type": {"client_credentials"}, "client_id": {"mtls-client"}}))
	granted(t, w.token(nil, pkForm(w.assertion(w.pk, "pk-client", nil))))
	refused(t, w.token(&w.client, url.Values{"grant_type": {"password"}, "client_id": {"mtls-client"}}), 400, "unsupported_grant_type")
	refused(t, w.token(nil, pkForm(w.assertion(w.pk, "pk-client", nil), "scope", "admin")), 400, "invalid_scope")
	refused(t, w.token(&w.other, url.Values{"grant_type": {"client_credentials"}, "client_id": {"mtls-client"}}), 401, "invalid_client")
	refused(t, w.send(nil, "GET", "/token", nil), 405, "invalid_request")
	after := read()
	for o, want := range map[string]float64{"issued": 2, "unsupported_grant_type": 1, "invalid_scope": 1, "invalid_client": 1, "invalid_request": 1} {
		if got := after[o] - before[o]; got != want {
			t.Errorf("%s went up by %v, want %v", series(o), got, want)
		}
	}
	// Every outcome's series exists from provision on, before any request of that outcome.
	_, m := adminGet(t, adminPort, "/metrics")
	for _, o := range []string{"unauthorized_client", "temporarily_unavailable", "server_error"} {
		if !strings.Contains(m, series(o)+" ") {
			t.Errorf("/metrics has no %s series", series(o))
		}
	}
}
