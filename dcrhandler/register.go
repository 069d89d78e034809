package dcrhandler

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/clientcert"
)

// registration is a request that passed every check: what gets stored.
type registration struct {
	metadata          map[string]any
	softwareStatement string // the SSA exactly as sent; "" without one
	softwareID        string
	claimedClientID   any // the client_id the request names (PUT, RFC 7592 §2.2); nil when absent
}

// register handles POST <base>: RFC 7591 §3.
func (h *Handler) register(r *http.Request) (int, map[string]any, error) {
	ctx := r.Context()
	reg, err := h.readRegistration(r)
	if err != nil {
		return 0, nil, err
	}
	clientID, err := newSecret(16)
	if err != nil {
		return 0, nil, internalError(err)
	}
	token, err := newSecret(32) // 256 random bits
	if err != nil {
		return 0, nil, internalError(err)
	}
	secret, secretHash, err := issueSecret(reg.metadata, "")
	if err != nil {
		return 0, nil, internalError(err)
	}
	now := h.clock().Unix()
	rec := &clientRecord{
		ClientID:          clientID,
		IssuedAt:          now,
		TokenSHA256:       tokenHash(token),
		SoftwareID:        reg.softwareID,
		SoftwareStatement: reg.softwareStatement,
		Metadata:          reg.metadata,
		UpdatedAt:         now,

		ClientSecretSHA256: secretHash,
	}
	if err := h.store.create(ctx, rec, h.profile.uniqueSoftware()); err != nil {
		if errors.Is(err, errSoftwareRegistered) {
			return 0, nil, badMetadata("software_id: this software is already registered here; update or delete that registration")
		}
		return 0, nil, internalError(err)
	}
	h.published(rec)
	body := clientResponse(rec, managementURI(r, clientID))
	body["registration_access_token"] = token
	if secret != "" {
		body["client_secret"] = secret // returned this once; only its hash is kept
	}
	return http.StatusCreated, body, nil
}

// issueSecret returns a new client_secret and its stored hash when the metadata's method needs
// one and the client has none yet (storedHash, from an earlier registration, is kept: RFC 7592
// §2.2 lets the server keep the secret on update); "" and "" when the method needs none.
func issueSecret(md map[string]any, storedHash string) (secret, hash string, err error) {
	if !needsSecret(md) {
		return "", "", nil
	}
	if storedHash != "" {
		return "", storedHash, nil
	}
	secret, err = newSecret(32) // 256 random bits
	if err != nil {
		return "", "", err
	}
	return secret, tokenHash(secret), nil
}

// manage handles GET, PUT and DELETE <base>/<client_id>: RFC 7592 §2. Anything that does not
// prove possession of the client's registration access token is 401, including unknown clients.
func (h *Handler) manage(r *http.Request) (int, map[string]any, error) {
	r = h.acceptAccessToken(r)
	ctx := r.Context()
	rec, token, err := h.authenticate(r)
	if err != nil {
		return 0, nil, err
	}
	switch r.Method {
	case http.MethodGet:
		if rec.damaged {
			return 0, nil, damagedRecord()
		}
		return http.StatusOK, withToken(ctx, clientResponse(rec, managementURI(r, "")), token), nil
	case http.MethodDelete:
		err := h.store.withClientLock(ctx, rec.ClientID, func() error {
			current, err := h.reauthenticate(ctx, rec.ClientID, token)
			if err != nil {
				return err
			}
			return h.store.remove(ctx, current, h.profile.uniqueSoftware())
		})
		if err != nil {
			return 0, nil, asRejection(err)
		}
		h.unpublished(rec.ClientID)
		return http.StatusNoContent, nil, nil
	}
	// PUT: RFC 7592 §2.2, the same validation as a registration.
	reg, err := h.readRegistration(r)
	if err != nil {
		return 0, nil, err
	}
	if reg.claimedClientID != nil && reg.claimedClientID != rec.ClientID {
		return 0, nil, badMetadata("client_id: differs from the client being updated")
	}
	if rec.SoftwareID != "" && reg.softwareID != rec.SoftwareID {
		return 0, nil, badMetadata("software_id: differs from the registered software's")
	}
	var (
		updated *clientRecord
		secret  string
	)
	err = h.store.withClientLock(ctx, rec.ClientID, func() error {
		current, err := h.reauthenticate(ctx, rec.ClientID, token)
		if err != nil {
			return err
		}
		next := *current // the token is kept, not rotated
		next.Metadata = reg.metadata
		next.SoftwareStatement = reg.softwareStatement
		next.UpdatedAt = h.clock().Unix()
		next.damaged = false // every member is written anew
		if secret, next.ClientSecretSHA256, err = issueSecret(reg.metadata, current.ClientSecretSHA256); err != nil {
			return err
		}
		if err := h.store.save(ctx, &next); err != nil {
			return err
		}
		updated = &next
		h.published(updated)
		return nil
	})
	if err != nil {
		return 0, nil, asRejection(err)
	}
	body := withToken(ctx, clientResponse(updated, managementURI(r, "")), token)
	if secret != "" {
		body["client_secret"] = secret // the method changed to one that needs a secret
	}
	return http.StatusOK, body, nil
}

