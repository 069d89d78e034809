// Package redistest starts real redis-server processes for tests: each on a free loopback port
// (and, under WithTLS, a second one with TLS), with no persistence, stopped by PID. A test that
// needs Redis fails (never skips) when redis-server is not installed; the repository's ./test
// script installs it.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Missing is the message of a test that needs redis-server where it is not installed.
const Missing = "redis-server is not installed (not found in PATH): run ./test at the repository root, " +
	"which installs the Debian package redis-server, or apt-get install -y redis-server"

// startTimeout bounds the wait for a started server to answer PING; stopTimeout the wait for it to
// exit after SIGTERM (then it is killed).
const (
	startTimeout = 10 * time.Second
	stopTimeout  = 5 * time.Second
)

// Server is one redis-server process on 127.0.0.1.
type Server struct {
	// Addr is host:port of the server's plain (non-TLS) port.
	Addr string

	// TLSAddr is host:port of its TLS port, under WithTLS; "" otherwise.
	TLSAddr string

	// CAFile is the PEM file of the CA that signed the TLS port's certificate, under WithTLS;
	// "" otherwise.
	CAFile string

	port     int
	tlsPort  int
	dir      string
	password string
	persist  bool
	tls      bool
	certFile string
	keyFile  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs *lockedWriter
}

// Option changes how the server runs.
type Option func(*Server)

// WithPassword makes the server require a password (requirepass).
func WithPassword(p string) Option { return func(s *Server) { s.password = p } }

// WithPersistence makes the server write every change to an append-only file (appendfsync
// always) in its directory, so a Restart keeps the data set, as a production Redis should.
func WithPersistence() Option { return func(s *Server) { s.persist = true } }

// Start starts a redis-server for t and stops it when t ends. It fails t when redis-server is
// missing or does not start.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := StartProcess(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartProcess starts a redis-server whose working files go in dir (for TestMain, where there is
// no testing.TB); the caller stops it with Stop.
func StartProcess(dir string, opts ...Option) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, errors.New(Missing)
	}
	cfg := &Server{dir: dir}
	for _, o := range opts {
		o(cfg)
	}
	if cfg.tls {
		var err error
		if cfg.CAFile, cfg.certFile, cfg.keyFile, err = writeTLSFiles(dir); err != nil {
			return nil, err
		}
	}
	var last error
	for range 5 { // a free port can be taken between choosing and binding it: try another
		s := &Server{dir: dir, password: cfg.password, persist: cfg.persist, tls: cfg.tls,
			CAFile: cfg.CAFile, certFile: cfg.certFile, keyFile: cfg.keyFile}
		var err error
		if s.port, err = freePort(); err != nil {
			return nil, err
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
		if s.tls {
			if s.tlsPort, err = freePort(); err != nil {
				return nil, err
			}
			if s.tlsPort == s.port {
				continue
			}
			s.TLSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.tlsPort))
		}
		if last = s.start(); last == nil {
			return s, nil
		}
	}
	return nil, last
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs the server on s.port and waits until it answers PING.
func (s *Server) start() error {
	args := []string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning",
	}
	if s.password != "" {
		args = append(args, "--requirepass", s.password)
	}
	if s.persist {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	}
	if s.tls {
		args = append(args, "--tls-port", strconv.Itoa(s.tlsPort), "--tls-cert-file", s.certFile,
			"--tls-key-file", s.keyFile, "--tls-ca-cert-file", s.CAFile, "--tls-auth-clients", "no")
	}
	cmd := exec.Command("redis-server", args...)
	logs := new(lockedWriter)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done, s.logs = cmd, done, logs
	s.mu.Unlock()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("redis-server on port %d exited at start: %s", s.port, logs.String())
		default:
		}
		if reply, err := s.Do("PING"); err == nil && reply == "PONG" {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("redis-server on port %d did not answer PING within %v: %s", s.port, startTimeout, logs.String())
}

// PID is the process ID of the running server, 0 when stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop stops the server by its PID: SIGTERM, then SIGKILL when it has not exited within
// stopTimeout. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart starts the server again on the same addresses (after Stop), with the same certificates:
// with an empty data set, or with the data it had under WithPersistence.
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}

// Do sends one command and returns its reply: a simple string, an integer or a bulk string as
// text; a Redis error reply as an error; nil as "" with an error. Each call is a new connection.
func (s *Server) Do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var cmd strings.Builder
	send := func(args []string) {
		fmt.Fprintf(&cmd, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&cmd, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	if s.password != "" {
		send([]string{"AUTH", s.password})
	}
	send(args)
	if _, err := io.WriteString(c, cmd.String()); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	if s.password != "" {
		if _, err := readReply(r); err != nil {
			return "", fmt.Errorf("AUTH: %w", err)
		}
	}
	return readReply(r)
}

// readReply reads one RESP2 reply that is not an array.
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		if n < 0 {
			return "", errors.New("nil reply")
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unsupported reply %q", line)
}

// CommandCalls returns how many times the server ran each command since it started (INFO
// commandstats), by lower-case command name.
func (s *Server) CommandCalls() (map[string]int, error) {
	info, err := s.Do("INFO", "commandstats")
	if err != nil {
		return nil, err
	}
	calls := map[string]int{}
	for line := range strings.SplitSeq(info, "\n") {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, _ := strconv.Atoi(v)
				calls[name] = n
			}
		}
	}
	return calls, nil
}

// CPU returns the CPU time the server has used so far, user and system (INFO cpu), for
// benchmarks that count the server's share of a request.
func (s *Server) CPU() (time.Duration, error) {
	info, err := s.Do("INFO", "cpu")
	if err != nil {
		return 0, err
	}
	var total float64
	for line := range strings.SplitSeq(info, "\n") {
		name, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (name == "used_cpu_user" || name == "used_cpu_sys") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second)), nil
}

// Keys returns the number of keys in database 0 (DBSIZE).
func (s *Server) Keys() (int, error) {
	v, err := s.Do("DBSIZE")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(v)
}

// lockedWriter collects the server's stdout and stderr into one log.
type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
