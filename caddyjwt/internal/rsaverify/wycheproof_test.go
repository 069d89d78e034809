package rsaverify_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// wycheproofSigFile is the part of Wycheproof's rsassa_pkcs1_verify and rsassa_pss_verify
// schemas the test reads.
type wycheproofSigFile struct {
	Algorithm     string `json:"algorithm"`
	NumberOfTests int    `json:"numberOfTests"`
	TestGroups    []struct {
		PublicKeyDer string `json:"publicKeyDer"`
		SHA          string `json:"sha"`
		MGFSHA       string `json:"mgfSha"`
		SLen         *int   `json:"sLen"`
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

var wycheproofHashes = map[string]crypto.Hash{"SHA-256": crypto.SHA256, "SHA-384": crypto.SHA384, "SHA-512": crypto.SHA512}

// TestWycheproofSameVerdictAsCryptoRSA runs every Wycheproof RSASSA-PKCS1-v1_5 and RSASSA-PSS
// vector through the fast path and through crypto/rsa: the verdicts must be equal on every case,
// every "valid" case must verify and every "invalid" one must be rejected ("acceptable" cases
// follow crypto/rsa). Every case of every file is run: the count is checked against the file.
func TestWycheproofSameVerdictAsCryptoRSA(t *testing.T) {
	files, err := filepath.Glob("testdata/wycheproof/rsa_*_test.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Wycheproof RSA files: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var file wycheproofSigFile
			if err := json.Unmarshal(data, &file); err != nil {
				t.Fatal(err)
			}
			s := pkcs1
			if file.Algorithm == "RSASSA-PSS" {
				s = pss
			} else if file.Algorithm != "RSASSA-PKCS1-v1_5" {
				t.Fatalf("algorithm %q", file.Algorithm)
			}
			ran, fast, valid, onIFMA := 0, 0, 0, 0
			for gi, g := range file.TestGroups {
				h, ok := wycheproofHashes[g.SHA]
				if !ok {
					t.Fatalf("group %d: hash %q", gi, g.SHA)
				}
				if s == pss && (g.MGFSHA != g.SHA || g.SLen == nil || *g.SLen != h.Size()) {
					t.Fatalf("group %d: PSS parameters mgf %s, sLen %v are not the JWS ones", gi, g.MGFSHA, g.SLen)
				}
				der, _ := hex.DecodeString(g.PublicKeyDer)
				parsed, err := x509.ParsePKIXPublicKey(der)
				if err != nil {
					t.Fatalf("group %d: public key: %v", gi, err)
				}
				pub := parsed.(*rsa.PublicKey)
				engs := engines(pub)
				if engs == nil {
					t.Fatalf("group %d: Prepare refused a %d-bit key with e=%d", gi, pub.N.BitLen(), pub.E)
				}
				for _, tc := range g.Tests {
					ran++
					msg, err1 := hex.DecodeString(tc.Msg)
					sig, err2 := hex.DecodeString(tc.Sig)
					if err1 != nil || err2 != nil {
						t.Fatalf("tc%d: bad hex", tc.TcID)
					}
					digest := digestOf(h, msg)
					want := stdVerdict(pub, s, h, digest, sig)
					name := fmt.Sprintf("tc%d %s %v", tc.TcID, tc.Comment, tc.Flags)
					got := fastVerdict(engs[0].key, s, h, digest, sig)
					for _, e := range engs {
						if v := fastVerdict(e.key, s, h, digest, sig); v != want {
							t.Errorf("%s: fast path (%s) says %v, crypto/rsa says %v", name, e.name, v, want)
						}
						if e.name == "ifma" {
							onIFMA++
						}
					}
					switch tc.Result {
					case "valid":
						valid++
						if !got {
							t.Errorf("%s: valid case rejected", name)
						}
					case "invalid":
						if got {
							t.Errorf("%s: invalid case verified", name)
						}
					case "acceptable":
					default:
						t.Fatalf("%s: result %q", name, tc.Result)
					}
					fast++
				}
			}
			if ran != file.NumberOfTests {
				t.Errorf("ran %d cases, the file declares %d", ran, file.NumberOfTests)
			}
			t.Logf("%s: %d cases (%d valid), all %d on the fast path (%d of them also on the IFMA engine), same verdict as crypto/rsa", file.Algorithm, ran, valid, fast, onIFMA)
		})
	}
}
