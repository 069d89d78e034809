package signing

import (
	"encoding/json"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// renderJWKS renders the public halves of ks as a JWK Set: kty and the public parameters, kid,
// alg and use "sig" (RFC 7517 §4). Only the public key is imported, so no private member can
// appear.
func renderJWKS(ks []*signingKey) ([]byte, error) {
	type set struct {
		Keys []jwk.Key `json:"keys"`
	}
	out := set{Keys: make([]jwk.Key, 0, len(ks))}
	for _, k := range ks {
		jk, err := jwk.Import(k.priv.Public())
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k.kid, err)
		}
		alg, ok := jwa.LookupSignatureAlgorithm(k.alg)
		if !ok {
			return nil, fmt.Errorf("key %s: unknown algorithm %s", k.kid, k.alg)
		}
		for name, v := range map[string]any{jwk.KeyIDKey: k.kid, jwk.AlgorithmKey: alg, jwk.KeyUsageKey: "sig"} {
			if err := jk.Set(name, v); err != nil {
				return nil, fmt.Errorf("key %s: %s: %w", k.kid, name, err)
			}
		}
		out.Keys = append(out.Keys, jk)
	}
	return json.Marshal(out)
}
