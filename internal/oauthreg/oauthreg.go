// Package oauthreg is the in-process meeting point of the authorization-server handlers of one
// Caddy process: a dcr handler publishes its registrations as token-endpoint clients under its
// `name`, and a token_endpoint publishes itself under its name, so that a token_endpoint can
// take a dcr handler's clients (`clients <dcr-name>`) and a dcr handler or oauth_metadata can
// reach a token endpoint (`token_endpoint <name>`, `from <name>`) without importing each other.
//
// Publications are stacked per name: while Caddy loads a new config, the new handlers publish
// before the old ones are cleaned up, and a config that fails to load withdraws only its own, so
// the running config keeps answering. The package has no Caddy imports.
package oauthreg

import (
	"net/http"
	"sync"

	"github.com/obgate/obgate/authserver/grant"
)

// Endpoint is what a token endpoint offers the other handlers.
type Endpoint interface {
	// VerifyAccessToken checks an access token this endpoint issued: signature with the endpoint's
	// signer keys, iss, aud, exp, and the certificate binding (cnf.x5t#S256, RFC 8705 §3) against
	// r's client certificate. It returns the token's client_id.
	VerifyAccessToken(r *http.Request, token string) (clientID string, err error)
	// Info describes the endpoint for discovery (RFC 8414 §2).
	Info() EndpointInfo
}

// EndpointInfo is what oauth_metadata derives from a token endpoint (RFC 8414 §2).
type EndpointInfo struct {
	// Issuer is the iss of the endpoint's tokens.
	Issuer string
	// GrantTypes are the supported grant types.
	GrantTypes []string
	// AuthMethods are the client authentication methods the endpoint's clients use.
	AuthMethods []string
	// AuthSigningAlgorithms are the JWS algorithms accepted for client assertions.
	AuthSigningAlgorithms []string
	// CertificateBoundTokens reports RFC 8705 §3 bound tokens (tls_client_certificate_bound_access_tokens).
	CertificateBoundTokens bool
}

// stack is the publications under one name, the latest last.
type stack[T any] struct {
	mu    sync.RWMutex
	items map[string][]*publication[T]
}

type publication[T any] struct{ value T }

func (s *stack[T]) publish(name string, v T) func() {
	p := &publication[T]{value: v}
	s.mu.Lock()
	if s.items == nil {
		s.items = make(map[string][]*publication[T])
	}
	s.items[name] = append(s.items[name], p)
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			list := s.items[name]
			for i, q := range list {
				if q == p {
					list = append(list[:i:i], list[i+1:]...)
					break
				}
			}
			if len(list) == 0 {
				delete(s.items, name)
			} else {
				s.items[name] = list
			}
		})
	}
}

func (s *stack[T]) lookup(name string) (T, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := s.items[name]
	if len(list) == 0 {
		var zero T
		return zero, false
	}
	return list[len(list)-1].value, true
}

var (
	clients   stack[grant.Clients]
	endpoints stack[Endpoint]
)

// PublishClients makes a dcr handler's clients available under its name; the returned func
// withdraws this publication (call it from Cleanup; calling it again does nothing).
func PublishClients(name string, c grant.Clients) (withdraw func()) { return clients.publish(name, c) }

// Clients returns the clients published under the dcr name.
func Clients(name string) (grant.Clients, bool) { return clients.lookup(name) }

// PublishEndpoint makes a token endpoint available under its name; the returned func withdraws it.
func PublishEndpoint(name string, e Endpoint) (withdraw func()) { return endpoints.publish(name, e) }

// LookupEndpoint returns the token endpoint published under the name.
func LookupEndpoint(name string) (Endpoint, bool) { return endpoints.lookup(name) }
