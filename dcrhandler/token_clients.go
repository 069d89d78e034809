package dcrhandler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/obgate/obgate/authserver/grant"
	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/oauthreg"
)

// ClientsRefreshInterval is how often a named dcr handler reloads its registrations from
// storage, so that registrations, updates and deletions made through other instances on the
// same storage reach this instance's token endpoint within about this long. Changes made
// through this instance apply at once.
const ClientsRefreshInterval = 10 * time.Second

// clientDirectory holds a named dcr handler's registrations as token-endpoint clients, in
// memory: the token endpoint's lookups never touch storage. Local registrations, updates and
// deletions apply at once; a reload from storage every ClientsRefreshInterval brings in other
// instances' changes. A reload never undoes a local change made while it ran.
type clientDirectory struct {
	h *Handler

	mu      sync.RWMutex
	clients map[string]*grant.Client
	gen     uint64            // bumped by every local change
	touched map[string]uint64 // client_id -> gen of its last local change

	afterLoad func() // tests: runs between reading storage and swapping the result in
}

// Client returns the registered client with the ID, or nil (unknown, deleted, or a
// registration that is no client of a token endpoint).
func (d *clientDirectory) Client(id string) (*grant.Client, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.clients[id], nil
}

// put applies a local registration or update at once.
func (d *clientDirectory) put(rec *clientRecord) {
	c := d.h.tokenClient(rec)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	d.touched[rec.ClientID] = d.gen
	if c == nil {
		delete(d.clients, rec.ClientID)
		return
	}
	d.clients[rec.ClientID] = c
}

// remove applies a local deletion at once.
func (d *clientDirectory) remove(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	d.touched[id] = d.gen
	delete(d.clients, id)
}

