package redistest_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/redistest"
)

// pingTLS sends PING over TLS to addr, verifying the server against the CA in caFile for
// serverName, and returns the reply line.
func pingTLS(t *testing.T, addr, caFile, serverName string) (string, error) {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12})
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "*1\r\n$4\r\nPING\r\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// TestWithTLS: the server answers on its TLS port with a certificate that the CA in CAFile
// verifies for 127.0.0.1 and for localhost, not for another name; the plain port keeps working
// (Do); after a Restart both ports work again with the same CA.
func TestWithTLS(t *testing.T) {
	srv := redistest.Start(t, redistest.WithTLS())
	if srv.TLSAddr == "" || srv.TLSAddr == srv.Addr || srv.CAFile == "" {
		t.Fatalf("TLSAddr %q, Addr %q, CAFile %q: want a second address and a CA file", srv.TLSAddr, srv.Addr, srv.CAFile)
	}
	check := func(when string) {
		t.Helper()
		for _, name := range []string{"127.0.0.1", "localhost"} {
			if reply, err := pingTLS(t, srv.TLSAddr, srv.CAFile, name); err != nil || reply != "+PONG" {
				t.Errorf("%s: PING over TLS as %s: %q, %v; want +PONG", when, name, reply, err)
			}
		}
		if reply, err := srv.Do("PING"); err != nil || reply != "PONG" {
			t.Errorf("%s: PING on the plain port: %q, %v; want PONG", when, reply, err)
		}
	}
	check("started")
	if _, err := pingTLS(t, srv.TLSAddr, srv.CAFile, "redis.example"); err == nil {
		t.Error("the server certificate verified for redis.example, want only 127.0.0.1 and localhost")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	check("restarted")
}

// TestWithoutTLS: a server started without WithTLS has no TLS address and no CA.
func TestWithoutTLS(t *testing.T) {
	srv := redistest.Start(t)
	if srv.TLSAddr != "" || srv.CAFile != "" {
		t.Fatalf("TLSAddr %q, CAFile %q without WithTLS, want both empty", srv.TLSAddr, srv.CAFile)
	}
}
