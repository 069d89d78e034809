// Command tokenload is the token endpoint's load scenario (bench/token.sh): a real Caddy with a
// dcr handler and two token endpoints (ES256 and PS256 tokens), one client registered through
// DCR with a private_key_jwt PS256 key, client_credentials grants over keep-alive connections
// with single-use assertions made before the load starts, and a plain `respond` site measured
// in the same rounds. For each target it prints requests/s, latency percentiles and Caddy's CPU
// per request (from /proc/<pid>/stat over the target's windows), then the floor of a grant
// (assertion verification + token signing, measured here, + a plain respond's CPU) and the
// ratio of a grant's CPU to it. See bench/README.md.
//
//	tokenload -caddy ./caddy -d 5s -rounds 3 -c 16 -assertions 40000
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/caddyjwt/verify"
)

const caddyfile = `{
	admin off
	auto_https off
	persist_config off
	storage file_system %[1]s/storage
	jwt_signer es
	jwt_signer ps {
		algorithm PS256
	}
	log {
		level ERROR
	}
}

http://127.0.0.1:9201 {
	respond "ok"
}

http://127.0.0.1:9202 {
	handle /register* {
		dcr {
			name reg
		}
	}
	handle /token {
		token_endpoint {
			signer es
			issuer https://es.bench
			audience bench
			clients reg
		}
	}
}

http://127.0.0.1:9203 {
	handle /token {
		token_endpoint {
			signer ps
			issuer https://ps.bench
			audience bench
			clients reg
		}
	}
}
`

type target struct {
	name, url string
	pool      *pool // nil: GET
	lat       []time.Duration
	errors    int
	elapsed   time.Duration
	ticks     int64 // Caddy's CPU ticks during this target's windows
}

func main() {
	caddyBin := flag.String("caddy", "./caddy", "the Caddy binary with obgate's modules")
	conc := flag.Int("c", 16, "concurrent keep-alive connections")
	dur := flag.Duration("d", 5*time.Second, "duration of each target's turn in a round")
	rounds := flag.Int("rounds", 3, "rounds; each round runs every target once")
	n := flag.Int("assertions", 40000, "single-use assertions made before the load, per token endpoint")
	flag.Parse()

	dir, err := os.MkdirTemp("", "tokenload")
	check(err)
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "Caddyfile")
	check(os.WriteFile(cfg, fmt.Appendf(nil, caddyfile, dir), 0o600))
	cmd := exec.Command(*caddyBin, "run", "--config", cfg, "--adapter", "caddyfile")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	check(cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for _, port := range []string{"9201", "9202", "9203"} {
		waitListening("127.0.0.1:" + port)
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	check(err)
	kid, err := keys.Thumbprint(&key.PublicKey)
	check(err)
	clientID := register(key, kid)
	fmt.Printf("registered DCR client %s (private_key_jwt, PS256 key %s)\n", clientID, kid[:8])

	t0 := time.Now()
	es := mint(key, kid, clientID, "https://es.bench", *n)
	ps := mint(key, kid, clientID, "https://ps.bench", *n)
	fmt.Printf("made %d PS256 assertions in %s\n", 2**n, time.Since(t0).Round(time.Millisecond))

	verifyNS, signES, signPS := floorCosts(key, kid, clientID, es.next())
	targets := []*target{
		{name: "respond", url: "http://127.0.0.1:9201/"},
		{name: "grant_es256", url: "http://127.0.0.1:9202/token", pool: es},
		{name: "grant_ps256", url: "http://127.0.0.1:9203/token", pool: ps},
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc, MaxConnsPerHost: *conc}, Timeout: 10 * time.Second}
	for range *rounds {
		for _, t := range targets {
			before := cpuTicks(cmd.Process.Pid)
			run(client, t, *conc, *dur)
			t.ticks += cpuTicks(cmd.Process.Pid) - before
		}
	}
	report(targets, verifyNS, signES, signPS)
}

// register registers the load's client through DCR (generic profile, RFC 7591 JSON, inline JWKS).
func register(key *rsa.PrivateKey, kid string) string {
	n := base64.RawURLEncoding.EncodeToString(key.N.Bytes())
	e := base64.RawURLEncoding.EncodeToString(big(key.E))
	body, _ := json.Marshal(map[string]any{
		"token_endpoint_auth_method": "private_key_jwt",
		"grant_types":                []string{"client_credentials"},
		"scope":                      "accounts payments",
		"redirect_uris":              []string{"https://client.bench/cb"},
		"jwks":                       map[string]any{"keys": []any{map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "PS256", "n": n, "e": e}}},
	})
	res, err := http.Post("http://127.0.0.1:9202/register", "application/json", bytes.NewReader(body))
	check(err)
	defer res.Body.Close()
	var m map[string]any
	check(json.NewDecoder(res.Body).Decode(&m))
	id, _ := m["client_id"].(string)
	if res.StatusCode != http.StatusCreated || id == "" {
		fatal("register: %d %v", res.StatusCode, m)
	}
	return id
}

func big(e int) []byte {
	b := []byte{byte(e >> 24), byte(e >> 16), byte(e >> 8), byte(e)}
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// pool hands out pre-made token request bodies, each once.
type pool struct {
	bodies [][]byte
	i      atomic.Int64
}

func (p *pool) next() []byte {
	i := p.i.Add(1) - 1
	if int(i) >= len(p.bodies) {
		return nil
	}
	return p.bodies[i]
}

// mint makes n form bodies, each with a fresh PS256 assertion for aud, on every core.
func mint(key *rsa.PrivateKey, kid, clientID, aud string, n int) *pool {
	p := &pool{bodies: make([][]byte, n)}
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				a := assertion(key, kid, clientID, aud, fmt.Sprintf("%s-%d", aud, i))
				p.bodies[i] = []byte(url.Values{
					"grant_type":            {"client_credentials"},
					"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
					"client_assertion":      {a},
				}.Encode())
			}
		}()
	}
	wg.Wait()
	return p
}

