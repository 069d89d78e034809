// Package binding proves that a JWS was made for one HTTP request: its signature is checked by the
// verify engine (one verifier, no second JOSE code path), then the request facts the signature
// covers (method, host, path, query, body) are compared with the request as the client sent it.
//
// Three profiles are supported:
//
//   - tokenio: the JOSE header carries method, host, path, query and exp (milliseconds); the
//     payload is the request body byte for byte. Compact and detached (RFC 7515 Appendix F)
//     serializations are accepted.
//   - ob_jws: the Open Banking x-jws-signature: detached only, RFC 7797 b64=false listed in crit
//     (API versions up to 3.1.3) or b64 absent (3.1.4 on), with the header parameters
//     http://openbanking.org.uk/iat, /iss and /tan checked.
//   - detached: plain RFC 7515 Appendix F with the body as payload; RFC 7797 b64=false only when
//     protected and listed in crit.
//
// The package does no network or disk I/O and never imports Caddy.
package binding

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/obgate/obgate/caddyjwt/internal/strictjson"
	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/replay/backend"
)

// Profile is a request-signing convention.
type Profile int

// The profiles.
const (
	// ProfileTokenIO is Token.io's convention (configuration name tokenio): the protected header
	// carries method, host, path, query and exp (milliseconds); the payload is the body.
	ProfileTokenIO Profile = iota + 1

	// ProfileOBJWS is the Open Banking x-jws-signature (configuration name ob_jws): a detached
	// JWS over the body, with the http://openbanking.org.uk/ header claims.
	ProfileOBJWS

	// ProfileDetached is plain RFC 7515 App. F (configuration name detached): a JWS whose
	// payload is the body.
	ProfileDetached
)

// ParseProfile maps a configuration name (tokenio, ob_jws, detached) to its Profile.
func ParseProfile(name string) (Profile, error) {
	switch name {
	case "tokenio":
		return ProfileTokenIO, nil
	case "ob_jws":
		return ProfileOBJWS, nil
	case "detached":
		return ProfileDetached, nil
	}
	return 0, fmt.Errorf("unknown profile %q (want tokenio, ob_jws or detached)", name)
}

// String is the profile's configuration name.
func (p Profile) String() string {
	switch p {
	case ProfileTokenIO:
		return "tokenio"
	case ProfileOBJWS:
		return "ob_jws"
	case ProfileDetached:
		return "detached"
	}
	return "unknown"
}

// PathForm says in which form a tokenio JWS names the request path.
type PathForm int

// The path forms.
const (
	// PathDecoded (the default): the JWS path is the decoded path. The request's raw path is
	// decoded segment by segment (RFC 3986 §2.1) and compared segment by segment, so an escaped
	// "/" (%2F) inside a segment never matches a real path separator.
	PathDecoded PathForm = iota
	// PathEscaped: the JWS path is the path exactly as sent on the wire, percent-encoding included.
	PathEscaped
)

// Request holds the facts of a request that a signature may bind, as the client sent them,
// before any rewrite. The adapter fills it once per request.
type Request struct {
	// Method is the request method, such as "POST".
	Method string

	// Scheme is "https" or "http": which default port an omitted port means in the host
	// comparison.
	Scheme string

	// Host is the Host header as sent, with or without port.
	Host string

	// RawPath is the path as sent, percent-encoding included, without the query.
	RawPath string

	// RawQuery is the query as sent, without '?'; "" when the request has none.
	RawQuery string

	// Body is the whole body; nil or empty when there is none.
	Body []byte
}

// Config is how a Binder checks request signatures.
type Config struct {
	// Profile is the signing convention. Required.
	Profile Profile

	// PathForm is the form of the path in a tokenio JWS. Default: PathDecoded.
	PathForm PathForm

	// OBVersion selects the ob_jws b64 rule: "" accepts both forms; a version up to 3.1.3
	// requires b64=false listed in crit; 3.1.4 and later require b64 to be absent.
	OBVersion string

	// TrustAnchors are the accepted http://openbanking.org.uk/tan values (ob_jws).
	// Default: openbanking.org.uk.
	TrustAnchors []string

	// IssuerParam makes the protected header name the issuer whose keys verify the JWS:
	// "iss" (tokenio, detached) or http://openbanking.org.uk/iss (ob_jws). It is set when the
	// verifier has issuer blocks; otherwise the verifier's only issuer is used.
	IssuerParam bool

	// Leeway is the clock skew allowed for tokenio's exp and ob_jws's iat. Zero means
	// verify.DefaultLeeway; negative means none.
	Leeway time.Duration

	// Replay, when set, refuses a signed request seen before within its lifetime, and one that
	// stays valid for longer than backend.MaxLifetime.
	Replay ReplayStore

	// ReplayWindow is how long a signature without a lifetime of its own (detached profile) is
	// remembered. Zero means DefaultReplayWindow.
	ReplayWindow time.Duration

	// Clock returns the current time. Nil means time.Now.
	Clock func() time.Time
}

