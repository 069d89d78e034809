package verify

import "errors"

// UnverifiedClaims parses a compact JWS JWT with the engine's strict rules (size cap, three
// segments, strict base64url, duplicate-free JSON) and returns its claims WITHOUT verifying the
// signature. Nothing it returns may be trusted: it exists so that a caller can find out which
// verification to run, such as the software statement inside a DCR request JWT (RFC 7591 §3.1.1).
// maxSize of zero means DefaultMaxTokenSize.
func UnverifiedClaims(token []byte, maxSize int) (map[string]any, error) {
	if maxSize == 0 {
		maxSize = DefaultMaxTokenSize
	}
	if len(token) > maxSize {
		return nil, Reject(ReasonTooLarge, errors.New("token exceeds the size cap"))
	}
	c, err := splitCompact(token)
	if err != nil {
		return nil, err
	}
	return decodeJSONSegment(c.payloadB64, claimsLimits, nil)
}
