package caddyjwt

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/obgate/obgate/internal/caddyfileargs"
	"github.com/obgate/obgate/replay"
)

// replayLease is a handler's scope of the configured single-use store.
type replayLease struct {
	store replay.Store
	done  func()
}

// openReplay opens the handler's replay scope. The scope is named after the signers the handler
// accepts (its keys, JWKS URLs, discovery URLs, registry counterparties and issuer blocks): handlers
// with the same signers share one scope, so a signature accepted by one is refused by the other,
// while a signer of another handler can never fill this handler's bound. The name is the same
// on every instance that runs the same config, which is what the Redis store shares.
func openReplay(ctx caddy.Context, h *RequestSignature) (*replayLease, error) {
	if h.ReplayMaxEntries < 0 {
		return nil, fmt.Errorf("replay_max_entries: must not be negative")
	}
	signers, err := json.Marshal(struct {
		Keys      []KeyFile      `json:"keys,omitempty"`
		JWKSURL   string         `json:"jwks_url,omitempty"`
		Discovery string         `json:"discovery,omitempty"`
		Registry  []string       `json:"registry,omitempty"`
		Issuers   []IssuerConfig `json:"issuers,omitempty"`
	}{h.Keys, h.JWKSURL, h.Discovery, h.Registry, h.Issuers})
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	sum := sha256.Sum256(signers)
	scope := "request_signature/signers-" + hex.EncodeToString(sum[:8])
	st, release, err := replay.Open(ctx, scope, h.ReplayMaxEntries)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return &replayLease{store: st, done: release}, nil
}

// release gives the scope back; it works on a nil lease (replay off, or a failed Provision).
func (l *replayLease) release() {
	if l != nil && l.done != nil {
		l.done()
	}
}

// parseReplay reads `replay [<max_entries>]`.
func parseReplay(d *caddyfile.Dispenser, h *RequestSignature) error {
	if h.Replay {
		return d.Err("replay: already specified")
	}
	h.Replay = true
	if !d.NextArg() {
		return nil
	}
	n, err := caddyfileargs.ParsePositiveInt(d, "replay", d.Val(), "entries")
	if err != nil {
		return err
	}
	h.ReplayMaxEntries = n
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}
