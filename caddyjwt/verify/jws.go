package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
)

// JWSOptions says how VerifyJWS treats a JWS whose payload is not a claim set, such as a
// request signature whose payload is the request body.
type JWSOptions struct {
	// Issuer names the configured issuer whose keys verify the JWS. Empty selects the only
	// configured issuer, and is an error when there are several.
	Issuer string

	// Body, when Detached is set, is the payload: the JWS must be detached (RFC 7515 Appendix F,
	// an empty payload segment) or carry a payload segment that decodes to exactly these bytes.
	Body []byte

	// Detached says that Body is the payload: the JWS may leave its payload segment empty or
	// must carry exactly Body. Default false: an empty payload segment is malformed, and the
	// JWS's own payload is verified and returned.
	Detached bool

	// Understood lists the header parameters the caller processes itself and so may appear in
	// crit (RFC 7515 §4.1.11), for example "b64" (RFC 7797) or "http://openbanking.org.uk/iat".
	// "b64" must be listed for an unencoded payload to be accepted at all.
	Understood []string

	// OneKeyWithoutKID accepts a JWS without kid only when exactly one of the issuer's keys fits
	// its algorithm; otherwise such a JWS is ReasonNoMatchingKey. Without it, a JWS without kid
	// is tried against the keys that fit (at most four), as bearer tokens are.
	OneKeyWithoutKID bool
}

// JWS is a verified JWS: its protected header, its payload and the key that verified it.
type JWS struct {
	// Header is the protected header; numbers are json.Number.
	Header map[string]any

	// Payload is the verified payload (the body for a detached JWS).
	Payload []byte

	// Issuer is the configured issuer whose key verified the JWS.
	Issuer string

	// KeyID is the ID of the key that verified the signature.
	KeyID string

	// Algorithm is the JWS algorithm the signature was verified with.
	Algorithm string
}

// VerifyJWS checks a compact JWS with the keys of one issuer, under the same header, algorithm
// and key rules as Verify, but without reading the payload as claims: binding its header and
// payload to a request is the caller's job. Every failure is an *Error.
func (v *Verifier) VerifyJWS(ctx context.Context, token []byte, o JWSOptions) (*JWS, error) {
	p, err := v.parseJWS(token, o)
	if err != nil {
		return nil, err
	}
	payload, input, err := p.c.payload(o, p.encoded)
	if err != nil {
		return nil, err
	}
	key, err := checkSignature(ctx, p.is, p.jh, input, p.c.signature)
	if err != nil {
		return nil, err
	}
	return &JWS{Header: p.c.header, Payload: payload, Issuer: p.is.name, KeyID: key.ID, Algorithm: p.jh.alg}, nil
}

// CheckJWSHeader runs every check of VerifyJWS that needs neither the payload nor the signature
// computation: the size cap, the compact form, the header (alg, kid, crit, b64), the issuer, the
// algorithm allowlist and the choice of a key. It returns the protected header, NOT verified:
// a caller uses it to refuse a request early (before reading a body it would otherwise have to
// buffer), never to accept one. o.Body is not looked at. Every failure is an *Error.
func (v *Verifier) CheckJWSHeader(ctx context.Context, token []byte, o JWSOptions) (unverifiedHeader map[string]any, err error) {
	p, err := v.parseJWS(token, o)
	if err != nil {
		return nil, err
	}
	if err := p.c.payloadShape(o, p.encoded); err != nil {
		return nil, err
	}
	if err := anyKeyFits(ctx, p.is, p.jh); err != nil {
		return nil, err
	}
	return p.c.header, nil
}

// parsedJWS is a compact JWS whose header passed the checks that need no key material: what
// VerifyJWS and CheckJWSHeader share.
type parsedJWS struct {
	c       *compact
	jh      joseHeader
	encoded bool
	is      *issuer
}

// parseJWS splits the token and checks its header, issuer and algorithm.
func (v *Verifier) parseJWS(token []byte, o JWSOptions) (*parsedJWS, error) {
	if len(token) > v.maxTokenSize {
		return nil, Reject(ReasonTooLarge, fmt.Errorf("%d bytes", len(token)))
	}
	c, err := splitCompact(token)
	if err != nil {
		return nil, err
	}
	jh, err := readHeader(c.header, o.Understood)
	if err != nil {
		return nil, err
	}
	encoded, err := payloadEncoded(c.header)
	if err != nil {
		return nil, err
	}
	is, err := v.issuerFor(o.Issuer)
	if err != nil {
		return nil, err
	}
	if !is.allowedAlgorithm(jh.alg) {
		return nil, Reject(ReasonAlgNotAllowed, nil)
	}
	if o.OneKeyWithoutKID && !jh.hasKID {
		if err := is.exactlyOneKeyFits(jh.alg); err != nil {
			return nil, err
		}
	}
	return &parsedJWS{c: c, jh: jh, encoded: encoded, is: is}, nil
}