// withToken adds the registration access token that RFC 7592 §3 requires in the client
// information response. The token is not rotated and only its hash is stored, so it is the one
// the client has just presented (and proved) on this request; a request that authenticated with
// an access token (token_endpoint) gets none, since that token is no registration access token.
func withToken(ctx context.Context, body map[string]any, token string) map[string]any {
	if id, _ := body["client_id"].(string); accessTokenFor(ctx, id, token) {
		return body
	}
	body["registration_access_token"] = token
	return body
}

// dummyHash keeps the work for an unknown client close to that for a known one.
var dummyHash = tokenHash("obgate-dcr-no-such-client")

// authenticate finds the client named by the last path segment and checks the registration
// access token (RFC 6750 §2.1 Bearer) against its stored hash in constant time.
func (h *Handler) authenticate(r *http.Request) (*clientRecord, string, error) {
	token, ok := bearerToken(r)
	if !ok {
		return nil, "", unauthorized(codeInvalidRequest, "Authorization: a registration access token is required")
	}
	rec, err := h.reauthenticate(r.Context(), path.Base(r.URL.Path), token)
	return rec, token, err
}

// reauthenticate loads the client and checks the token again (under the client lock).
func (h *Handler) reauthenticate(ctx context.Context, clientID, token string) (*clientRecord, error) {
	bad := unauthorized(codeInvalidToken, "the registration access token is not valid for this client")
	if !validClientID(clientID) {
		tokenMatches(token, dummyHash)
		return nil, bad
	}
	rec, err := h.store.load(ctx, clientID)
	if errors.Is(err, errNotFound) {
		tokenMatches(token, dummyHash)
		return nil, bad
	}
	if err != nil {
		return nil, internalError(err)
	}
	if !tokenMatches(token, rec.TokenSHA256) && !accessTokenFor(ctx, clientID, token) {
		return nil, bad
	}
	return rec, nil
}

// bearerToken reads "Authorization: Bearer <token>" (scheme case-insensitive, RFC 6750 §2.1).
func bearerToken(r *http.Request) (string, bool) {
	v := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// readRegistration reads and checks a registration or update request: content type, size, then
// the verification order of the issue (request parsed untrusted, SSA verified, software keys from
// the verified SSA, request verified with them, metadata validated for the profile).
func (h *Handler) readRegistration(r *http.Request) (*registration, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isJWT := mt == "application/jwt" || mt == "application/jose"
	if !isJWT && !(mt == "application/json" && h.acceptsJSON()) {
		want := "application/jwt"
		switch {
		case h.acceptsJSON():
			want += " or application/json"
		case h.profile == profileGeneric:
			// issue: a software statement is not secret (every registration response echoes
			// it), so with a trusted directory only a request JWT signed by the software's key
			// proves the request comes from the software.
			want += " (a request JWT signed by the software's key: a directory is trusted here)"
		}
		return nil, plain(http.StatusUnsupportedMediaType, "Content-Type: must be "+want)
	}
	if r.ContentLength > h.MaxBody {
		return nil, plain(http.StatusRequestEntityTooLarge, "the request body is too large")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.MaxBody+1))
	if err != nil {
		return nil, badMetadata("request: the body could not be read")
	}
	if int64(len(body)) > h.MaxBody {
		return nil, plain(http.StatusRequestEntityTooLarge, "the request body is too large")
	}
	var reg *registration
	if isJWT {
		reg, err = h.readJWTRequest(r.Context(), bytes.TrimSpace(body))
	} else {
		reg, err = h.readJSONRequest(r.Context(), body)
	}
	if err != nil {
		return nil, err
	}
	if rej := h.checkClientCertificate(r, reg.metadata); rej != nil {
		return nil, rej
	}
	return reg, nil
}

