package caddyjwt

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(KeysAPI{})
}

// DefaultMaxKeys is how many keys one counterparty may have registered by default.
const DefaultMaxKeys = 100

// DefaultAPIMaxBody caps the bodies of the jwt_keys and jwt_check APIs (64 KiB).
const DefaultAPIMaxBody = 64 << 10

// KeysAPI is the jwt_keys handler: a small REST API over the runtime key registry. It is an
// operator surface: serve it on a loopback-only site or behind authentication. Paths are relative
// to what the handler sees (use handle_path to mount it under a prefix):
//
//	GET    /                         the counterparties with registered keys
//	POST   /<counterparty>/keys      register a public key (JWK, or PEM with optional ?kid=): 201
//	GET    /<counterparty>/keys      list the counterparty's keys
//	GET    /<counterparty>/keys/<kid>   one key
//	DELETE /<counterparty>/keys/<kid>   remove it: 204
//
// A key without kid gets its RFC 7638 thumbprint as kid. Private keys, symmetric keys, RSA keys
// under 2048 bits and unsupported curves are refused with 400 and a reason; a kid already
// registered for the counterparty is 409 duplicate_kid, one beyond max_keys 409 too_many_keys. Unknown paths are 404, wrong methods 405, bodies over
// max_body 413. It never calls the next handler.
type KeysAPI struct {
	// MaxBody caps request bodies in bytes. Default: 64 KiB.
	MaxBody int64 `json:"max_body,omitempty"`

	// MaxKeys bounds the keys one counterparty may have registered: a registration beyond it is
	// answered 409 too_many_keys (delete a key first). Every key costs work on each reload and
	// each lookup. Default: 100.
	MaxKeys int `json:"max_keys,omitempty"`

	reg    *Registry
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (KeysAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.jwt_keys",
		New: func() caddy.Module { return new(KeysAPI) },
	}
}

// Provision attaches the handler to the config's registry.
func (h *KeysAPI) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.MaxBody == 0 {
		h.MaxBody = DefaultAPIMaxBody
	}
	if h.MaxBody < 0 {
		return errors.New("max_body: must not be negative")
	}
	if h.MaxKeys == 0 {
		h.MaxKeys = DefaultMaxKeys
	}
	if h.MaxKeys < 0 {
		return errors.New("max_keys: must not be negative")
	}
	reg, err := registryFrom(ctx)
	if err != nil {
		return err
	}
	h.reg = reg
	return nil
}

// keyView is how the API shows a registered key.
type keyView struct {
	Counterparty string          `json:"counterparty"`
	KeyID        string          `json:"kid"`
	KeyType      string          `json:"kty"`
	Algorithms   []string        `json:"algorithms"`
	Thumbprint   string          `json:"thumbprint"`
	RegisteredAt time.Time       `json:"registered_at"`
	JWK          json.RawMessage `json:"jwk"`
}

func view(cp string, rk registeredKey) keyView {
	return keyView{cp, rk.key.ID, rk.key.Type(), rk.key.Algorithms, rk.key.Thumbprint, rk.RegisteredAt, rk.JWK}
}

// ServeHTTP routes the API.
func (h *KeysAPI) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	segs, ok := pathSegments(r.URL.EscapedPath())
	switch {
	case !ok:
		apiError(w, http.StatusNotFound, "not_found", "no such resource")
	case len(segs) == 0:
		if allow(w, r, http.MethodGet) {
			h.listCounterparties(w)
		}
	case len(segs) == 2 && segs[1] == "keys" && counterpartyName.MatchString(segs[0]):
		if allow(w, r, http.MethodGet, http.MethodPost) {
			if r.Method == http.MethodPost {
				h.register(w, r, segs[0])
			} else {
				h.list(w, r, segs[0])
			}
		}
	case len(segs) == 3 && segs[1] == "keys" && counterpartyName.MatchString(segs[0]) && segs[2] != "":
		if allow(w, r, http.MethodGet, http.MethodDelete) {
			if r.Method == http.MethodDelete {
				h.remove(w, r, segs[0], segs[2])
			} else {
				h.get(w, r, segs[0], segs[2])
			}
		}
	default:
		apiError(w, http.StatusNotFound, "not_found", "no such resource")
	}
	return nil
}

// pathSegments splits an escaped path into decoded segments, ignoring one trailing slash.
func pathSegments(p string) ([]string, bool) {
	p = strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/")
	if p == "" {
		return nil, true
	}
	parts := strings.Split(p, "/")
	if len(parts) > 3 {
		return nil, false
	}
	for i, s := range parts {
		d, err := url.PathUnescape(s)
		if err != nil {
			return nil, false
		}
		parts[i] = d
	}
	return parts, true
}

