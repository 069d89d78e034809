package verify

import (
	"bytes"
	"encoding/base64"
	"errors"

	"github.com/obgate/obgate/caddyjwt/internal/strictjson"
)

// b64 is the strict base64url decoding of RFC 7515 §2: no padding, no line breaks, and no
// non-zero trailing bits, so that one token has exactly one encoding.
var b64 = base64.RawURLEncoding.Strict()

// Limits on the decoded JSON of a token's header and claims.
var (
	headerLimits = strictjson.Limits{MaxDepth: 8, MaxMembers: 64}
	claimsLimits = strictjson.Limits{MaxDepth: 16, MaxMembers: 1024}
)

// compact is a compact JWS split into its parts. Nothing in it is trusted yet.
type compact struct {
	signingInput []byte // ASCII(BASE64URL(header) || '.' || BASE64URL(payload)), RFC 7515 §5.2
	headerB64    []byte
	payloadB64   []byte
	header       map[string]any // nil when the header came from the verifier's headerMemo
	signature    []byte
}

// sigBuffer holds the decoded signature of keys up to 4096 bits without an allocation; it is
// kept apart from compact, which points into it, so that both can live on the stack.
type sigBuffer [512]byte

// splitCompact checks the compact serialization (RFC 7515 §7.1): exactly three segments, the
// first and last non-empty, and decodes the header and signature.
func splitCompact(token []byte) (*compact, error) {
	c := new(compact)
	if err := c.split(token, true, nil); err != nil {
		return nil, err
	}
	return c, nil
}

// split is splitCompact into c; the header is decoded only when decodeHeader is set (otherwise
// the caller knows it already, see headerMemo), and the signature into buf when it fits.
func (c *compact) split(token []byte, decodeHeader bool, buf *sigBuffer) error {
	// encoding/base64 skips '\r' and '\n' even in Strict mode, so a line break would give a
	// segment a second encoding (and, in the signature, one that still verifies).
	if bytes.IndexByte(token, '\n') >= 0 || bytes.IndexByte(token, '\r') >= 0 {
		return Reject(ReasonMalformed, errors.New("line break in token"))
	}
	first := bytes.IndexByte(token, '.')
	last := bytes.LastIndexByte(token, '.')
	if first < 0 || first == last || bytes.IndexByte(token[first+1:last], '.') >= 0 {
		return Reject(ReasonMalformed, errors.New("not three segments"))
	}
	if first == 0 || last == len(token)-1 {
		return Reject(ReasonMalformed, errors.New("empty header or signature segment"))
	}
	c.signingInput, c.headerB64, c.payloadB64 = token[:last], token[:first], token[first+1:last]
	if decodeHeader {
		header, err := decodeJSONSegment(c.headerB64, headerLimits, nil)
		if err != nil {
			return err
		}
		c.header = header
	}
	sigB64 := token[last+1:]
	var sig []byte
	if n := b64.DecodedLen(len(sigB64)); buf != nil && n <= len(buf) {
		sig = buf[:n]
	} else {
		sig = make([]byte, n)
	}
	n, err := b64.Decode(sig, sigB64)
	if err != nil {
		return Reject(ReasonMalformed, errors.New("signature is not base64url"))
	}
	c.signature = sig[:n]
	return nil
}

// decodeJSONSegment decodes a base64url segment holding a JSON object, strictly. The decoded
// bytes belong to the result: its strings share them (strictjson.ParseOwned), and shared offers
// ready-made values for common strings.
func decodeJSONSegment(seg []byte, lim strictjson.Limits, shared map[string]any) (map[string]any, error) {
	raw := make([]byte, b64.DecodedLen(len(seg)))
	n, err := b64.Decode(raw, seg)
	if err != nil {
		return nil, Reject(ReasonMalformed, errors.New("segment is not base64url"))
	}
	obj, err := strictjson.ParseOwned(raw[:n], lim, shared)
	if err != nil {
		var je *strictjson.Error
		if errors.As(err, &je) && je.Kind == strictjson.KindDuplicate {
			return nil, Reject(ReasonDuplicateName, err)
		}
		return nil, Reject(ReasonMalformed, err)
	}
	return obj, nil
}