// issuerFor picks the issuer named by the caller, or the only one.
func (v *Verifier) issuerFor(name string) (*issuer, error) {
	if name == "" && len(v.issuers) == 1 {
		for _, is := range v.issuers {
			return is, nil
		}
	}
	is, ok := v.issuers[name]
	if !ok {
		return nil, Reject(ReasonUnknownIssuer, nil)
	}
	return is, nil
}

// payloadEncoded reads RFC 7797's b64 header parameter: absent means true; when present it must
// be a boolean, and readHeader has already checked that the caller understands it and that crit
// lists it where required.
func payloadEncoded(h map[string]any) (bool, error) {
	v, ok := h["b64"]
	if !ok {
		return true, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, Reject(ReasonBadHeader, errors.New("b64 is not a boolean"))
	}
	if !b && !critLists(h, "b64") {
		// RFC 7797 §6: b64=false without crit would let a verifier that ignores b64 read the
		// payload differently than the signer meant.
		return false, Reject(ReasonBadHeader, errors.New("b64=false is not listed in crit"))
	}
	return b, nil
}

// critLists reports whether the header's crit array holds name.
func critLists(h map[string]any, name string) bool {
	list, _ := h["crit"].([]any)
	for _, item := range list {
		if item == name {
			return true
		}
	}
	return false
}

// payloadShape checks the payload segment's form without the payload: empty only where the
// caller has it (RFC 7515 App. F), and never an unencoded payload inline.
func (c *compact) payloadShape(o JWSOptions, encoded bool) error {
	if len(c.payloadB64) == 0 && !o.Detached {
		return Reject(ReasonMalformed, errors.New("detached payload where none is expected"))
	}
	if len(c.payloadB64) > 0 && !encoded {
		// An unencoded payload travels detached only: inline it could contain '.'.
		return Reject(ReasonMalformed, errors.New("unencoded payload must be detached"))
	}
	return nil
}

// payload returns the JWS payload and its signing input (RFC 7515 §5.2, RFC 7797 §3).
func (c *compact) payload(o JWSOptions, encoded bool) (payload []byte, input signingInput, err error) {
	if err := c.payloadShape(o, encoded); err != nil {
		return nil, input, err
	}
	headerSeg := c.signingInput[:len(c.signingInput)-len(c.payloadB64)-1]
	if len(c.payloadB64) == 0 {
		return o.Body, detachedInput(headerSeg, o.Body, encoded), nil
	}
	if o.Detached {
		// The token carries the payload the caller has: compare without decoding a copy.
		if !isEncodingOf(c.payloadB64, o.Body) {
			return nil, input, &Error{Reason: ReasonBindingMismatch, Detail: "body"}
		}
		return o.Body, compactInput(c.signingInput), nil
	}
	decoded := make([]byte, b64.DecodedLen(len(c.payloadB64)))
	n, err := b64.Decode(decoded, c.payloadB64)
	if err != nil {
		return nil, input, Reject(ReasonMalformed, errors.New("payload is not base64url"))
	}
	return decoded[:n], compactInput(c.signingInput), nil
}

// isEncodingOf reports whether seg is the base64url encoding (unpadded, RFC 7515 §2) of body.
// Strict decoding gives each byte string exactly one encoding, so this equals decoding seg and
// comparing, without the decoded copy: body is encoded in chunks on the stack.
func isEncodingOf(seg, body []byte) bool {
	if len(seg) != b64.EncodedLen(len(body)) {
		return false
	}
	var buf [4096]byte // the encoding of 3072 bytes: whole quanta, so chunks join seamlessly
	for len(body) > 0 {
		n := min(len(body), 3072)
		m := b64.EncodedLen(n)
		b64.Encode(buf[:m], body[:n])
		if !bytes.Equal(buf[:m], seg[:m]) {
			return false
		}
		body, seg = body[n:], seg[m:]
	}
	return true
}
