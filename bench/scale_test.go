package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/obgate/obgate/caddyjwt"
	"github.com/obgate/obgate/internal/jwttest"
)

// scaleIssuers is how many issuers with static keys the scale scenarios configure.
const scaleIssuers = 10_000

// writeIssuerKeys writes one PEM public key file per issuer: distinct P-256 keys, or, for RSA,
// files cycling through a few 2048-bit keys (generating 10,000 RSA keys would dominate the run;
// every issuer still parses and prepares its own file).
func writeIssuerKeys(b *testing.B, dir, kind string, n int) []string {
	b.Helper()
	var rsaPool [][]byte
	if kind == "RSA" {
		for range 4 {
			s := jwttest.NewRSA(b, 2048, "RS256")
			data, err := os.ReadFile(s.PublicPEM(b, b.TempDir()))
			if err != nil {
				b.Fatal(err)
			}
			rsaPool = append(rsaPool, data)
		}
	}
	paths := make([]string, n)
	for i := range n {
		var data []byte
		if kind == "RSA" {
			data = rsaPool[i%len(rsaPool)]
		} else {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
			if err != nil {
				b.Fatal(err)
			}
			data = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		}
		paths[i] = filepath.Join(dir, fmt.Sprintf("issuer-%05d.pem", i))
		if err := os.WriteFile(paths[i], data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return paths
}

// gatewayConfig is a Caddy JSON config: one loopback server whose only route is jwt_auth with the
// given issuers in front of a static "ok".
func gatewayConfig(b *testing.B, port int, issuers []map[string]any, jwksOrigin, realm string) []byte {
	b.Helper()
	apps := map[string]any{
		"http": map[string]any{"servers": map[string]any{"bench": map[string]any{
			"listen":          []string{fmt.Sprintf("127.0.0.1:%d", port)},
			"automatic_https": map[string]any{"disable": true},
			"routes": []any{map[string]any{"handle": []any{
				map[string]any{"handler": "jwt_auth", "issuers": issuers, "audience": []string{"bench"}, "realm": realm},
				map[string]any{"handler": "static_response", "body": "ok"},
			}}},
		}}},
	}
	if jwksOrigin != "" {
		apps["jwks"] = map[string]any{"allow_http": []string{jwksOrigin}}
	}
	cfg, err := json.Marshal(map[string]any{
		"admin":   map[string]any{"disabled": true, "config": map[string]any{"persist": false}},
		"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"level": "ERROR"}}},
		"storage": map[string]any{"module": "file_system", "root": b.TempDir()},
		"apps":    apps,
	})
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

func staticIssuers(paths []string) []map[string]any {
	out := make([]map[string]any, len(paths))
	for i, p := range paths {
		out[i] = map[string]any{"issuer": fmt.Sprintf("https://issuer-%05d.bench", i), "keys": []any{map[string]any{"path": p}}}
	}
	return out
}

func freeLoopbackPort(b *testing.B) int {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// processCPU is the CPU time this process has used (user and system, every thread): on a shared
// machine it says what a load costs, where the wall-clock time also says how busy the machine was.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkProvisionIssuers loads (provisions and starts) a real Caddy config with 10,000 issuers,
// each with its own static key file, and reports the time per load and the live heap the loaded
// config holds (heap-MB, B/issuer), measured after a collection with the config running, and the
// process's CPU time per load (cpu-s/op): on a shared machine the wall-clock ns/op also counts
// the time other work held the CPUs.
//
//	go test -run='^$' -bench=ProvisionIssuers -benchtime=3x ./bench
func BenchmarkProvisionIssuers(b *testing.B) {
	for _, kind := range []string{"EC-P256", "RSA"} {
		b.Run(fmt.Sprintf("%d-%s", scaleIssuers, kind), func(b *testing.B) {
			paths := writeIssuerKeys(b, b.TempDir(), kind, scaleIssuers)
			cfg := gatewayConfig(b, freeLoopbackPort(b), staticIssuers(paths), "", "bench")
			var heap uint64
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				before := heapInUse()
				cpu0 := processCPU()
				b.StartTimer()
				if err := caddy.Load(cfg, true); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				cpu += processCPU() - cpu0
				heap = heapInUse() - before
				if err := caddy.Stop(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(heap)/(1<<20), "heap-MB")
			b.ReportMetric(float64(heap)/scaleIssuers, "B/issuer")
		})
	}
}

// BenchmarkReloadKeepsJWKS reloads a config of 10,000 static-key issuers plus 100 issuers with
// their own jwks_url (a loopback JWKS server) and reports the time per reload. Each reload
// changes the realm, so Caddy provisions everything again; the JWKS caches live in the jwks app's
// pool and must survive: the benchmark fails if a reload fetches any JWKS, and checks after the
// run that a token of a JWKS issuer still verifies.
//
//	go test -run='^$' -bench=ReloadKeepsJWKS -benchtime=3x ./bench
func BenchmarkReloadKeepsJWKS(b *testing.B) {
	const remoteIssuers = 100
	signer := jwttest.NewEC(b, "ES256")
	signer.KID = "remote-1"
	jwks := jwttest.JWKS(b, signer)
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = w.Write(jwks)
	}))
	defer srv.Close()
	issuers := staticIssuers(writeIssuerKeys(b, b.TempDir(), "EC-P256", scaleIssuers))
	for i := range remoteIssuers {
		issuers = append(issuers, map[string]any{
			"issuer":   fmt.Sprintf("https://remote-%03d.bench", i),
			"jwks_url": fmt.Sprintf("%s/jwks/%d", srv.URL, i),
		})
	}
	port := freeLoopbackPort(b)
	if err := caddy.Load(gatewayConfig(b, port, issuers, srv.URL, "start"), true); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = caddy.Stop() }()
	for range 1000 { // bounded wait for the first fetch of every cache
		if fetches.Load() >= remoteIssuers {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := fetches.Load(); got != remoteIssuers {
		b.Fatalf("%d JWKS fetches after the first load, want %d", got, remoteIssuers)
	}
	configs := [][]byte{gatewayConfig(b, port, issuers, srv.URL, "a"), gatewayConfig(b, port, issuers, srv.URL, "b")}
	i := 0
	cpu0 := processCPU()
	for b.Loop() {
		if err := caddy.Load(configs[i%2], true); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	b.ReportMetric((processCPU()-cpu0).Seconds()/float64(i), "cpu-s/op")
	if got := fetches.Load(); got != remoteIssuers {
		b.Fatalf("reloads fetched JWKS: %d fetches in all, want %d", got, remoteIssuers)
	}
	tok := signer.Token(b, jwttest.Claims("https://remote-042.bench", "bench", "user", time.Now()), nil)
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b.Fatalf("token of a JWKS issuer after %d reloads: status %d", i, res.StatusCode)
	}
	b.ReportMetric(float64(fetches.Load()-remoteIssuers), "fetches-on-reload")
}