// reload replaces the clients with what storage holds, except those changed locally since the
// reload began (their local state is newer).
func (d *clientDirectory) reload(ctx context.Context) error {
	d.mu.RLock()
	start := d.gen
	d.mu.RUnlock()
	recs, err := d.h.store.all(ctx)
	if err != nil {
		return err
	}
	next := make(map[string]*grant.Client, len(recs))
	for _, rec := range recs {
		if c := d.h.tokenClient(rec); c != nil {
			next[rec.ClientID] = c
		}
	}
	if d.afterLoad != nil {
		d.afterLoad()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, gen := range d.touched {
		if gen <= start {
			delete(d.touched, id) // storage has seen this change by now
			continue
		}
		if c, ok := d.clients[id]; ok {
			next[id] = c
		} else {
			delete(next, id)
		}
	}
	d.clients = next
	return nil
}

// refreshLoop reloads every ClientsRefreshInterval until ctx (the config's) is done.
func (d *clientDirectory) refreshLoop(ctx context.Context) {
	defer func() {
		if v := recover(); v != nil {
			d.h.logger.Error("dcr client refresh panicked", zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
		}
	}()
	t := time.NewTicker(ClientsRefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.reload(ctx); err != nil && ctx.Err() == nil {
				d.h.logger.Warn("reloading dcr clients from storage", zap.String("name", d.h.Name), zap.Error(err))
			}
		}
	}
}

// provisionClients, for a named handler, loads the registrations, publishes them for token
// endpoints (`clients <name>`) and starts the periodic reload, which ends with the config.
func (h *Handler) provisionClients(ctx caddy.Context) error {
	if h.Name == "" {
		return nil
	}
	d := &clientDirectory{h: h, clients: map[string]*grant.Client{}, touched: map[string]uint64{}}
	if err := d.reload(ctx); err != nil {
		return fmt.Errorf("name %q: loading registrations: %w", h.Name, err)
	}
	h.directory = d
	h.releases = append(h.releases, oauthreg.PublishClients(h.Name, d))
	go d.refreshLoop(ctx)
	return nil
}

// published and unpublished tell the directory, when there is one, of a local change.
func (h *Handler) published(rec *clientRecord) {
	if h.directory != nil {
		h.directory.put(rec)
	}
}

func (h *Handler) unpublished(id string) {
	if h.directory != nil {
		h.directory.remove(id)
	}
}

// tokenClient turns a registration into a token-endpoint client, or nil when it is none (an
// authentication method the token endpoint does not offer, or keys that cannot be had):
// token_endpoint_auth_method, the software's keys (private_key_jwt) or the registered subject
// DN (tls_client_auth), scope and grant_types, as registered.
func (h *Handler) tokenClient(rec *clientRecord) *grant.Client {
	md := rec.Metadata
	method, _ := md["token_endpoint_auth_method"].(string)
	spec := grant.ClientSpec{ID: rec.ClientID, Method: method, Scopes: scopesOf(md["scope"])}
	// RFC 7591 §2: without grant_types, the client uses authorization_code only.
	spec.GrantTypes = []string{"authorization_code"}
	if gts, ok := anyStrings(md["grant_types"]); ok {
		spec.GrantTypes = gts
	}
	switch method {
	case grant.MethodTLSClientAuth:
		spec.SubjectDN, _ = md[h.profile.dnClaim()].(string)
	case grant.MethodPrivateKeyJWT:
		src, err := h.registeredKeys(rec)
		if err != nil {
			h.logger.Warn("registration without usable keys for the token endpoint", zap.String("client_id", rec.ClientID), zap.Error(err))
			return nil
		}
		spec.Keys = []keys.Source{src}
	default:
		return nil
	}
	c, err := grant.NewClient(spec, grant.Options{Clock: h.clock})
	if err != nil {
		h.logger.Warn("registration is no client of the token endpoint", zap.String("client_id", rec.ClientID), zap.Error(err))
		return nil
	}
	return c
}

// registeredKeys is the software's key source of a registration: the location its software
// statement names (as at registration: software_jwks_endpoint, jwks_uri or inline jwks), or,
// for a plain RFC 7591 registration, its metadata's jwks_uri or jwks. A URL must pass
// jwks_uri_allow, as in dcr.
func (h *Handler) registeredKeys(rec *clientRecord) (keys.Source, error) {
	loc := rec.Metadata
	if rec.SoftwareStatement != "" {
		ssa, err := verify.UnverifiedClaims([]byte(rec.SoftwareStatement), int(h.MaxBody))
		if err != nil {
			return nil, fmt.Errorf("stored software statement: %w", err)
		}
		loc = ssa
	}
	var rawURL string
	var inline map[string]any
	if rec.SoftwareStatement != "" {
		u, in, _, rej := h.jwksLocation(loc)
		if rej != nil {
			return nil, rej
		}
		rawURL, inline = u, in
	} else if in, ok := loc["jwks"].(map[string]any); ok {
		inline = in
	} else {
		rawURL, _ = loc["jwks_uri"].(string)
	}
	if inline != nil {
		data, _ := json.Marshal(inline)
		usable, _, err := keys.ParseJWKs(data, "registration jwks", keys.JWKOptions{})
		if err != nil || len(usable) == 0 {
			return nil, errors.New("jwks: no usable signature key")
		}
		return keys.NewStatic(usable...), nil
	}
	u, err := url.Parse(rawURL)
	if rawURL == "" || err != nil || u.Host == "" {
		return nil, errors.New("no JWKS location")
	}
	if err := h.allow.check(u); err != nil {
		return nil, fmt.Errorf("jwks_uri_allow: %w", err)
	}
	return &softwareSource{cache: h.software, url: rawURL}, nil
}

// errNotFetched reports software keys not fetched yet.
var errNotFetched = errors.New("not fetched yet")

// softwareSource is a registration's software JWKS as a key source for the token endpoint,
// through the handler's software JWKS cache (fetched on first use and when older than jwksTTL,
// at most once at a time per URL; an unknown kid refetches at most once per jwksMissCooldown).
type softwareSource struct {
	cache *softwareJWKS
	url   string
	set   atomic.Pointer[keys.Set]
}

// Prime makes sure a set is held: in memory when the cache is fresh, else one bounded fetch
// shared with every concurrent caller.
func (s *softwareSource) Prime(ctx context.Context) error {
	set, err := s.cache.Keys(ctx, s.url)
	if err != nil {
		return err
	}
	s.set.Store(set)
	return nil
}

// Keys returns the set Prime or KeysAfterMiss last got; unavailable before the first fetch.
func (s *softwareSource) Keys() (*keys.Set, error) {
	if set := s.set.Load(); set != nil {
		return set, nil
	}
	return nil, &keys.UnavailableError{Origin: s.url, RetryAfter: jwksErrorCooldown, Err: errNotFetched}
}

// KeysAfterMiss refetches when an assertion names a kid the set lacks (a key rotation).
func (s *softwareSource) KeysAfterMiss(ctx context.Context, _ string) (*keys.Set, error) {
	set, err := s.cache.KeysAfterMiss(ctx, s.url)
	if err != nil {
		return nil, err
	}
	s.set.Store(set)
	return set, nil
}

// all loads every usable client record under the store's prefix.
func (s *clientStore) all(ctx context.Context) ([]*clientRecord, error) {
	names, err := s.storage.List(ctx, s.prefix+"/clients", false)
	if err != nil {
		if !s.storage.Exists(ctx, s.prefix+"/clients") {
			return nil, nil // nothing registered yet
		}
		return nil, err
	}
	out := make([]*clientRecord, 0, len(names))
	for _, name := range names {
		id, ok := strings.CutSuffix(path.Base(name), ".json")
		if !ok || !validClientID(id) {
			continue
		}
		rec, err := s.load(ctx, id)
		if errors.Is(err, errNotFound) || errors.Is(err, errUnreadable) {
			continue // deleted meanwhile, or a record no request can use
		}
		if err != nil {
			return nil, err
		}
		if !rec.damaged { // a member that no longer decodes: no client until it is rewritten
			out = append(out, rec)
		}
	}
	return out, nil
}

// scopesOf reads a registration's scope: a space-separated string (RFC 7591 §2), or an array
// of strings (accepted under revolut).
func scopesOf(v any) []string {
	if s, ok := v.(string); ok {
		return strings.Fields(s)
	}
	list, _ := anyStrings(v)
	return list
}

// anyStrings reads a list of strings as stored in memory ([]string) or decoded ([]any).
func anyStrings(v any) ([]string, bool) {
	if l, ok := v.([]string); ok {
		return l, true
	}
	return stringArray(v)
}
