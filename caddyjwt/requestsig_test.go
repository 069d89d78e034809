package caddyjwt

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/jwttest"
)

// trickle is a body that sends a few bytes and then ends, while the request announced many more.
type trickle struct{ sent bool }

func (t *trickle) Read(p []byte) (int, error) {
	if t.sent {
		return 0, io.ErrUnexpectedEOF
	}
	t.sent = true
	return copy(p, "0123456789"), nil
}

func (t *trickle) Close() error { return nil }

// A client that announces a large Content-Length and sends a few bytes must not make the gateway
// hold memory for the announced size: memory follows the bytes that arrive.
func TestReadBodyMemoryFollowsTheBytesThatArrive(t *testing.T) {
	const announced = 64 << 20
	r := httptest.NewRequest("POST", "/", nil)
	r.Body, r.ContentLength = &trickle{}, announced
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := readBody(r, 1<<30)
	runtime.ReadMemStats(&after)
	if verify.ReasonOf(err) != verify.ReasonMalformed {
		t.Fatalf("short body: reason %v (%v), want malformed", verify.ReasonOf(err), err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Errorf("reading 10 of %d announced bytes allocated %d bytes", announced, got)
	}
}

// The body is handed on byte for byte whatever its size and framing, and a body of exactly
// max_body bytes is accepted while one more byte is refused.
func TestReadBodyHandsOnTheSameBytes(t *testing.T) {
	const limit = 300 << 10
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		want    verify.Reason
	}{
		{"small body with length", 10, false, 0},
		{"body larger than one read buffer", 200 << 10, false, 0},
		{"body of exactly the limit", limit, false, 0},
		{"chunked body of exactly the limit", limit, true, 0},
		{"chunked body over the limit", limit + 1, true, verify.ReasonBodyTooLarge},
		{"empty body with length", 0, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("0123456789abcdef"), tc.size/16+1)[:tc.size]
			r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
			if tc.chunked {
				r.Body, r.ContentLength = io.NopCloser(iotestHalfReader{bytes.NewReader(body)}), -1
			}
			got, err := readBody(r, limit)
			if tc.want != 0 {
				if verify.ReasonOf(err) != tc.want {
					t.Fatalf("reason %v (%v), want %v", verify.ReasonOf(err), err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			handedOn, _ := io.ReadAll(r.Body)
			if !bytes.Equal(got, body) || !bytes.Equal(handedOn, body) || r.ContentLength != int64(tc.size) {
				t.Errorf("read %d bytes, handed on %d (Content-Length %d), want %d", len(got), len(handedOn), r.ContentLength, tc.size)
			}
		})
	}
}

// iotestHalfReader reads at most half of what is asked, as a network connection may.
type iotestHalfReader struct{ r io.Reader }

func (h iotestHalfReader) Read(p []byte) (int, error) { return h.r.Read(p[:(len(p)+1)/2]) }

// With path_form escaped the JWS names the path exactly as it was sent, including characters that
// Go would escape when re-encoding the path ({, }, raw UTF-8).
func TestRequestSignatureEscapedPathIsThePathAsSent(t *testing.T) {
	s := jwttest.NewEC(t, "ES256")
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	h := &RequestSignature{Keys: []KeyFile{{Path: s.PublicPEM(t, t.TempDir())}}, Profile: "tokenio", PathForm: "escaped"}
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Cleanup() }()
	for _, tc := range []struct {
		name, sent, signed string
		want               int
	}{
		{"braces as sent", "/files/{id}", "/files/{id}", http.StatusOK},
		{"braces re-encoded by the gateway do not match", "/files/{id}", "/files/%7Bid%7D", http.StatusUnauthorized},
		{"raw UTF-8 as sent", "/caf\xc3\xa9", "/caf\xc3\xa9", http.StatusOK},
		{"percent-encoded as sent", "/caf%C3%A9", "/caf%C3%A9", http.StatusOK},
		{"lower-case escapes as sent", "/a%2fb", "/a%2fb", http.StatusOK},
		{"decoded form does not match an escaped path", "/a%2Fb", "/a/b", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr, _ := json.Marshal(map[string]any{
				"alg": "ES256", "kid": s.KID, "exp": time.Now().Add(time.Minute).UnixMilli(),
				"method": "GET", "host": "api.bank.example", "path": tc.signed,
			})
			parts := strings.Split(s.SignRaw(t, hdr, nil), ".")
			r := httptest.NewRequest("GET", "https://api.bank.example"+tc.sent, nil)
			r.Header.Set("Authorization", "Bearer "+parts[0]+".."+parts[2])
			orig := *r.URL
			rctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
			rctx = context.WithValue(rctx, caddyhttp.OriginalRequestCtxKey, http.Request{Method: r.Method, URL: &orig})
			r = r.WithContext(rctx)
			w := httptest.NewRecorder()
			reached := false
			next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { reached = true; return nil })
			if err := h.ServeHTTP(w, r, next); err != nil {
				t.Fatal(err)
			}
			if reached {
				w.Code = http.StatusOK
			}
			if w.Code != tc.want {
				t.Errorf("status %d (%s), want %d", w.Code, w.Body, tc.want)
			}
		})
	}
}

