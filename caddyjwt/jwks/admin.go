package jwks

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// adminAPI serves the readiness view of the remote key caches in Caddy's admin API:
// GET /jwks/ lists every cache with its state. The answer is 200 when every cache has usable
// keys and 503 when one has none (never fetched, or stale beyond max_stale), so that a
// readiness probe can gate traffic on it; the body is the same JSON either way.
type adminAPI struct{}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.jwks",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Routes returns the admin routes.
func (adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/jwks/", Handler: caddy.AdminHandlerFunc(serveStatus)}}
}

// URLState is one cache in the admin view.
type URLState struct {
	URL                 string     `json:"url"`                // the configured URL
	Kind                string     `json:"kind"`               // jwks_url or discovery
	Issuers             []string   `json:"issuers"`            // the issuers that use it
	JWKSURI             string     `json:"jwks_uri,omitempty"` // where the keys came from
	Ready               bool       `json:"ready"`              // tokens can be verified now
	Keys                []string   `json:"keys"`               // the kids of the current set
	LastSuccess         *time.Time `json:"last_success,omitempty"`
	LastAttempt         *time.Time `json:"last_attempt,omitempty"`
	NextRefresh         *time.Time `json:"next_refresh,omitempty"`
	FreshUntil          *time.Time `json:"fresh_until,omitempty"`
	StaleFor            string     `json:"stale_for,omitempty"` // a duration, when past fresh_until
	LastError           string     `json:"last_error,omitempty"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
}

// Snapshot returns the state of every cache in the process, sorted by URL.
func Snapshot() []URLState {
	out := []URLState{}
	for _, e := range entries() {
		st := e.remote.Status()
		s := URLState{
			URL:                 e.url,
			Kind:                e.kind,
			Issuers:             e.issuerList(),
			JWKSURI:             st.JWKSURL,
			Ready:               st.Ready,
			Keys:                st.KeyIDs,
			LastSuccess:         timeOrNil(st.LastSuccess),
			LastAttempt:         timeOrNil(st.LastAttempt),
			NextRefresh:         timeOrNil(st.NextAttempt),
			FreshUntil:          timeOrNil(st.FreshUntil),
			LastError:           st.LastError,
			ConsecutiveFailures: st.ConsecutiveFailures,
		}
		if s.Keys == nil {
			s.Keys = []string{}
		}
		if st.StaleFor > 0 {
			s.StaleFor = st.StaleFor.Round(time.Second).String()
		}
		out = append(out, s)
	}
	return out
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func serveStatus(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: errors.New("method not allowed")}
	}
	states := Snapshot()
	status := http.StatusOK
	for _, s := range states {
		if !s.Ready {
			status = http.StatusServiceUnavailable
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(states)
}

// Interface guard
var _ caddy.AdminRouter = (*adminAPI)(nil)