// acceptsJSON reports whether plain RFC 7591 §3.1 JSON registrations are taken: under generic,
// without a trusted directory, or with one when the operator opted in (allow_unsigned_request).
func (h *Handler) acceptsJSON() bool {
	return h.profile == profileGeneric && (len(h.Directories) == 0 || h.AllowUnsignedRequest)
}

// readJWTRequest runs the verification order on a request JWT.
func (h *Handler) readJWTRequest(ctx context.Context, token []byte) (*registration, error) {
	// 1. Parse without trusting anything.
	if len(token) == 0 {
		return nil, badMetadata("request: the body must be a signed request JWT")
	}
	unverified, err := verify.UnverifiedClaims(token, int(h.MaxBody))
	if err != nil {
		return nil, badMetadata("request: the body is not a well-formed compact JWS JWT")
	}
	unverifiedKID, ok := headerKID(token)
	if !ok {
		return nil, badMetadata("kid: the request JWT's header must name its signing key")
	}
	ssaRaw, ok := unverified["software_statement"].(string)
	if !ok || ssaRaw == "" {
		return nil, badSSA("software_statement: required in the request JWT")
	}
	// 2. The software statement, with the directories' keys.
	ssa, err := h.verifySSA(ctx, ssaRaw)
	if err != nil {
		return nil, err
	}
	// 3. The software's keys, from the verified statement only.
	set, err := h.softwareKeys(ctx, ssa, unverifiedKID)
	if err != nil {
		return nil, err
	}
	// 4. The request JWT, with those keys.
	claims, err := h.verifyRequest(ctx, token, set, ssa, unverified)
	if err != nil {
		return nil, err
	}
	// 5. The metadata.
	md, rej := h.buildMetadata(claims, ssa)
	if rej != nil {
		return nil, rej
	}
	return &registration{
		metadata:          md,
		softwareStatement: ssaRaw,
		softwareID:        softwareIDOf(ssa, md),
		claimedClientID:   claims["client_id"],
	}, nil
}

// readJSONRequest reads a plain RFC 7591 §3.1 JSON registration (generic profile only). A
// software_statement is required when directories are configured, and verified when present.
func (h *Handler) readJSONRequest(ctx context.Context, body []byte) (*registration, error) {
	obj, rej := decodeJSONMetadata(body)
	if rej != nil {
		return nil, rej
	}
	var ssa map[string]any
	ssaRaw, present := obj["software_statement"]
	switch {
	case present:
		s, ok := ssaRaw.(string)
		if !ok || s == "" {
			return nil, badSSA("software_statement: must be a JWT string")
		}
		var err error
		if ssa, err = h.verifySSA(ctx, s); err != nil {
			return nil, err
		}
	case len(h.Directories) > 0:
		return nil, badSSA("software_statement: required")
	}
	md, rej := h.buildMetadata(obj, ssa)
	if rej != nil {
		return nil, rej
	}
	s, _ := ssaRaw.(string)
	return &registration{metadata: md, softwareStatement: s, softwareID: softwareIDOf(ssa, md), claimedClientID: obj["client_id"]}, nil
}