func assertion(key *rsa.PrivateKey, kid, clientID, aud, jti string) string {
	now := time.Now()
	h, _ := json.Marshal(map[string]any{"alg": "PS256", "kid": kid, "typ": "JWT"})
	c, _ := json.Marshal(map[string]any{"iss": clientID, "sub": clientID, "aud": aud, "jti": jti, "iat": now.Unix(), "exp": now.Add(50 * time.Minute).Unix()})
	input := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	check(err)
	return input + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// floorCosts measures, in this process, the engine's verification of one PS256 assertion and
// the signing of one access token with ES256 and with PS256 (ns per operation).
func floorCosts(key *rsa.PrivateKey, kid, clientID string, body []byte) (verifyNS, signES, signPS float64) {
	form, _ := url.ParseQuery(string(body))
	tok := []byte(form.Get("client_assertion"))
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	ks, err := keys.ParsePEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), "bench")
	check(err)
	v, err := verify.New(verify.Policy{Issuers: []verify.Issuer{{Name: clientID, Sources: []keys.Source{keys.NewStatic(ks...)}, Algorithms: []string{"PS256"}}}, Require: []string{"jti"}})
	check(err)
	verifyNS = bench(func() {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			fatal("verify: %v", err)
		}
	})
	claims := `{"iss":"https://es.bench","sub":"` + clientID + `","client_id":"` + clientID + `","aud":"bench","scope":"accounts payments","iat":1,"exp":2,"jti":"0123456789abcdefghijkl"}`
	input := []byte(b64([]byte(`{"alg":"ES256","kid":"`+kid+`","typ":"at+jwt"}`)) + "." + b64([]byte(claims)))
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signES = bench(func() {
		sum := sha256.Sum256(input)
		if _, err := ecdsa.SignASN1(rand.Reader, ec, sum[:]); err != nil {
			fatal("sign: %v", err)
		}
	})
	signPS = bench(func() {
		sum := sha256.Sum256(input)
		if _, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
			fatal("sign: %v", err)
		}
	})
	return verifyNS, signES, signPS
}

func bench(f func()) float64 {
	r := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			f()
		}
	})
	return float64(r.NsPerOp())
}

// run drives one target with conc workers for d.
func run(client *http.Client, t *target, conc int, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			errs := 0
			for ctx.Err() == nil {
				var body []byte
				if t.pool != nil {
					if body = t.pool.next(); body == nil {
						return // out of assertions: the window ends early for this worker
					}
				}
				t0 := time.Now()
				if err := once(ctx, client, t.url, body); err != nil {
					if ctx.Err() == nil {
						errs++
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			t.lat = append(t.lat, lat...)
			t.errors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.elapsed += time.Since(start)
}

func once(ctx context.Context, client *http.Client, u string, body []byte) error {
	method := http.MethodGet
	var r io.Reader
	if body != nil {
		method, r = http.MethodPost, bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return nil
}

// cpuTicks is the process's user+system CPU time in clock ticks (proc(5): fields 14 and 15).
func cpuTicks(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	check(err)
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // after "pid (comm) "
	u, _ := strconv.ParseInt(fields[11], 10, 64)
	k, _ := strconv.ParseInt(fields[12], 10, 64)
	return u + k
}

// clockTick is the length of one clock tick (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

func report(targets []*target, verifyNS, signES, signPS float64) {
	fmt.Printf("%-12s %9s %9s %9s %9s %7s %14s\n", "target", "req/s", "p50", "p90", "p99", "errors", "caddy CPU/req")
	cpu := map[string]float64{}
	for _, t := range targets {
		slices.Sort(t.lat)
		rps := float64(len(t.lat)) / t.elapsed.Seconds()
		perReq := float64(time.Duration(t.ticks)*clockTick) / float64(max(len(t.lat), 1)) / 1e3
		cpu[t.name] = perReq
		fmt.Printf("%-12s %9.0f %9s %9s %9s %7d %11.1f µs\n", t.name, rps, pct(t.lat, 50), pct(t.lat, 90), pct(t.lat, 99), t.errors, perReq)
	}
	fmt.Printf("in-process: PS256 assertion verify %.1f µs, ES256 token sign %.1f µs, PS256 token sign %.1f µs\n", verifyNS/1e3, signES/1e3, signPS/1e3)
	for _, f := range []struct {
		name string
		sign float64
	}{{"grant_es256", signES}, {"grant_ps256", signPS}} {
		floor := cpu["respond"] + verifyNS/1e3 + f.sign/1e3
		fmt.Printf("%s: CPU/grant %.1f µs, floor (respond %.1f + verify %.1f + sign %.1f) %.1f µs, ratio %.2f\n",
			f.name, cpu[f.name], cpu["respond"], verifyNS/1e3, f.sign/1e3, floor, cpu[f.name]/floor)
	}
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)].Round(time.Microsecond)
}

func waitListening(addr string) {
	for range 100 {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	fatal("%s is not listening", addr)
}

func check(err error) {
	if err != nil {
		fatal("%v", err)
	}
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "tokenload: "+format+"\n", args...)
	os.Exit(2)
}