// countingBody is a request body that counts the bytes it hands out.
type countingBody struct {
	r    io.Reader
	read int
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

func (c *countingBody) Close() error { return nil }

// Issue 10 item 8: what the JWS header alone can refuse is refused before the body is read, so a
// garbage signature never makes the gateway buffer up to max_body.
func TestRequestSignatureRefusesOnTheHeaderBeforeReadingTheBody(t *testing.T) {
	s := jwttest.NewEC(t, "ES256")
	other := jwttest.NewEC(t, "ES256")
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	// The key has a kid of its own, so a token naming another kid has no key (INTERFACE.md Wave 2).
	h := &RequestSignature{Keys: []KeyFile{{Path: s.PublicPEM(t, t.TempDir()), KeyID: s.KID}}, Profile: "tokenio", Algorithms: []string{"ES256"}}
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Cleanup() }()
	body := bytes.Repeat([]byte("x"), DefaultMaxBody)
	header := func(kv ...any) map[string]any {
		m := map[string]any{
			"alg": "ES256", "kid": s.KID, "exp": time.Now().Add(time.Minute).UnixMilli(),
			"method": "POST", "host": "api.bank.example", "path": "/pay",
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	sign := func(signer *jwttest.Signer, m map[string]any, payload []byte) string {
		hdr, _ := json.Marshal(m)
		parts := strings.Split(signer.SignRaw(t, hdr, payload), ".")
		return parts[0] + ".." + parts[2]
	}
	for _, tc := range []struct {
		name      string
		sig       string
		wantRead  bool
		wantCode  int
		wantError string
	}{
		{"garbage signature", "not-a-jws", false, 401, "invalid_token"},
		{"three garbage segments", "e30.e30.e30", false, 401, "invalid_token"},
		{"alg none", jwttest.Encode([]byte(`{"alg":"none","kid":"x"}`)) + "..c2ln", false, 401, "invalid_token"},
		{"algorithm outside the allowlist", sign(s, header("alg", "ES384"), body), false, 401, "invalid_token"},
		{"unknown kid", sign(other, header("kid", "nobody"), body), false, 401, "invalid_token"},
		{"expired", sign(s, header("exp", time.Now().Add(-time.Hour).UnixMilli()), body), false, 401, "invalid_token"},
		{"another method", sign(s, header("method", "GET"), body), false, 401, "invalid_token"},
		{"another host", sign(s, header("host", "evil.example"), body), false, 401, "invalid_token"},
		{"another path", sign(s, header("path", "/other"), body), false, 401, "invalid_token"},
		{"a query the request lacks", sign(s, header("query", "a=1"), body), false, 401, "invalid_token"},
		{"a fitting header signed by another key is read, then refused", sign(other, header(), body), true, 401, "invalid_token"},
		{"a fitting header over another body is read, then refused", sign(s, header(), []byte("other")), true, 401, "invalid_token"},
		{"a valid signature is read and passes", sign(s, header(), body), true, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cb := &countingBody{r: bytes.NewReader(body)}
			r := httptest.NewRequest("POST", "https://api.bank.example/pay", nil)
			r.Body, r.ContentLength = cb, int64(len(body))
			r.Header.Set("Authorization", "Bearer "+tc.sig)
			rctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
			r = r.WithContext(rctx)
			w := httptest.NewRecorder()
			reached := false
			next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { reached = true; return nil })
			if err := h.ServeHTTP(w, r, next); err != nil {
				t.Fatal(err)
			}
			if reached {
				w.Code = http.StatusOK
			}
			if w.Code != tc.wantCode {
				t.Fatalf("status %d (%s), want %d", w.Code, w.Body, tc.wantCode)
			}
			if tc.wantError != "" && !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="`+tc.wantError+`"`) {
				t.Errorf("WWW-Authenticate = %q, want error=%q", w.Header().Get("WWW-Authenticate"), tc.wantError)
			}
			if got := cb.read > 0; got != tc.wantRead {
				t.Errorf("body bytes read = %d, want read = %v", cb.read, tc.wantRead)
			}
			if closes := w.Header().Get("Connection") == "close"; closes != !tc.wantRead {
				t.Errorf("Connection: close = %v, want %v (refused with the body unread)", closes, !tc.wantRead)
			}
		})
	}
}
