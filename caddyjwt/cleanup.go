package caddyjwt

import (
	"github.com/caddyserver/caddy/v2"
)

// Cleanup releases the remote key caches (jwks_url, discovery) that the handler uses. A cache
// that another config still uses, such as the one that replaces this config on reload, keeps
// running with its keys; the last user's Cleanup stops it. It works after a failed Provision.
func (h *JWTAuth) Cleanup() error {
	h.auth.release()
	return nil
}

// Cleanup releases the remote key caches that the provider uses, as JWTAuth.Cleanup does.
func (p *Provider) Cleanup() error {
	p.auth.release()
	return nil
}

// release gives back what the authenticator holds beyond the config; safe on nil.
func (a *authenticator) release() {
	if a == nil {
		return
	}
	a.remote.release()
	liveCaches.remove(a.verifier)
	if a.unname != nil {
		a.unname()
	}
}

// Interface guards
var (
	_ caddy.CleanerUpper = (*JWTAuth)(nil)
	_ caddy.CleanerUpper = (*Provider)(nil)
)
