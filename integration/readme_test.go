package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// readmeBlock returns the first fenced code block of the given language after the README
// heading.
func readmeBlock(t *testing.T, heading, lang string) string {
	t.Helper()
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no heading %q", heading)
	}
	_, after, ok = strings.Cut(after, "```"+lang+"\n")
	if !ok {
		t.Fatalf("README section %q has no ```%s block", heading, lang)
	}
	block, _, ok := strings.Cut(after, "\n```")
	if !ok {
		t.Fatalf("README section %q: unterminated code block", heading)
	}
	return block + "\n"
}

// repoRoot is the repository root, where the README's commands run.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// exampleGateway loads Caddyfile.example as it ships, with its loopback ports moved to free
// ones (returned as a dial map from the example's address to the real one), its key paths made
// absolute, and quiet test globals (no admin endpoint, storage in the test's directory).
func exampleGateway(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("../Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	dial := map[string]string{}
	// Ports in site addresses (http://:8080, :8086) and in loopback addresses (127.0.0.1:8081).
	ports := regexp.MustCompile(`(//|127\.0\.0\.1|\s):([0-9]{4,5})\b`)
	cfg := ports.ReplaceAllStringFunc(string(data), func(m string) string {
		sub := ports.FindStringSubmatch(m)
		addr := "127.0.0.1:" + sub[2]
		if _, ok := dial[addr]; !ok {
			dial[addr] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		}
		_, port, _ := net.SplitHostPort(dial[addr])
		return sub[1] + ":" + port
	})
	cfg = strings.ReplaceAll(cfg, " examples/", " "+filepath.Join(repoRoot(t), "examples")+"/")
	globals := fmt.Sprintf("{\n\tadmin off\n\tpersist_config off\n\tstorage file_system %s\n\tlog {\n\t\tlevel ERROR\n\t}\n", t.TempDir())
	if !strings.Contains(cfg, "\n{\n") {
		t.Fatal("Caddyfile.example has no global options block")
	}
	cfg = strings.Replace(cfg, "\n{\n", "\n"+globals, 1)
	cfgJSON, err := adapt(cfg)
	if err != nil {
		t.Fatalf("adapt Caddyfile.example: %v", err)
	}
	if err := loadCaddy(cfgJSON); err != nil {
		t.Fatalf("load Caddyfile.example: %v", err)
	}
	t.Cleanup(func() { stopCaddy(t) })
	for _, real := range dial {
		_, p, _ := net.SplitHostPort(real)
		port, _ := strconv.Atoi(p)
		(&gateway{t: t, Port: port}).waitListening()
	}
	return dial
}

// curlCall is one curl invocation of a README snippet, captured by a shell function.
type curlCall struct {
	method, url string
	header      http.Header
	body        []byte
	hasBody     bool
}

// parseCurl reads the arguments the README's curl lines use: -i, -X, -H, --data-binary, a URL.
func parseCurl(t *testing.T, args []string) curlCall {
	t.Helper()
	c := curlCall{header: http.Header{}}
	for i := 0; i < len(args); i++ {
		next := func() string {
			if i+1 >= len(args) {
				t.Fatalf("curl %v: %s needs a value", args, args[i])
			}
			i++
			return args[i]
		}
		switch a := args[i]; a {
		case "-i", "-s", "--globoff":
		case "-X":
			c.method = next()
		case "-H":
			name, value, _ := strings.Cut(next(), ":")
			c.header.Add(name, strings.TrimSpace(value))
		case "--data-binary":
			c.body, c.hasBody = []byte(next()), true
		default:
			if strings.HasPrefix(a, "-") {
				t.Fatalf("curl option %s is not understood by this test", a)
			}
			c.url = a
		}
	}
	if c.method == "" {
		c.method = "GET"
		if c.hasBody {
			c.method = "POST"
		}
	}
	return c
}

// runSnippet runs a README shell snippet from the repository root: `go run ./cmd/caddy` runs
// this test binary as caddy (a shim on PATH), and each curl call is captured, not sent. It
// returns the captured curl calls and the expected status written after each ("# 200").
func runSnippet(t *testing.T, snippet string) ([]curlCall, []int) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	shim := "#!/bin/sh\n[ \"$1 $2\" = \"run ./cmd/caddy\" ] || { echo \"unexpected go $*\" >&2; exit 97; }\nshift 2\n" +
		asCaddyEnv + "=1 exec \"$OBGATE_TEST_BINARY\" \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	calls := t.TempDir()
	script := "set -e\nn=0\ncurl() { n=$((n+1)); printf '%s\\0' \"$@\" > \"$CURL_CALLS/$n\"; }\n" + snippet
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"OBGATE_TEST_BINARY="+self, "CURL_CALLS="+calls)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("README snippet failed: %v\n%s\n%s", err, stderr.String(), snippet)
	}
	var out []curlCall
	var want []int
	status := regexp.MustCompile(`#\s*([1-5][0-9][0-9])\b`)
	for _, line := range strings.Split(snippet, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "curl ") {
			continue
		}
		m := status.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("README curl line without an expected status comment: %s", line)
		}
		code, _ := strconv.Atoi(m[1])
		want = append(want, code)
		raw, err := os.ReadFile(filepath.Join(calls, strconv.Itoa(len(want))))
		if err != nil {
			t.Fatalf("curl call %d was not made: %v", len(want), err)
		}
		out = append(out, parseCurl(t, strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")))
	}
	return out, want
}

