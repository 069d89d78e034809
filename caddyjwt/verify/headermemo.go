package verify

import (
	"sync"
	"sync/atomic"
)

// headerMemoSize bounds how many distinct JOSE headers a verifier remembers. An issuer's tokens
// carry the same header (alg, kid, typ) for as long as it signs with one key, so a few entries
// cover every issuer of a policy.
const headerMemoSize = 64

// headerMemo remembers the checked JOSE headers of tokens that verified, keyed by the header
// segment as sent, so that the next token with the same header skips its base64 and JSON
// decoding: readHeader is a function of those bytes alone, so its answer for them never changes.
// Only verified tokens add entries, so a client cannot fill it with headers of its own making.
// Readers take no lock: the map is replaced, never changed, when an entry is added.
type headerMemo struct {
	mu sync.Mutex // serialises writers
	m  atomic.Pointer[map[string]joseHeader]
}

// get returns the checked header for the segment seg, if remembered.
func (h *headerMemo) get(seg []byte) (joseHeader, bool) {
	m := h.m.Load()
	if m == nil {
		return joseHeader{}, false
	}
	jh, ok := (*m)[string(seg)]
	return jh, ok
}

// put remembers jh as the checked header of seg, dropping an arbitrary entry when full.
func (h *headerMemo) put(seg []byte, jh joseHeader) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.m.Load()
	next := make(map[string]joseHeader, headerMemoSize)
	if old != nil {
		if _, ok := (*old)[string(seg)]; ok {
			return
		}
		for k, v := range *old {
			if len(next) < headerMemoSize-1 {
				next[k] = v
			}
		}
	}
	next[string(seg)] = jh
	h.m.Store(&next)
}
