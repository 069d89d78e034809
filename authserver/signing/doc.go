// Package signing keeps the gateway's token signing keys: it generates them, stores them through a
// small Storage interface so that every instance on one storage signs with the same set, rotates
// them on a schedule, renders the public JWK Set and mints compact JWS tokens.
//
// Invariants:
//   - kid is the RFC 7638 SHA-256 thumbprint of the key (base64url, unpadded).
//   - A new key is in the published set for at least PublishLead (one JWKS max-age, plus one storage
//     refresh interval and a clock margin) before any instance signs with it, so a verifier that
//     cached the set never meets an unknown kid.
//   - A key that stopped signing stays published until every token it signed has expired: Mint refuses
//     an exp further ahead than MaxTokenLifetime, and a retired key is removed only MaxTokenLifetime
//     plus RemovalMargin after its successor took over.
//   - The switch from one key to the next is a time written in the stored set, not a message between
//     instances: every instance that holds the set switches at the same moment without coordination.
//   - Rotation changes the stored set only under the storage's lock, after reading it again, so two
//     instances never rotate at once.
//
// The package never imports Caddy and exports no jwx type.
package signing
