// Package cluster runs three gateway instances of the project as separate OS processes, on one
// shared file_system storage and one Redis (a real redis-server, started by the test on a free
// loopback port), and checks what a load balancer in front of them would see: single-use checks
// hold across instances, registrations, registered keys and the jwt_signer keys are shared (a
// token issued on one instance verifies on the others), and the instances fail
// closed while Redis is down.
package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/jwttest"
	"github.com/obgate/obgate/internal/redistest"
)

// caddyBin is the gateway binary TestMain builds once from ./cmd/caddy.
var caddyBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "obgate-cluster-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	caddyBin = filepath.Join(dir, "caddy")
	build := exec.Command("go", "build", "-o", caddyBin, "github.com/obgate/obgate/cmd/caddy")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the gateway:", err)
		return 1
	}
	return m.Run()
}

// Timeouts. Every wait in these tests is bounded by one of them.
const (
	startTimeout   = 30 * time.Second // an instance answers /healthz
	stopTimeout    = 10 * time.Second // an instance exits after SIGTERM
	requestTimeout = 30 * time.Second // one HTTP request
	syncTimeout    = 30 * time.Second // a change made on one instance shows on another
)

// Constants of the test world.
const (
	apiHost      = "api.bank.example" // the Host every request carries, whichever instance it reaches
	dcrDirectory = "https://directory.example"
	dcrAudience  = "https://bank.example/"
	dcrRedirect  = "https://client.example/cb"
	tppIssuer    = "https://tpp.example"
	apiAudience  = "bank-api"
	asIssuer     = "https://as.bank.example" // iss of the tokens every instance's token_endpoint issues
	asAudience   = "bank-as-api"             // their aud
	asClientID   = "cluster-client"          // the static private_key_jwt client
)

// world is what the three instances share: storage, Redis, the backend and the keys.
type world struct {
	t        *testing.T
	storage  string
	redis    *redistest.Server
	backend  *httptest.Server
	hits     atomic.Int64 // requests that reached the backend
	signer   *jwttest.Signer
	signerPE string
	dir      *jwttest.Signer
	dirPEM   string
	software *jwttest.Signer
	asClient *jwttest.Signer // the token_endpoint's static private_key_jwt client
	asClPEM  string
	jwks     *httptest.Server
	seq      atomic.Int64
	client   *http.Client
}

func newWorld(t *testing.T, redisOpts ...redistest.Option) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("cluster tests start three gateway processes")
	}
	w := &world{t: t, storage: t.TempDir()}
	w.redis = redistest.Start(t, redisOpts...)
	w.backend = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.hits.Add(1)
		_, _ = io.WriteString(rw, "backend saw "+r.URL.Path)
	}))
	t.Cleanup(w.backend.Close)
	w.signer = jwttest.NewEC(t, "ES256")
	w.signerPE = w.signer.PublicPEM(t, t.TempDir())
	w.dir = jwttest.NewRSA(t, 2048, "PS256")
	w.dirPEM = w.dir.PublicPEM(t, t.TempDir())
	w.software = jwttest.NewRSA(t, 2048, "PS256")
	w.asClient = jwttest.NewEC(t, "ES256")
	w.asClPEM = w.asClient.PublicPEM(t, t.TempDir())
	body := jwttest.JWKS(t, w.software)
	w.jwks = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write(body)
	}))
	t.Cleanup(w.jwks.Close)
	w.client = &http.Client{Timeout: requestTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	t.Cleanup(w.client.CloseIdleConnections)
	return w
}

// caddyfile is one instance's config: its own ports, everything else shared.
func (w *world) caddyfile(port, adminPort int) string {
	return fmt.Sprintf(`{
	admin 127.0.0.1:%d
	persist_config off
	storage file_system %s
	replay_store redis %s {
		timeout 2s
	}
	jwt_signer cluster {
		refresh_interval 1s
	}
	log {
		level WARN
	}
}

:%d {
	bind 127.0.0.1
	handle /healthz {
		respond "ok"
	}
	handle /pay/* {
		request_signature {
			key %s
			profile tokenio
			replay
		}
		reverse_proxy %s
	}
	handle /cdr/register* {
		dcr {
			profile cdr
			directory %s {
				key %s
			}
			audience %s
			jwks_uri_allow http://%s
		}
	}
	handle_path /registry/* {
		jwt_keys
	}
	handle /api/* {
		jwt_auth {
			issuer %s {
				registry tpp
			}
			audience %s
		}
		reverse_proxy %s
	}
	handle /token {
		token_endpoint {
			signer cluster
			issuer %s
			audience %s
			client %s {
				auth private_key_jwt
				key %s
				scope accounts
			}
		}
	}
	handle /as-api/* {
		jwt_auth {
			issuer %s {
				signer cluster
			}
			audience %s
		}
		reverse_proxy %s
	}
	respond 404
}
`, adminPort, w.storage, w.redis.Addr, port, w.signerPE, w.backend.URL,
		dcrDirectory, w.dirPEM, dcrAudience, strings.TrimPrefix(w.jwks.URL, "http://"),
		tppIssuer, apiAudience, w.backend.URL,
		asIssuer, asAudience, asClientID, w.asClPEM, asIssuer, asAudience, w.backend.URL)
}

