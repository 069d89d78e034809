//lint:file-ignore SA1019 invalid public keys can only be built from raw coordinates.

package ecverify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"math/big"
	"testing"

	"github.com/obgate/obgate/caddyjwt/internal/ecverify"
)

// TestPrepareLeavesOtherKeysToCryptoECDSA: keys that are not valid P-256 points are not
// prepared, so the caller keeps crypto/ecdsa's verdict for them.
func TestPrepareLeavesOtherKeysToCryptoECDSA(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := testKeys(t)[0].PublicKey
	offCurve := good
	offCurve.Y = new(big.Int).Add(good.Y, big.NewInt(1))
	tooLarge := good
	tooLarge.X = new(big.Int).Add(good.X, elliptic.P256().Params().P)
	negative := good
	negative.X = new(big.Int).Neg(good.X)
	for name, pub := range map[string]*ecdsa.PublicKey{
		"nil key": nil, "no curve": {X: good.X, Y: good.Y}, "nil coordinates": {Curve: elliptic.P256()},
		"P-384": &p384.PublicKey, "P-224": &p224.PublicKey, "point off the curve": &offCurve,
		"x not reduced": &tooLarge, "negative x": &negative,
	} {
		if k := ecverify.Prepare(pub); k != nil {
			t.Errorf("%s: Prepare() = %v, want nil", name, k)
		}
	}
	if k := ecverify.Prepare(&good); k == nil || k.Public() != &good {
		t.Error("Prepare() refused an ordinary P-256 key")
	}
}