// DefaultTrustAnchor is the Open Banking directory's trust anchor.
const DefaultTrustAnchor = "openbanking.org.uk"

// DefaultReplayWindow is how long a signed request without a lifetime is remembered.
const DefaultReplayWindow = 5 * time.Minute

// Header parameter names of the Open Banking JWS (Open Banking Security Profile, "Message Signing").
const (
	obIAT = "http://openbanking.org.uk/iat"
	obISS = "http://openbanking.org.uk/iss"
	obTAN = "http://openbanking.org.uk/tan"
)

// b64Rule is what ob_jws requires of the RFC 7797 b64 parameter.
type b64Rule int

const (
	b64Either     b64Rule = iota // b64 absent, or false and listed in crit
	b64FalseCrit                 // <= 3.1.3: b64=false listed in crit
	b64MustAbsent                // >= 3.1.4: no b64
)

// Binder checks request signatures. It is safe for concurrent use.
type Binder struct {
	v          *verify.Verifier
	profile    Profile
	pathForm   PathForm
	b64        b64Rule
	anchors    []string
	issuerHdr  string
	understood []string
	leeway     time.Duration
	replay     ReplayStore
	window     time.Duration
	clock      func() time.Time
}

// Result is a verified and bound request signature.
type Result struct {
	*verify.JWS

	// Expires is when the signature stops being acceptable (exp or iat plus leeway), or the zero
	// time when the profile gives it no lifetime.
	Expires time.Time
}

// New builds a Binder on a verifier, or reports the first configuration mistake.
func New(v *verify.Verifier, c Config) (*Binder, error) {
	if v == nil {
		return nil, errors.New("no verifier")
	}
	b := &Binder{
		v:        v,
		profile:  c.Profile,
		pathForm: c.PathForm,
		anchors:  c.TrustAnchors,
		leeway:   c.Leeway,
		replay:   c.Replay,
		window:   c.ReplayWindow,
		clock:    c.Clock,
	}
	switch c.Profile {
	case ProfileTokenIO:
		b.understood = []string{"method", "host", "path", "query", "exp", "mid"}
		b.issuerHdr = "iss"
	case ProfileOBJWS:
		b.understood = []string{"b64", obIAT, obISS, obTAN}
		b.issuerHdr = obISS
		rule, err := parseOBVersion(c.OBVersion)
		if err != nil {
			return nil, err
		}
		b.b64 = rule
	case ProfileDetached:
		b.understood = []string{"b64"}
		b.issuerHdr = "iss"
	default:
		return nil, errors.New("profile: required (tokenio, ob_jws or detached)")
	}
	if c.OBVersion != "" && c.Profile != ProfileOBJWS {
		return nil, errors.New("version: only for profile ob_jws")
	}
	if len(c.TrustAnchors) > 0 && c.Profile != ProfileOBJWS {
		return nil, errors.New("trust_anchor: only for profile ob_jws")
	}
	if c.PathForm != PathDecoded && c.Profile != ProfileTokenIO {
		return nil, errors.New("path_form: only for profile tokenio")
	}
	if !c.IssuerParam {
		b.issuerHdr = ""
	}
	if len(b.anchors) == 0 {
		b.anchors = []string{DefaultTrustAnchor}
	}
	if b.leeway == 0 {
		b.leeway = verify.DefaultLeeway
	} else if b.leeway < 0 {
		b.leeway = 0
	}
	if b.window <= 0 {
		b.window = DefaultReplayWindow
	}
	if b.window > backend.MaxLifetime {
		return nil, fmt.Errorf("replay window: at most %v", backend.MaxLifetime)
	}
	if b.clock == nil {
		b.clock = time.Now
	}
	return b, nil
}

// parseOBVersion maps an Open Banking API version such as "3.1.3" or "v3.1.10" to its b64 rule.
func parseOBVersion(s string) (b64Rule, error) {
	if s == "" {
		return b64Either, nil
	}
	parts := strings.Split(strings.TrimPrefix(s, "v"), ".")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("version: %q is not an Open Banking API version such as 3.1.3", s)
	}
	v := make([]int, 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("version: %q is not an Open Banking API version such as 3.1.3", s)
		}
		v[i] = n
	}
	if slices.Compare(v, []int{3, 1, 3}) <= 0 {
		return b64FalseCrit, nil
	}
	return b64MustAbsent, nil
}

// Verify checks the request signature token against the request and returns what it says. It
// changes nothing: no replay entry is made, so it serves "check this signature" requests.
// Every failure is a *verify.Error.
func (b *Binder) Verify(ctx context.Context, token []byte, req *Request) (*Result, error) {
	opts, err := b.options(token, req)
	if err != nil {
		return nil, err
	}
	jws, err := b.v.VerifyJWS(ctx, token, opts)
	if err != nil {
		return nil, err
	}
	// From here the header is covered by a valid signature.
	res := &Result{JWS: jws}
	if res.Expires, err = b.checkProfile(jws.Header, req, b.clock()); err != nil {
		return nil, err
	}
	return res, nil
}