// instance is one gateway process.
type instance struct {
	name string
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
	logs *lockedBuffer
}

// start starts n instances named A, B, C...
func (w *world) start(n int) []*instance {
	w.t.Helper()
	out := make([]*instance, n)
	for i := range out {
		out[i] = w.startInstance(string(rune('A' + i)))
	}
	return out
}

func (w *world) startInstance(name string) *instance {
	t := w.t
	t.Helper()
	port, adminPort := freePort(t), freePort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfg, []byte(w.caddyfile(port, adminPort)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(caddyBin, "run", "--config", cfg, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
	logs := new(lockedBuffer)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting instance %s: %v", name, err)
	}
	in := &instance{name: name, URL: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, done: make(chan struct{}), logs: logs}
	go func() { _ = cmd.Wait(); close(in.done) }()
	t.Cleanup(func() {
		in.stop()
		if t.Failed() {
			t.Logf("instance %s log:\n%s", name, logs.String())
		}
	})
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-in.done:
			t.Fatalf("instance %s exited at start:\n%s", name, logs.String())
		default:
		}
		if res, err := http.Get(in.URL + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return in
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s did not answer within %v:\n%s", name, startTimeout, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends the instance at once (SIGKILL by PID), as a crash would.
func (in *instance) kill() {
	_ = in.cmd.Process.Signal(syscall.SIGKILL)
	<-in.done
}

// stop ends the instance gracefully (SIGTERM by PID), killing it if it does not exit in time.
func (in *instance) stop() {
	select {
	case <-in.done:
		return
	default:
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(stopTimeout):
		in.kill()
	}
}

// response is what a client saw.
type response struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, r.body)
	}
	return m
}

// do sends one request to the instance with Host apiHost.
func (w *world) do(in *instance, method, path string, body []byte, headers ...string) response {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, in.URL+path, bytes.NewReader(body))
	if err != nil {
		return response{err: err}
	}
	req.Host = apiHost
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := w.client.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b, err: err}
}

// signedGet is a detached tokenio signature (by the world's signer) of GET path on apiHost.
func (w *world) signedGet(path string) string {
	hdr, _ := json.Marshal(map[string]any{
		"alg": "ES256", "kid": w.signer.KID, "exp": time.Now().Add(2 * time.Minute).UnixMilli(),
		"method": "GET", "host": apiHost, "path": path,
	})
	parts := strings.Split(w.signer.SignRaw(w.t, hdr, nil), ".")
	return parts[0] + ".." + parts[2]
}

// cdrRequest is a signed cdr registration request JWT for softwareID with a fresh jti.
func (w *world) cdrRequest(softwareID string) []byte {
	now := time.Now()
	ssa := w.dir.Token(w.t, map[string]any{
		"iss": dcrDirectory, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": "ssa",
		"software_id": softwareID, "jwks_uri": w.jwks.URL + "/software.jwks",
		"redirect_uris": []string{dcrRedirect},
	}, nil)
	return []byte(w.software.Token(w.t, map[string]any{
		"iss": softwareID, "aud": dcrAudience, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"jti": fmt.Sprintf("jti-%d-%d", now.UnixNano(), w.seq.Add(1)), "redirect_uris": []string{dcrRedirect},
		"software_statement": ssa,
		// What the CDR DCR API requires of a Data Recipient's request (dcrhandler/rules.go).
		"token_endpoint_auth_method":      "private_key_jwt",
		"token_endpoint_auth_signing_alg": "PS256",
		"grant_types":                     []string{"client_credentials", "authorization_code", "refresh_token"},
		"response_types":                  []string{"code id_token"},
		"id_token_signed_response_alg":    "PS256",
		"id_token_encrypted_response_alg": "RSA-OAEP",
		"id_token_encrypted_response_enc": "A256GCM",
		"request_object_signing_alg":      "PS256",
	}, nil))
}

// register posts a cdr registration to in.
func (w *world) register(in *instance, softwareID string) response {
	return w.do(in, http.MethodPost, "/cdr/register", w.cdrRequest(softwareID), "Content-Type", "application/jwt")
}

// storedClients reads every client record and software index the dcr handler keeps in the
// shared storage; a file that does not parse fails the test (nothing half-written).
func (w *world) storedClients() (clients map[string]map[string]any, index map[string]string) {
	t := w.t
	t.Helper()
	clients, index = map[string]map[string]any{}, map[string]string{}
	root := filepath.Join(w.storage, "obgate", "dcr")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasSuffix(path, ".json") {
			// The file_system storage writes a temporary file and renames it: a process killed in
			// between leaves the temporary file, which is no record (no key names it).
			t.Logf("crash debris (an unrenamed temporary file, not a record): %s", path)
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Errorf("half-written record %s: %v: %q", path, err, data)
			return nil
		}
		id, _ := m["client_id"].(string)
		switch filepath.Base(filepath.Dir(path)) {
		case "clients":
			clients[id] = m
		case "software":
			index[strings.TrimSuffix(filepath.Base(path), ".json")] = id
		default:
			t.Errorf("unexpected file in the dcr storage: %s", path)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return clients, index
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