// allow answers 405 with an Allow header unless the request's method is one of methods
// (HEAD counts as GET).
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	apiError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed here")
	return false
}

func (h *KeysAPI) listCounterparties(w http.ResponseWriter) {
	names := []string{}
	if m := h.reg.sets.Load(); m != nil {
		for cp := range *m {
			names = append(names, cp)
		}
	}
	slices.Sort(names)
	apiJSON(w, http.StatusOK, map[string]any{"counterparties": names})
}

func (h *KeysAPI) list(w http.ResponseWriter, r *http.Request, cp string) {
	entries, err := h.reg.load(r.Context(), cp)
	if err != nil {
		h.storageError(w, err)
		return
	}
	out := make([]keyView, len(entries))
	for i, e := range entries {
		out[i] = view(cp, e)
	}
	apiJSON(w, http.StatusOK, map[string]any{"counterparty": cp, "keys": out})
}

func (h *KeysAPI) get(w http.ResponseWriter, r *http.Request, cp, kid string) {
	entries, err := h.reg.load(r.Context(), cp)
	if err != nil {
		h.storageError(w, err)
		return
	}
	for _, e := range entries {
		if e.key.ID == kid {
			apiJSON(w, http.StatusOK, view(cp, e))
			return
		}
	}
	apiError(w, http.StatusNotFound, "not_found", "no key with this kid for the counterparty")
}

func (h *KeysAPI) remove(w http.ResponseWriter, r *http.Request, cp, kid string) {
	err := h.reg.update(r.Context(), cp, func(entries []registeredKey) ([]registeredKey, error) {
		for i, e := range entries {
			if e.key.ID == kid {
				return append(entries[:i], entries[i+1:]...), nil
			}
		}
		return nil, errNotFound
	})
	switch {
	case errors.Is(err, errNotFound):
		apiError(w, http.StatusNotFound, "not_found", "no key with this kid for the counterparty")
	case err != nil:
		h.storageError(w, err)
	default:
		h.logger.Info("key removed", zap.String("counterparty", cp), zap.String("kid", kid))
		w.WriteHeader(http.StatusNoContent)
	}
}

var (
	errNotFound  = errors.New("not found")
	errDuplicate = errors.New("duplicate kid")
	// errTooManyKeys is a registration beyond max_keys.
	errTooManyKeys = errors.New("too many keys")
)

func (h *KeysAPI) register(w http.ResponseWriter, r *http.Request, cp string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, h.MaxBody+1))
	if err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request", "the body could not be read")
		return
	}
	if int64(len(body)) > h.MaxBody {
		apiError(w, http.StatusRequestEntityTooLarge, "invalid_request", "the body is too large")
		return
	}
	rk, err := parseRegistration(body, r.URL.Query().Get("kid"), cp)
	if err != nil {
		apiError(w, http.StatusBadRequest, "invalid_key", err.Error())
		return
	}
	err = h.reg.update(r.Context(), cp, func(entries []registeredKey) ([]registeredKey, error) {
		for _, e := range entries {
			if e.key.ID == rk.key.ID {
				return nil, errDuplicate
			}
		}
		if len(entries) >= h.MaxKeys {
			return nil, errTooManyKeys
		}
		return append(entries, rk), nil
	})
	switch {
	case errors.Is(err, errDuplicate):
		apiError(w, http.StatusConflict, "duplicate_kid", "a key with this kid is already registered for the counterparty")
	case errors.Is(err, errTooManyKeys):
		apiError(w, http.StatusConflict, "too_many_keys",
			fmt.Sprintf("the counterparty already has %d keys, the most max_keys allows: delete one first", h.MaxKeys))
	case err != nil:
		h.storageError(w, err)
	default:
		h.logger.Info("key registered", zap.String("counterparty", cp), zap.String("kid", rk.key.ID))
		w.Header().Set("Location", "keys/"+url.PathEscape(rk.key.ID))
		apiJSON(w, http.StatusCreated, view(cp, rk))
	}
}

func (h *KeysAPI) storageError(w http.ResponseWriter, err error) {
	h.logger.Error("key registry storage", zap.Error(err))
	apiError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the key storage is unavailable")
}

// apiJSON writes a JSON answer of the operator APIs (jwt_keys, jwt_check).
func apiJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError writes {"error", "error_description"} with the status.
func apiError(w http.ResponseWriter, status int, code, desc string) {
	apiJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// Interface guards
var (
	_ caddy.Provisioner           = (*KeysAPI)(nil)
	_ caddyhttp.MiddlewareHandler = (*KeysAPI)(nil)
)
