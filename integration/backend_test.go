package integration

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// recordedRequest is what the backend received.
type recordedRequest struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// Trailer holds the request trailers that arrived after the body.
	Trailer http.Header
	// ContentLength and TransferEncoding are the framing the request arrived with.
	ContentLength    int64
	TransferEncoding []string
}

// backend is a loopback upstream that records every request it receives and answers 200.
type backend struct {
	*httptest.Server
	mu       sync.Mutex
	received []recordedRequest
}

func newBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.received = append(b.received, recordedRequest{
			Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body,
			Trailer: r.Trailer.Clone(), ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding,
		})
		b.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "backend ok")
	}))
	t.Cleanup(b.Close)
	return b
}

// Requests returns a copy of what the backend has received.
func (b *backend) Requests() []recordedRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]recordedRequest(nil), b.received...)
}

// Addr is the backend's host:port for reverse_proxy.
func (b *backend) Addr() string { return b.Listener.Addr().String() }