// Precheck refuses a request signature on what its protected header says, before the body is
// read: the form, the algorithm allowlist, the issuer and key selection, and the profile's header
// parameters (tokenio: exp, method, host, path, query; ob_jws: b64, iat, iss, tan, crit, typ,
// cty). req.Body is not looked at. The header is not verified yet, so a nil error accepts
// nothing: Verify (or Accept) must still run, with the body. It changes nothing. Every failure is
// a *verify.Error.
func (b *Binder) Precheck(ctx context.Context, token []byte, req *Request) error {
	opts, err := b.options(token, req)
	if err != nil {
		return err
	}
	opts.Body = nil
	claimedHeader, err := b.v.CheckJWSHeader(ctx, token, opts)
	if err != nil {
		return err
	}
	_, err = b.checkProfile(claimedHeader, req, b.clock())
	return err
}

// options are the verifier's options for a request signature under the profile.
func (b *Binder) options(token []byte, req *Request) (verify.JWSOptions, error) {
	// INTERFACE.md: a JWS without kid is accepted only when exactly one configured key fits it.
	opts := verify.JWSOptions{Body: req.Body, Detached: true, Understood: b.understood, OneKeyWithoutKID: true}
	if b.profile == ProfileOBJWS && !isDetached(token) {
		// The Open Banking signature is detached only (x-jws-signature).
		return opts, verify.Reject(verify.ReasonMalformed, errors.New("ob_jws signature is not detached"))
	}
	if b.issuerHdr != "" {
		claimedIss, err := unverifiedIssuer(token, b.issuerHdr)
		if err != nil {
			return opts, err
		}
		opts.Issuer = claimedIss
	}
	return opts, nil
}

// checkProfile checks the profile's header parameters against the request and returns when the
// signature stops being acceptable (the zero time when the profile gives it no lifetime).
func (b *Binder) checkProfile(h map[string]any, req *Request, now time.Time) (time.Time, error) {
	switch b.profile {
	case ProfileTokenIO:
		return b.checkTokenIO(h, req, now)
	case ProfileOBJWS:
		return b.checkOBJWS(h, now)
	}
	return time.Time{}, nil
}

// Accept is Verify followed, when replay protection is on, by recording the signed request: one
// seen before within its lifetime is refused with verify.ReasonReplayed.
func (b *Binder) Accept(ctx context.Context, token []byte, req *Request) (*Result, error) {
	res, err := b.Verify(ctx, token, req)
	if err != nil || b.replay == nil {
		return res, err
	}
	if err := b.claim(ctx, replayID(token, req.Body), res.Expires); err != nil {
		return nil, err
	}
	return res, nil
}

// replayID identifies a signed request by what its signature covers (the protected header and
// the body), not by the signature bytes: ECDSA signatures are malleable ((r, s) and (r, n-s) both
// verify), so keying on them would let a replay through with a rewritten signature.
func replayID(token, body []byte) [sha256.Size]byte {
	h := sha256.New()
	header, _, _ := bytes.Cut(token, []byte{'.'})
	h.Write(header)
	h.Write([]byte{'.'})
	h.Write(body)
	var id [sha256.Size]byte
	h.Sum(id[:0])
	return id
}

// isDetached reports whether a compact JWS has an empty payload segment (RFC 7515 App. F).
func isDetached(token []byte) bool {
	mid, ok := middleSegment(token)
	return ok && len(mid) == 0
}

// middleSegment returns the payload segment of a three-segment compact JWS.
func middleSegment(token []byte) ([]byte, bool) {
	first := bytes.IndexByte(token, '.')
	last := bytes.LastIndexByte(token, '.')
	if first < 0 || first == last {
		return nil, false
	}
	return token[first+1 : last], true
}

// unverifiedIssuer reads the issuer parameter from the JOSE header before verification, to pick
// the issuer whose keys are tried. Nothing is trusted yet: the verifier checks the same header.
func unverifiedIssuer(token []byte, param string) (string, error) {
	seg, _, ok := bytes.Cut(token, []byte{'.'})
	if !ok || len(seg) > verify.DefaultMaxTokenSize {
		return "", verify.Reject(verify.ReasonMalformed, errors.New("not a compact JWS"))
	}
	raw := make([]byte, b64.DecodedLen(len(seg)))
	n, err := b64.Decode(raw, seg)
	if err != nil {
		return "", verify.Reject(verify.ReasonMalformed, errors.New("header is not base64url"))
	}
	h, err := strictjson.Parse(raw[:n], strictjson.Limits{MaxDepth: 8, MaxMembers: 64})
	if err != nil {
		return "", verify.Reject(verify.ReasonMalformed, err)
	}
	claimedIss, ok := h[param].(string)
	if !ok || claimedIss == "" {
		return "", verify.Reject(verify.ReasonUnknownIssuer, errors.New("no issuer in the protected header"))
	}
	return claimedIss, nil
}
