package binding

import (
	"crypto"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
)

// Signing says how a client signs a request under one profile. It is the other side of Config:
// a signature made with the same profile, path form and version is one a Binder accepts, because
// the signed path and query are derived here with the very comparison the Binder applies.
type Signing struct {
	// Profile is the signing convention. Required.
	Profile Profile

	// PathForm is the form in which a tokenio signature names the path and query (the Binder's
	// path_form). Default: PathDecoded.
	PathForm PathForm

	// Algorithm is the JWS alg, such as ES256 or PS256. Required; never "none".
	Algorithm string

	// KeyID is the kid header parameter; empty leaves it out.
	KeyID string

	// Issuer is the signer's issuer: the iss header parameter under tokenio and detached
	// (optional: needed when the verifier has issuer blocks), http://openbanking.org.uk/iss
	// under ob_jws (required).
	Issuer string

	// Expires is tokenio's exp (sent in milliseconds). Required for tokenio.
	Expires time.Time

	// IssuedAt is ob_jws's http://openbanking.org.uk/iat (sent in seconds). Required for ob_jws.
	IssuedAt time.Time

	// OBVersion is the Open Banking API version the ob_jws signature is made for: up to 3.1.3
	// b64=false is set and listed in crit (RFC 7797); "" or later versions leave b64 out.
	OBVersion string

	// TrustAnchor is ob_jws's http://openbanking.org.uk/tan. Default: DefaultTrustAnchor.
	TrustAnchor string

	// MemberID is tokenio's optional mid header parameter.
	MemberID string

	// Detached leaves the payload segment empty (RFC 7515 App. F): header..signature.
	// ob_jws signatures are always detached.
	Detached bool
}

// SignedPath returns the path a tokenio signature names for a request sent with rawPath: rawPath
// itself under PathEscaped, its segments percent-decoded under PathDecoded. It fails when the
// decoded form could not match (an escaped '/' or an invalid escape): such a request can only be
// signed under PathEscaped.
func SignedPath(form PathForm, rawPath string) (string, error) {
	if form == PathEscaped {
		return rawPath, nil
	}
	segs := strings.Split(rawPath, "/")
	for i, s := range segs {
		d, ok := unescape(s, false)
		if !ok {
			return "", errors.New("path: invalid percent-encoding")
		}
		segs[i] = d
	}
	signed := strings.Join(segs, "/")
	if !pathMatches(form, signed, rawPath) {
		return "", errors.New("path: an escaped '/' cannot be named in decoded form; use path_form escaped")
	}
	return signed, nil
}

// SignedQuery returns the query a tokenio signature names for a request sent with rawQuery:
// rawQuery itself under PathEscaped; under PathDecoded each name and value form-decoded ('+' is a
// space), pairs kept in order. It fails when the decoded form could not match (a decoded '&' or
// '=', an invalid escape).
func SignedQuery(form PathForm, rawQuery string) (string, error) {
	if form == PathEscaped || rawQuery == "" {
		return rawQuery, nil
	}
	pairs := strings.Split(rawQuery, "&")
	for i, p := range pairs {
		name, value, hasEq := strings.Cut(p, "=")
		dn, ok1 := unescape(name, true)
		dv, ok2 := unescape(value, true)
		if !ok1 || !ok2 {
			return "", errors.New("query: invalid percent-encoding")
		}
		pairs[i] = dn
		if hasEq {
			pairs[i] += "=" + dv
		}
	}
	signed := strings.Join(pairs, "&")
	if !queryMatches(form, signed, rawQuery) {
		return "", errors.New("query: an escaped '&' or '=' cannot be named in decoded form; use path_form escaped")
	}
	return signed, nil
}

