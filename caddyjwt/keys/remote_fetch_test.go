package keys_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/internal/jwttest"
)

// loopbackHTTP allows plain http to 127.0.0.1 only, as a test opt-in.
func loopbackHTTP(u *url.URL) bool { return u.Hostname() == "127.0.0.1" }

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gzipBomb is 10 MiB of spaces, gzipped (about 10 KiB), made once.
var gzipBomb = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(bytes.Repeat([]byte(" "), 10<<20))
	_ = zw.Close()
	return buf.Bytes()
})

// faultServer is a loopback JWKS server with one path per fault mode.
func faultServer(t *testing.T, jwks []byte) (srv, other *httptest.Server) {
	t.Helper()
	other = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(other.Close)
	big := bytes.Repeat([]byte(" "), 10<<20)
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=600")
		_, _ = w.Write(jwks)
	})
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "oops", 500) })
	mux.HandleFunc("/404", http.NotFound)
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"keys\":["))
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST
		}
		conn.Close()
	})
	mux.HandleFunc("/invalid", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys": [`))
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[]}`))
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(big) // chunked: no Content-Length
	})
	mux.HandleFunc("/huge-declared", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "10485760")
		_, _ = w.Write(big)
	})
	mux.HandleFunc("/drip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		rc := http.NewResponseController(w)
		for range 1000 { // bounded: 10 s at most
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			_ = rc.Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	mux.HandleFunc("/redirect-other", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/keys", http.StatusFound)
	})
	mux.HandleFunc("/redirect-same", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/redirect-loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/redirect-loop", http.StatusFound)
	})
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(gzipped(t, jwks))
	})
	bomb := gzipBomb()
	mux.HandleFunc("/gzip-bomb", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(bomb)
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(jwks)
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(jwks)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, other
}

func TestRemoteFetchFaultModes(t *testing.T) {
	ks := signers(t, 1)
	srv, _ := faultServer(t, jwttest.JWKS(t, ks...))
	closed := httptest.NewServer(http.NotFoundHandler())
	refusedURL := closed.URL + "/jwks"
	closed.Close()
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()

	for _, tc := range []struct {
		name     string
		url      string
		result   keys.FetchResult
		lifetime time.Duration
		status   int // FetchError.Status
	}{
		{"200 with a JWK Set is fetched with its max-age", srv.URL + "/ok", keys.FetchOK, 600 * time.Second, 0},
		{"500 fails", srv.URL + "/500", keys.FetchHTTPStatus, 0, 500},
		{"404 fails", srv.URL + "/404", keys.FetchHTTPStatus, 0, 404},
		{"a server that never answers times out", srv.URL + "/hang", keys.FetchTimeout, 0, 0},
		{"connection refused fails", refusedURL, keys.FetchNetwork, 0, 0},
		{"connection reset mid-body fails", srv.URL + "/reset", keys.FetchNetwork, 0, 0},
		{"invalid JSON fails", srv.URL + "/invalid", keys.FetchInvalid, 0, 0},
		{"an empty key set fails", srv.URL + "/empty", keys.FetchNoUsableKeys, 0, 0},
		{"a 10 MiB body is cut at 1 MiB", srv.URL + "/huge", keys.FetchTooLarge, 0, 0},
		{"a declared 10 MiB body is refused unread", srv.URL + "/huge-declared", keys.FetchTooLarge, 0, 0},
		{"a slow drip times out", srv.URL + "/drip", keys.FetchTimeout, 0, 0},
		{"a redirect to another host is refused", srv.URL + "/redirect-other", keys.FetchRefused, 0, 0},
		{"a redirect on the same host is followed", srv.URL + "/redirect-same", keys.FetchOK, 600 * time.Second, 0},
		{"a redirect loop is cut", srv.URL + "/redirect-loop", keys.FetchRefused, 0, 0},
		{"a gzip body is decompressed", srv.URL + "/gzip", keys.FetchOK, 0, 0},
		{"a gzip bomb is cut at 1 MiB decompressed", srv.URL + "/gzip-bomb", keys.FetchTooLarge, 0, 0},
		{"text/html is refused", srv.URL + "/html", keys.FetchInvalid, 0, 0},
		{"text/plain with a JWK Set is accepted", srv.URL + "/text", keys.FetchOK, 0, 0},
		{"an untrusted certificate fails", tlsSrv.URL + "/jwks", keys.FetchNetwork, 0, 0},
	} {
		// Each case runs through a Remote's refresh and through the exported one-shot fetcher,
		// which must apply exactly the same rules.
		for _, path := range []string{"remote", "one-shot"} {
			t.Run(tc.name+"/"+path, func(t *testing.T) {
				// The fetcher's own timeout is what the hang and drip cases must hit; the context
				// only bounds the test, generously, so that a loaded machine cannot change the result.
				opts := keys.RemoteOptions{AllowHTTP: loopbackHTTP, FetchTimeout: time.Second}
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				defer cancel()
				var (
					got      []keys.Key
					lifetime time.Duration
					err      error
				)
				if path == "remote" {
					r, nerr := keys.NewRemote(tc.url, opts)
					if nerr != nil {
						t.Fatal(nerr)
					}
					defer r.Close()
					got, lifetime, err = r.FetchOnce(ctx)
				} else {
					f := keys.NewHTTPFetcher(opts)
					defer f.CloseIdleConnections()
					got, _, lifetime, err = keys.FetchJWKS(ctx, f, tc.url)
				}
				if res := keys.ResultOf(err); res != tc.result {
					t.Fatalf("fetch result = %v (err %v), want %v", res, err, tc.result)
				}
				if tc.result != keys.FetchOK {
					fe, ok := errors.AsType[*keys.FetchError](err)
					if !ok || fe.URL == "" {
						t.Fatalf("error = %#v, want a *FetchError naming the URL", err)
					}
					if fe.Status != tc.status {
						t.Errorf("FetchError.Status = %d, want %d", fe.Status, tc.status)
					}
					return
				}
				if len(got) != 1 || got[0].ID != "key-0" || lifetime != tc.lifetime {
					t.Errorf("fetch = %d keys, lifetime %v; want key-0, %v", len(got), lifetime, tc.lifetime)
				}
			})
		}
	}
}

func TestRemoteRefusesPlainHTTPWithoutOptIn(t *testing.T) {
	srv, _ := faultServer(t, []byte(`{"keys":[]}`))
	if _, err := keys.NewRemote(srv.URL+"/ok", keys.RemoteOptions{}); err == nil || !strings.Contains(err.Error(), "http") {
		t.Fatalf("NewRemote(http URL) error = %v, want plain http refused", err)
	}
	only := func(u *url.URL) bool { return u.Port() == "1" }
	if _, err := keys.NewRemote(srv.URL+"/ok", keys.RemoteOptions{AllowHTTP: only}); err == nil {
		t.Fatal("NewRemote() allowed http for a URL the opt-in does not name")
	}
}

func TestCacheLifetime(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	date := now.Format(http.TimeFormat)
	for _, tc := range []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"nothing", http.Header{}, 0},
		{"max-age", http.Header{"Cache-Control": {"public, max-age=3600"}}, time.Hour},
		{"max-age minus Age", http.Header{"Cache-Control": {"max-age=3600"}, "Age": {"600"}}, 50 * time.Minute},
		{"Age beyond max-age", http.Header{"Cache-Control": {"max-age=60"}, "Age": {"600"}}, 0},
		{"quoted max-age", http.Header{"Cache-Control": {`max-age="120"`}}, 2 * time.Minute},
		{"invalid max-age", http.Header{"Cache-Control": {"max-age=soon"}}, 0},
		{"no-store wins", http.Header{"Cache-Control": {"max-age=3600, no-store"}}, 0},
		{"no-cache wins", http.Header{"Cache-Control": {"no-cache", "max-age=3600"}}, 0},
		{"max-age wins over Expires", http.Header{"Cache-Control": {"max-age=60"}, "Expires": {now.Add(time.Hour).Format(http.TimeFormat)}}, time.Minute},
		{"Expires minus Date", http.Header{"Date": {date}, "Expires": {now.Add(2 * time.Hour).Format(http.TimeFormat)}}, 2 * time.Hour},
		{"Expires without Date", http.Header{"Expires": {now.Add(time.Hour).Format(http.TimeFormat)}}, time.Hour},
		{"Expires in the past", http.Header{"Expires": {now.Add(-time.Hour).Format(http.TimeFormat)}}, 0},
		{"invalid Expires", http.Header{"Expires": {"0"}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := keys.CacheLifetime(tc.header, now); got != tc.want {
				t.Errorf("cacheLifetime(%v) = %v, want %v", tc.header, got, tc.want)
			}
		})
	}
}
