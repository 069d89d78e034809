package verify_test

import (
	"testing"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
)

// preparedAndPlainVerifiers returns two verifiers of issuer issA that hold the same public key:
// fast with the key as loaded (prepared, so the engine's fast path runs) and slow with it as a
// Key literal (nothing prepared: the standard library through jwx). The fast-path tests compare
// their verdicts.
func preparedAndPlainVerifiers(t *testing.T, loaded keys.Key) (fast, slow *verify.Verifier) {
	t.Helper()
	plain := keys.Key{ID: loaded.ID, Public: loaded.Public, Algorithms: loaded.Algorithms, Thumbprint: loaded.Thumbprint}
	engine := func(k keys.Key) *verify.Verifier {
		v, err := verify.New(verify.Policy{
			Issuers:  []verify.Issuer{{Name: issA, Sources: []keys.Source{keys.NewStatic(k)}}},
			Audience: []string{audience},
			Clock:    fixedClock,
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return engine(loaded), engine(plain)
}