// decodeJSONMetadata reads an RFC 7591 §3.1 JSON body: exactly one JSON object, numbers kept as
// written (json.Number), nothing after it.
func decodeJSONMetadata(body []byte) (map[string]any, *rejection) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, badMetadata("request: the body must be a JSON object of client metadata")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badMetadata("request: the body must be a JSON object of client metadata")
	}
	return obj, nil
}

// verifySSA verifies a software statement with the directories' keys and applies the profile's
// statement rules. A directory's jwks_url keys come from the shared JWKS cache without I/O; until
// they have been fetched, the engine reports them unavailable (503 with Retry-After).
func (h *Handler) verifySSA(ctx context.Context, raw string) (map[string]any, error) {
	if h.ssaVerifier == nil {
		return nil, badSSA("software_statement: no directory is trusted here")
	}
	res, err := h.ssaVerifier.Verify(ctx, []byte(raw))
	if err != nil {
		return nil, jwtRejection(err, codeInvalidSSA, "the software statement")
	}
	if rej := h.checkSSA(res.Claims, h.clock()); rej != nil {
		return nil, rej
	}
	return res.Claims, nil
}

// softwareKeys returns the software's key set from the location the verified statement names.
// The URL is checked against jwks_uri_allow before any connection.
func (h *Handler) softwareKeys(ctx context.Context, ssa map[string]any, unverifiedKID string) (*keys.Set, error) {
	rawURL, inline, field, rej := h.jwksLocation(ssa)
	if rej != nil {
		return nil, rej
	}
	if inline != nil {
		data, _ := json.Marshal(inline)
		usable, _, err := keys.ParseJWKs(data, "software statement jwks", keys.JWKOptions{})
		if err != nil || len(usable) == 0 {
			return nil, badSSA("jwks: the software statement's jwks holds no usable signature key")
		}
		return keys.NewSet(usable...), nil
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, badSSA(field + ": not an absolute URL")
	}
	if err := h.allow.check(u); err != nil {
		rej := badSSA(field + ": the software's JWKS host is not allowed here (jwks_uri_allow)")
		rej.err = err
		return nil, rej
	}
	set, err := h.software.Keys(ctx, rawURL)
	if err == nil {
		if _, ok := set.Lookup(unverifiedKID); !ok {
			if again, err2 := h.software.KeysAfterMiss(ctx, rawURL); err2 == nil {
				set = again
			}
		}
		return set, nil
	}
	if !unreachable(err) {
		rej := badSSA(field + ": the software's JWKS is not a usable JWK Set")
		rej.err = err
		return nil, rej
	}
	return nil, unavailable("the software's JWKS is unreachable", defaultRetryAfter, err)
}

// verifyRequest verifies the request JWT with the software's keys: kid-selected key, algorithm
// from the allowlist, aud in audience, exp and iat required, jti required by the profiles and never
// replayed within the request's lifetime.
func (h *Handler) verifyRequest(ctx context.Context, token []byte, set *keys.Set, ssa, unverified map[string]any) (map[string]any, error) {
	issuer, _ := unverified["iss"].(string)
	if h.profile.issIsSoftwareID() {
		issuer, _ = ssa["software_id"].(string)
	}
	if issuer == "" {
		return nil, badMetadata("iss: the request JWT must name its issuer")
	}
	usable := make([]keys.Key, 0, set.Len())
	for _, k := range set.Keys() {
		if slices.ContainsFunc(h.algorithms, k.Allows) && !k.Symmetric() {
			usable = append(usable, k)
		}
	}
	require := []string{"iat"}
	if h.profile.requiresJTI() {
		require = append(require, "jti")
	}
	v, err := verify.New(verify.Policy{
		Issuers: []verify.Issuer{{
			Name:       issuer,
			Sources:    []keys.Source{keys.NewStatic(usable...)},
			Algorithms: h.algorithms,
		}},
		Audience:     h.Audience,
		Require:      require,
		MaxTokenSize: int(h.MaxBody),
		Clock:        h.clock,
	})
	if err != nil {
		return nil, internalError(err)
	}
	res, err := v.Verify(ctx, token)
	if err != nil {
		if h.profile.issIsSoftwareID() && verify.ReasonOf(err) == verify.ReasonUnknownIssuer {
			return nil, badMetadata("iss: the request JWT's iss must equal the software statement's software_id")
		}
		return nil, jwtRejection(err, codeInvalidMetadata, "the request JWT")
	}
	if jti, present := res.Claims["jti"]; present {
		s, ok := jti.(string)
		if !ok || s == "" {
			return nil, badMetadata("jti: must be a non-empty string")
		}
		if err := h.claimJTI(ctx, issuer, s, res.Claims["exp"]); err != nil {
			return nil, err
		}
	}
	return res.Claims, nil
}