// unescape percent-decodes s (RFC 3986 §2.1); plusSpace also decodes '+' as a space.
func unescape(s string, plusSpace bool) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", false
			}
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		case c == '+' && plusSpace:
			c = ' '
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// Header returns the protected header of the signature s makes for req, without signing.
func (s Signing) Header(req *Request) (map[string]any, error) {
	if s.Algorithm == "" || strings.EqualFold(s.Algorithm, "none") {
		return nil, errors.New("algorithm: required, and never none")
	}
	h := map[string]any{"alg": s.Algorithm}
	if s.KeyID != "" {
		h["kid"] = s.KeyID
	}
	switch s.Profile {
	case ProfileTokenIO:
		return h, s.tokenioHeader(h, req)
	case ProfileOBJWS:
		return h, s.obHeader(h)
	case ProfileDetached:
		if s.Issuer != "" {
			h["iss"] = s.Issuer
		}
		return h, nil
	}
	return nil, errors.New("profile: required (tokenio, ob_jws or detached)")
}

// tokenioHeader adds seed 002's parameters: typ, exp in milliseconds, mid, method, host, path and
// query (only when the request has one).
func (s Signing) tokenioHeader(h map[string]any, req *Request) error {
	if s.Expires.IsZero() {
		return errors.New("exp: required for tokenio")
	}
	if req.Method == "" || req.Host == "" {
		return errors.New("method and host: required for tokenio")
	}
	rawPath := req.RawPath
	if rawPath == "" {
		rawPath = "/"
	}
	path, err := SignedPath(s.PathForm, rawPath)
	if err != nil {
		return err
	}
	query, err := SignedQuery(s.PathForm, req.RawQuery)
	if err != nil {
		return err
	}
	h["typ"] = "jwt"
	h["exp"] = s.Expires.UnixMilli()
	h["method"] = req.Method
	h["host"] = req.Host
	h["path"] = path
	if query != "" {
		h["query"] = query
	}
	if s.MemberID != "" {
		h["mid"] = s.MemberID
	}
	if s.Issuer != "" {
		h["iss"] = s.Issuer
	}
	return nil
}

// obHeader adds the Open Banking message-signing parameters (Open Banking Security Profile,
// "Message Signing", step 2 "Form the JOSE Header"): typ JOSE, cty application/json, the iat, iss
// and tan private parameters, all listed in crit, and up to API 3.1.3 b64=false, also in crit
// (RFC 7797 §6).
func (s Signing) obHeader(h map[string]any) error {
	rule, err := parseOBVersion(s.OBVersion)
	if err != nil {
		return err
	}
	if s.Issuer == "" {
		return errors.New("iss: required for ob_jws (" + obISS + ")")
	}
	if s.IssuedAt.IsZero() {
		return errors.New("iat: required for ob_jws (" + obIAT + ")")
	}
	tan := s.TrustAnchor
	if tan == "" {
		tan = DefaultTrustAnchor
	}
	h["typ"] = "JOSE"
	h["cty"] = "application/json"
	h[obIAT] = s.IssuedAt.Unix()
	h[obISS] = s.Issuer
	h[obTAN] = tan
	crit := []string{obIAT, obISS, obTAN}
	if rule == b64FalseCrit {
		h["b64"] = false
		crit = append([]string{"b64"}, crit...)
	}
	h["crit"] = crit
	return nil
}

// Sign makes the request signature s describes for req with key: a compact JWS whose payload is
// the body (left out when detached), signed with jwx.
func (s Signing) Sign(key crypto.Signer, req *Request) (string, error) {
	h, err := s.Header(req)
	if err != nil {
		return "", err
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("header: %w", err)
	}
	hseg := b64.EncodeToString(hj)
	encoded := h["b64"] != false
	var input string
	if encoded {
		input = hseg + "." + b64.EncodeToString(req.Body)
	} else {
		// RFC 7797 §3: the signing input holds the payload itself.
		input = hseg + "." + string(req.Body)
	}
	sig, err := jwsbb.Sign(key, s.Algorithm, []byte(input), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("signing with %s: %w", s.Algorithm, err)
	}
	sseg := b64.EncodeToString(sig)
	if s.Detached || s.Profile == ProfileOBJWS || !encoded {
		return hseg + ".." + sseg, nil
	}
	return input + "." + sseg, nil
}
