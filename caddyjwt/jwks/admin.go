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
	// URL is the configured URL (for discovery, the document URL).
	URL string `json:"url"`

	// Kind is jwks_url or discovery.
	Kind string `json:"kind"`

	// Issuers are the issuers that use this cache.
	Issuers []string `json:"issuers"`

	// JWKSURI is where the keys came from; omitted before the first successful fetch.
	JWKSURI string `json:"jwks_uri,omitempty"`

	// Ready is true when tokens can be verified with this cache's keys now.
	Ready bool `json:"ready"`

	// Keys are the kids of the current key set; empty when there is none.
	Keys []string `json:"keys"`

	// LastSuccess is when the keys were last fetched successfully; omitted before the first.
	LastSuccess *time.Time `json:"last_success,omitempty"`

	// LastAttempt is when a fetch was last started; omitted before the first.
	LastAttempt *time.Time `json:"last_attempt,omitempty"`

	// NextRefresh is when the next fetch is scheduled; omitted when none is.
	NextRefresh *time.Time `json:"next_refresh,omitempty"`

	// FreshUntil is the end of the refresh interval of the last good fetch; omitted before it.
	FreshUntil *time.Time `json:"fresh_until,omitempty"`

	// StaleFor is how long the keys in use are past fresh_until, as a duration such as "2m0s";
	// omitted while they are fresh.
	StaleFor string `json:"stale_for,omitempty"`

	// LastError is the last fetch error while fetches fail; omitted otherwise.
	LastError string `json:"last_error,omitempty"`

	// ConsecutiveFailures counts the failed fetches since the last successful one.
	ConsecutiveFailures int `json:"consecutive_failures"`
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