// checkClientCertificate: where the request carries a client certificate (the connection's
// verified one, or, with client_cert_header, the RFC 9440 header of a trusted proxy), the
// registered subject DN must name it (RFC 8705 §2.1.2).
func (h *Handler) checkClientCertificate(r *http.Request, md map[string]any) *rejection {
	field := h.profile.dnClaim()
	dn, _ := md[field].(string)
	if dn == "" {
		return nil
	}
	cert, err := clientcert.FromRequest(r, h.ClientCertHeader)
	if err != nil {
		rej := plain(http.StatusBadRequest, h.ClientCertHeader+": not one RFC 9440 client certificate")
		rej.err = err
		return rej
	}
	if cert != nil && !clientcert.DNMatches(cert, dn) {
		return badMetadata(field + ": does not match the subject of the connection's client certificate")
	}
	return nil
}

// headerKID returns the request JWT's kid header parameter. The token has already passed the
// engine's strict parse (verify.UnverifiedClaims), so only the member is read here.
func headerKID(token []byte) (string, bool) {
	seg, _, _ := bytes.Cut(token, []byte("."))
	raw, err := base64.RawURLEncoding.DecodeString(string(seg))
	if err != nil {
		return "", false
	}
	var h struct {
		KID any `json:"kid"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return "", false
	}
	kid, ok := h.KID.(string)
	return kid, ok && kid != ""
}

func softwareIDOf(ssa, md map[string]any) string {
	if id, ok := ssa["software_id"].(string); ok {
		return id
	}
	id, _ := md["software_id"].(string)
	return id
}

// clientResponse is the RFC 7591 §3.2.1 client information response for a stored client.
func clientResponse(rec *clientRecord, uri string) map[string]any {
	body := maps.Clone(rec.Metadata)
	if body == nil {
		body = make(map[string]any)
	}
	body["client_id"] = rec.ClientID
	body["client_id_issued_at"] = rec.IssuedAt
	body["registration_client_uri"] = uri
	if rec.SoftwareStatement != "" {
		body["software_statement"] = rec.SoftwareStatement
	}
	if rec.ClientSecretSHA256 != "" {
		body["client_secret_expires_at"] = 0 // RFC 7591 §3.2.1: required with a secret; 0 = never
	}
	return body
}

// managementURI is the absolute URI of a client's registration (RFC 7592 §3), from the request's
// scheme, host and original path (before any handle_path stripping). With a clientID, the path is
// the registration endpoint and the ID is appended; without, the path is already the client's.
func managementURI(r *http.Request, clientID string) string {
	p := r.URL.Path
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.URL != nil {
		p = orig.URL.Path
	}
	if clientID != "" {
		p = strings.TrimSuffix(p, "/") + "/" + clientID
	}
	return (&url.URL{Scheme: requestScheme(r), Host: r.Host, Path: p}).String()
}

// writeJSON sends a successful answer with no-store caching (RFC 7591 §3.2.1).
func writeJSON(w http.ResponseWriter, status int, body map[string]any) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if body == nil {
		w.WriteHeader(status)
		return
	}
	data, err := json.Marshal(body)
	if err != nil {
		internalError(err).write(w)
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// asRejection keeps rejections and turns anything else (storage failures) into a 500.
func asRejection(err error) error {
	if _, ok := errors.AsType[*rejection](err); ok {
		return err
	}
	return internalError(err)
}
