package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"reflect"
	"testing"
)

// TestSameKeyComparesEveryField: a Key that differs from another in any field but its prepared
// state is another key, so a refresh never keeps an old Key value for it. A field added to Key
// fails this test until sameKey compares it (or it is listed here as prepared state).
func TestSameKeyComparesEveryField(t *testing.T) {
	pub, other := p256(t), p256(t)
	base := func() Key {
		k, err := newKey(pub, "kid", "", "https://issuer.example/jwks")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	a := base()
	if b := base(); !sameKey(a, b) {
		t.Fatal("two Keys built from the same JWK are not the same key")
	}
	prepared := map[string]bool{"rsa": true, "ec": true}
	typ := reflect.TypeFor[Key]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if prepared[f.Name] {
			continue
		}
		b := base()
		v := reflect.ValueOf(&b).Elem().Field(i)
		if !v.CanSet() {
			t.Errorf("unexported field Key.%s: compare it in sameKey, or list it here as prepared state", f.Name)
			continue
		}
		switch {
		case v.Kind() == reflect.String:
			v.SetString(v.String() + "x")
		case v.Kind() == reflect.Bool:
			v.SetBool(!v.Bool())
		case f.Type == reflect.TypeFor[[]string]():
			v.Set(reflect.Append(v, reflect.ValueOf("ES384")))
		case f.Name == "Public":
			v.Set(reflect.ValueOf(other))
		default:
			t.Errorf("field Key.%s of type %s: compare it in sameKey and change it here", f.Name, f.Type)
			continue
		}
		if sameKey(a, b) {
			t.Errorf("a Key with another %s is the same key", f.Name)
		}
	}

	secret := []byte("0123456789abcdef0123456789abcdef")
	h, err := newKey(secret, "hmac", "", "file")
	if err != nil {
		t.Fatal(err)
	}
	if sameKey(h, h) {
		t.Error("an HMAC secret, which has nothing prepared, is kept as the same key")
	}
}

// TestKeepPreparedWithoutOldSet: the first fetch (no set yet) takes the keys as parsed.
func TestKeepPreparedWithoutOldSet(t *testing.T) {
	k, err := newKey(p256(t), "kid", "", "origin")
	if err != nil {
		t.Fatal(err)
	}
	got := keepPrepared(nil, []Key{k})
	if len(got) != 1 || got[0].PreparedEC() != k.PreparedEC() {
		t.Errorf("keepPrepared(nil, keys) = %v, want the keys unchanged", got)
	}
}

func p256(t *testing.T) *ecdsa.PublicKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &k.PublicKey
}
