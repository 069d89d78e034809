// Package integration runs obgate's modules inside a real Caddy, configured from Caddyfiles,
// with real HTTP clients, backends and key servers on loopback.
//
// Each test loads its config into the one in-process Caddy with caddy.Load; tests in this
// package therefore never run in parallel. Ports are picked free per test, so several `go test`
// processes can run side by side.
package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/obgate/obgate/authserver"
	_ "github.com/obgate/obgate/caddyjwt"
	_ "github.com/obgate/obgate/dcrhandler"
	_ "github.com/obgate/obgate/replay"
)

// gateway is a running Caddy loaded from a Caddyfile.
type gateway struct {
	t    *testing.T
	Port int // the port that {PORT} in the Caddyfile was replaced with
	URL  string
}

// startGateway adapts caddyfile, after replacing {PORT} with a free loopback port, and loads it
// into the in-process Caddy. The admin endpoint is off unless the Caddyfile's global options say
// otherwise ({ADMIN_PORT} is replaced with another free port). Caddy is stopped at test cleanup.
func startGateway(t *testing.T, caddyfile string) *gateway {
	t.Helper()
	port := freePort(t)
	cfg := strings.ReplaceAll(caddyfile, "{PORT}", fmt.Sprint(port))
	cfg = strings.ReplaceAll(cfg, "{ADMIN_PORT}", fmt.Sprint(freePort(t)))
	if !strings.HasPrefix(strings.TrimSpace(cfg), "{") {
		cfg = fmt.Sprintf(quietGlobals, t.TempDir()) + cfg
	}
	cfgJSON, err := adapt(cfg)
	if err != nil {
		t.Fatalf("adapt: %v\n%s", err, cfg)
	}
	if err := loadCaddy(cfgJSON); err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() { stopCaddy(t) })
	g := &gateway{t: t, Port: port, URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	g.waitListening()
	return g
}

// quietGlobals are the global options of a test Caddyfile that has none: no admin endpoint,
// no autosaved config, storage in the test's own directory, and only errors logged.
const quietGlobals = `{
	admin off
	persist_config off
	storage file_system %s
	log {
		level ERROR
	}
}
`

// adapt turns a Caddyfile into Caddy's JSON, failing on adapter warnings too (except the
// formatting hint, which generated test configs trigger).
func adapt(caddyfile string) ([]byte, error) {
	adapter := caddyconfig.GetAdapter("caddyfile")
	out, warnings, err := adapter.Adapt([]byte(caddyfile), nil)
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		if !strings.Contains(w.Message, "not formatted") {
			return nil, fmt.Errorf("adapter warning: %s", w.String())
		}
	}
	return out, nil
}

var caddyMu sync.Mutex

func loadCaddy(cfgJSON []byte) error {
	caddyMu.Lock()
	defer caddyMu.Unlock()
	return caddy.Load(cfgJSON, true)
}

func stopCaddy(t *testing.T) {
	caddyMu.Lock()
	defer caddyMu.Unlock()
	if err := caddy.Stop(); err != nil {
		t.Logf("caddy stop: %v", err)
	}
}

// waitListening polls until the gateway accepts connections (bounded).
func (g *gateway) waitListening() {
	g.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", g.Port), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	g.t.Fatalf("gateway not listening on port %d", g.Port)
}

// response is what a test client saw.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// JSON decodes the body into a map (the error answers' shape).
func (r response) JSON(t *testing.T) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("body is not the JSON error shape: %v: %q", err, r.Body)
	}
	return m
}

// do sends a request to the gateway; headers are name/value pairs, repeated names allowed.
func (g *gateway) do(method, path string, body io.Reader, headers ...string) response {
	g.t.Helper()
	req, err := http.NewRequest(method, g.URL+path, body)
	if err != nil {
		g.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Add(headers[i], headers[i+1])
	}
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		g.t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

// handedOut holds every port freePort has returned in this test process.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// freePort returns a loopback TCP port that was free a moment ago and that it has not returned
// before. Each probe's listener is closed before the next opens, so the system may offer the
// same port twice in a row: two sites of one config then got the same address.
func freePort(t *testing.T) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
	t.Fatal("freePort: 100 probes gave only ports handed out before")
	return 0
}
