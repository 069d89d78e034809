package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/jwttest"
	"github.com/obgate/obgate/internal/redistest"
)

// redisTLSSite is a gateway whose request_signature replay check claims through a TLS Redis
// (replay_store redis with tls and the given extra subdirectives), with every log at DEBUG in
// debugLog.
func redisTLSSite(t *testing.T, be *backend, addr, storeExtra, pub, debugLog string) *gateway {
	t.Helper()
	return startGateway(t, fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %s
	log {
		output file %s
		level DEBUG
	}
	replay_store redis %s {
		password {env.OBGATE_TEST_REDIS_TLS_PASSWORD}
		tls
		timeout 300ms
		%s
	}
}
http://127.0.0.1:{PORT} {
	request_signature {
		key %s
		profile ob_jws
		version 3.1.3
		algorithms PS256
		replay
	}
	reverse_proxy %s
}
`, t.TempDir(), debugLog, addr, storeExtra, pub, be.Addr()))
}

// obJWSSignature is a detached OB JWS (b64 false) over body, fresh each call.
func obJWSSignature(t *testing.T, s *jwttest.Signer, body []byte) string {
	return rsSign(t, s, map[string]any{
		"kid": s.KID, "typ": "JOSE", "cty": "application/json", "b64": false,
		"http://openbanking.org.uk/iat": time.Now().Unix(),
		"http://openbanking.org.uk/iss": "0015800001041REAAY/tpp",
		"http://openbanking.org.uk/tan": "openbanking.org.uk",
		"crit":                          []string{"b64", "http://openbanking.org.uk/iat", "http://openbanking.org.uk/iss", "http://openbanking.org.uk/tan"},
	}, body, true)
}

// replay_store redis over TLS to a real redis-server whose certificate a private CA signed: with
// trusted_ca a signed request passes once and its replay is refused 401; trusting only the system
// roots, or verifying another server_name, every request is answered 503 with Retry-After, none
// reaches the backend, and the DEBUG log names the certificate problem (go-redis's line). The
// Redis password, given as {env.…}, is in no log line at DEBUG level.
func TestReplayStoreRedisTLS(t *testing.T) {
	const password = "redis-tls-secret-7f3a9c"
	t.Setenv("OBGATE_TEST_REDIS_TLS_PASSWORD", password)
	srv := redistest.Start(t, redistest.WithTLS(), redistest.WithPassword(password))
	dir := t.TempDir()
	s := jwttest.NewRSA(t, 2048, "PS256")
	pub := s.PublicPEM(t, dir)
	body := []byte(`{"Data": {"Initiation": {"InstructedAmount": {"Amount": "10.00"}}}}`)
	logDir := t.TempDir()
	var logs []string

	t.Run("trusted_ca: one claim, the replay refused", func(t *testing.T) {
		be := newBackend(t)
		debugLog := filepath.Join(logDir, "trusted.log")
		logs = append(logs, debugLog)
		g := redisTLSSite(t, be, srv.TLSAddr, "trusted_ca "+srv.CAFile, pub, debugLog)
		sig := obJWSSignature(t, s, body)
		if res := g.do("POST", "/pisp/domestic-payments", bytes.NewReader(body), "x-jws-signature", sig); res.Status != 200 {
			t.Fatalf("status = %d, want 200 (%s)", res.Status, res.Body)
		}
		res := g.do("POST", "/pisp/domestic-payments", bytes.NewReader(body), "x-jws-signature", sig)
		if res.Status != 401 || !strings.Contains(res.JSON(t)["error_description"], "already used") {
			t.Fatalf("replayed signature: status %d %s, want 401 already used", res.Status, res.Body)
		}
		if n := len(be.Requests()); n != 1 {
			t.Fatalf("backend got %d requests, want 1", n)
		}
	})

	for name, extra := range map[string]string{
		"system roots": "",
		"server_name the certificate does not hold": "trusted_ca " + srv.CAFile + "\n\t\tserver_name redis.example",
	} {
		t.Run(name+": 503, nothing reaches the backend", func(t *testing.T) {
			be := newBackend(t)
			debugLog := filepath.Join(logDir, fmt.Sprintf("failing-%d.log", len(logs)))
			logs = append(logs, debugLog)
			g := redisTLSSite(t, be, srv.TLSAddr, extra, pub, debugLog)
			for range 2 {
				res := g.do("POST", "/pisp/domestic-payments", bytes.NewReader(body), "x-jws-signature", obJWSSignature(t, s, body))
				if res.Status != 503 || res.Header.Get("Retry-After") == "" {
					t.Fatalf("status %d, Retry-After %q (%s); want 503 with Retry-After", res.Status, res.Header.Get("Retry-After"), res.Body)
				}
			}
			if n := len(be.Requests()); n != 0 {
				t.Fatalf("backend got %d requests, want none", n)
			}
			// go-redis gives up dialing in the background, after the claims have failed: wait
			// (bounded) for its line, which names the certificate problem for the operator.
			waitForLogLine(t, debugLog, "x509:")
		})
	}

	var all strings.Builder
	for _, f := range logs {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(data)
	}
	if strings.Contains(all.String(), password) {
		t.Errorf("the Redis password is in the logs:\n%s", all.String())
	}
}

// waitForLogLine waits, at most 10 s, until the log file holds a go-redis line that contains
// want.
func waitForLogLine(t *testing.T, file, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(file)
		for line := range strings.SplitSeq(string(data), "\n") {
			if strings.Contains(line, `"go-redis"`) && strings.Contains(line, want) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no go-redis line with %q in the DEBUG log within 10s:\n%s", want, data)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// `caddy validate` refuses TLS settings of replay_store redis that cannot work, naming the field
// (and the file), without connecting anywhere.
func TestReplayStoreRedisTLSConfigErrorsFailValidation(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing-ca.pem")
	pub := jwttest.NewEC(t, "ES256").PublicPEM(t, dir)
	for _, tc := range []struct {
		name, block string
		wantErr     []string
	}{
		{"trusted_ca without tls", "trusted_ca " + pub, []string{"trusted_ca", "tls"}},
		{"server_name without tls", "server_name redis.internal", []string{"server_name", "tls"}},
		{"missing trusted_ca file", "tls\n\t\ttrusted_ca " + missing, []string{"trusted_ca", missing, "no such file"}},
		{"trusted_ca file that holds a key", "tls\n\t\ttrusted_ca " + pub, []string{"trusted_ca", pub, "not a CERTIFICATE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateCaddyfile(t, fmt.Sprintf("{\n\tadmin off\n\treplay_store redis 127.0.0.1:6380 {\n\t\t%s\n\t}\n}\n:0 {\n\trespond ok\n}\n", tc.block))
			if err == nil {
				t.Fatal("validation passed, want an error")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}