// send makes a captured curl call against the gateway, dialling the moved ports.
func send(t *testing.T, dial map[string]string, c curlCall) (int, string) {
	t.Helper()
	var d net.Dialer
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if real, ok := dial[addr]; ok {
				addr = real
			}
			return d.DialContext(ctx, network, addr)
		},
	}}
	req, err := http.NewRequest(c.method, c.url, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = c.header
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// The README's signed-request walkthrough works as written against Caddyfile.example: the
// snippet's own `caddy jwt sign-request` line signs, the signed call gets 200, the tampered body
// and the replay get 401 invalid_token.
func TestReadmeSignedRequestWalkthrough(t *testing.T) {
	snippet := readmeBlock(t, "### Try a signed request", "sh")
	if !strings.Contains(snippet, "jwt sign-request") {
		t.Fatal("the walkthrough does not use caddy jwt sign-request")
	}
	dial := exampleGateway(t)
	calls, want := runSnippet(t, snippet)
	if len(calls) < 2 {
		t.Fatalf("the walkthrough makes %d calls, want a signed one and a tampered one", len(calls))
	}
	for i, c := range calls {
		status, body := send(t, dial, c)
		if status != want[i] {
			t.Fatalf("README call %d (%s %s): status %d (%s), want %d", i+1, c.method, c.url, status, body, want[i])
		}
		if status == 401 && !strings.Contains(body, `"invalid_token"`) {
			t.Errorf("README call %d: 401 body %s, want invalid_token", i+1, body)
		}
	}
}

// The jwt provider's JSON example in the README loads as written (from the repository root) and
// answers as the README says: Caddy's 401 without a body, with the RFC 6750 challenge.
func TestReadmeProviderJSONExampleLoads(t *testing.T) {
	example := readmeBlock(t, "### The jwt authentication provider (JSON)", "json")
	var cfg map[string]any
	if err := json.Unmarshal([]byte(example), &cfg); err != nil {
		t.Fatalf("the README's JSON example is not JSON: %v", err)
	}
	port := freePort(t)
	text := strings.ReplaceAll(example, "127.0.0.1:8085", fmt.Sprintf("127.0.0.1:%d", port))
	text = strings.ReplaceAll(text, `"examples/`, `"`+filepath.Join(repoRoot(t), "examples")+"/")
	if err := json.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["admin"] = map[string]any{"disabled": true, "config": map[string]any{"persist": false}}
	cfg["logging"] = map[string]any{"logs": map[string]any{"default": map[string]any{"level": "ERROR"}}}
	cfgJSON, _ := json.Marshal(cfg)
	if err := loadCaddy(cfgJSON); err != nil {
		t.Fatalf("the README's provider example does not load: %v", err)
	}
	t.Cleanup(func() { stopCaddy(t) })
	g := &gateway{t: t, Port: port, URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	g.waitListening()

	key := filepath.Join(repoRoot(t), "examples", "demo-key.pem")
	tok := runJWT(t, "mint", "--key", key, "--iss", "https://issuer.demo.obgate", "--aud", "demo-api", "--sub", "alice")
	if res := g.do("GET", "/", nil, "Authorization", "Bearer "+tok); res.Status != 200 || res.Body != "hello alice\n" {
		t.Fatalf("valid token: %d %q, want 200 hello alice", res.Status, res.Body)
	}
	other := runJWT(t, "mint", "--key", key, "--iss", "https://issuer.demo.obgate", "--aud", "other-api", "--sub", "alice")
	for _, tc := range []struct {
		name, auth, challenge string
	}{
		{"no token", "", `Bearer realm="demo"`},
		{"wrong audience", "Bearer " + other, `error="invalid_token"`},
	} {
		res := g.do("GET", "/", nil, "Authorization", tc.auth)
		if res.Status != 401 || res.Body != "" {
			t.Errorf("%s: %d %q, want Caddy's 401 without a body", tc.name, res.Status, res.Body)
		}
		if ch := res.Header.Get("WWW-Authenticate"); !strings.Contains(ch, tc.challenge) {
			t.Errorf("%s: WWW-Authenticate %q, want it to contain %s", tc.name, ch, tc.challenge)
		}
	}
}

// Caddyfile.example is `caddy fmt` clean: the formatter leaves it byte for byte as it is.
func TestExampleCaddyfileIsFormatted(t *testing.T) {
	data, err := os.ReadFile("../Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	if got := caddyfile.Format(data); !bytes.Equal(got, data) {
		t.Errorf("caddy fmt changes Caddyfile.example; run: go run ./cmd/caddy fmt --overwrite Caddyfile.example\n%s", got)
	}
}

// The README's word on the provider when keys are unavailable: Caddy's 401 (the provider reports
// a technical error), without Retry-After and without a body, and nothing reaches the handler.
func TestProviderWithUnavailableKeysAnswersCaddys401(t *testing.T) {
	be := newBackend(t)
	port, closed := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`{
	"admin": {"disabled": true, "config": {"persist": false}},
	"logging": {"logs": {"default": {"level": "FATAL"}}},
	"apps": {"http": {"servers": {"s": {
		"listen": ["127.0.0.1:%d"],
		"automatic_https": {"disable": true},
		"routes": [{"handle": [
			{"handler": "authentication", "providers": {"jwt": {
				"issuers": [{"issuer": "https://issuer.demo.obgate", "jwks_url": "https://127.0.0.1:%d/jwks"}],
				"audience": ["demo-api"]
			}}},
			{"handler": "reverse_proxy", "upstreams": [{"dial": %q}]}
		]}]
	}}}}
}`, port, closed, be.Addr())
	if err := loadCaddy([]byte(cfg)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopCaddy(t) })
	g := &gateway{t: t, Port: port, URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	g.waitListening()
	tok := runJWT(t, "mint", "--key", filepath.Join(repoRoot(t), "examples", "demo-key.pem"),
		"--iss", "https://issuer.demo.obgate", "--aud", "demo-api", "--sub", "alice")
	res := g.do("GET", "/", nil, "Authorization", "Bearer "+tok)
	if res.Status != 401 || res.Body != "" || res.Header.Get("Retry-After") != "" {
		t.Fatalf("keys unavailable: %d %q Retry-After %q, want Caddy's 401 without a body or Retry-After",
			res.Status, res.Body, res.Header.Get("Retry-After"))
	}
	if ch := res.Header.Get("WWW-Authenticate"); ch != "" {
		// An invalid token gets a challenge; the technical-error path sets none.
		t.Errorf("keys unavailable: WWW-Authenticate %q, want none", ch)
	}
	if n := len(be.Requests()); n != 0 {
		t.Errorf("backend received %d requests, want none", n)
	}
}
