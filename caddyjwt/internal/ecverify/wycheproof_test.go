package ecverify_test

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/obgate/obgate/caddyjwt/internal/ecverify"
)

// wycheproofFile is the part of Wycheproof's ecdsa_p1363_verify schema the test reads.
type wycheproofFile struct {
	Algorithm     string `json:"algorithm"`
	NumberOfTests int    `json:"numberOfTests"`
	TestGroups    []struct {
		PublicKeyDer string `json:"publicKeyDer"`
		SHA          string `json:"sha"`
		Tests        []struct {
			TcID    int      `json:"tcId"`
			Comment string   `json:"comment"`
			Msg     string   `json:"msg"`
			Sig     string   `json:"sig"`
			Result  string   `json:"result"`
			Flags   []string `json:"flags"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// TestWycheproofSameVerdictAsCryptoECDSA runs every Wycheproof ECDSA P-256 SHA-256 vector in
// the P1363 form (R || S, as JWS carries it) through the fast path, before and after the key's
// table is built, and through crypto/ecdsa: the verdicts must be equal on every case, every
// "valid" case must verify and every "invalid" one must be rejected. Every case of the file is
// run: the count is checked against the file.
func TestWycheproofSameVerdictAsCryptoECDSA(t *testing.T) {
	data, err := os.ReadFile("testdata/wycheproof/ecdsa_secp256r1_sha256_p1363_test.json")
	if err != nil {
		t.Fatal(err)
	}
	var file wycheproofFile
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if file.Algorithm != "ECDSA" {
		t.Fatalf("algorithm %q", file.Algorithm)
	}
	ran, valid := 0, 0
	for gi, g := range file.TestGroups {
		if g.SHA != "SHA-256" {
			t.Fatalf("group %d: hash %q", gi, g.SHA)
		}
		der, err := hex.DecodeString(g.PublicKeyDer)
		if err != nil {
			t.Fatalf("group %d: %v", gi, err)
		}
		parsed, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			t.Fatalf("group %d: public key: %v", gi, err)
		}
		pub := parsed.(*ecdsa.PublicKey)
		k := ecverify.Prepare(pub)
		if k == nil {
			t.Fatalf("group %d: Prepare refused a P-256 key", gi)
		}
		for _, tc := range g.Tests {
			ran++
			msg, err1 := hex.DecodeString(tc.Msg)
			sig, err2 := hex.DecodeString(tc.Sig)
			if err1 != nil || err2 != nil {
				t.Fatalf("tc%d: bad hex", tc.TcID)
			}
			digest := sha(msg)
			want := stdVerdict(pub, digest, sig)
			name := fmt.Sprintf("tc%d %s %v", tc.TcID, tc.Comment, tc.Flags)
			for _, p := range paths {
				if got := p.verify(k, digest, sig); got != want {
					t.Errorf("%s (%s path): fast path says %v, crypto/ecdsa says %v", name, p.name, got, want)
				}
			}
			switch tc.Result {
			case "valid":
				valid++
				if !want {
					t.Errorf("%s: valid case rejected", name)
				}
			case "invalid":
				if want {
					t.Errorf("%s: invalid case verified", name)
				}
			default:
				t.Fatalf("%s: result %q", name, tc.Result)
			}
		}
	}
	if ran != file.NumberOfTests {
		t.Errorf("ran %d cases, the file declares %d", ran, file.NumberOfTests)
	}
	t.Logf("%d cases (%d valid) in %d groups, same verdict as crypto/ecdsa on the plain and the table path", ran, valid, len(file.TestGroups))
}
