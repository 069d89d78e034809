package binding

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// ReplayCache remembers signed requests until they expire. A shared store (for a cluster of
// gateways) implements the same interface.
type ReplayCache interface {
	// Remember records id until the given time and reports whether id was already recorded and
	// not yet expired. An error means the cache cannot tell; the caller refuses the request.
	Remember(ctx context.Context, id [sha256.Size]byte, until time.Time) (seen bool, err error)
}

// DefaultReplayEntries bounds a Memory cache when no size is given.
const DefaultReplayEntries = 100_000

// Memory is an in-process ReplayCache bounded to a number of entries. Entries expire with the
// signature they record; when the cache is full, the entry closest to expiry is dropped first.
// It is safe for concurrent use.
type Memory struct {
	mu      sync.Mutex
	max     int
	clock   func() time.Time
	entries map[[sha256.Size]byte]time.Time
	byTime  expiryHeap
}

// NewMemory returns a Memory cache holding at most maxEntries (DefaultReplayEntries when not
// positive). clock may be nil for time.Now.
func NewMemory(maxEntries int, clock func() time.Time) *Memory {
	if maxEntries <= 0 {
		maxEntries = DefaultReplayEntries
	}
	if clock == nil {
		clock = time.Now
	}
	return &Memory{max: maxEntries, clock: clock, entries: make(map[[sha256.Size]byte]time.Time)}
}

// Remember implements ReplayCache; it never fails.
func (m *Memory) Remember(_ context.Context, id [sha256.Size]byte, until time.Time) (bool, error) {
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(now)
	if exp, ok := m.entries[id]; ok && now.Before(exp) {
		return true, nil
	}
	if !now.Before(until) {
		return false, nil // already expired: nothing to remember
	}
	if len(m.entries) >= m.max {
		// Full of live entries: forget the one that would expire first.
		oldest := heap.Pop(&m.byTime).(expiryEntry)
		delete(m.entries, oldest.id)
	}
	m.entries[id] = until
	heap.Push(&m.byTime, expiryEntry{id: id, until: until})
	return false, nil
}

// Len is the number of live entries.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(m.clock())
	return len(m.entries)
}

// expire drops entries whose time has come; each entry is popped once, so the work is bounded
// by the number of entries ever added.
func (m *Memory) expire(now time.Time) {
	for m.byTime.Len() > 0 && !now.Before(m.byTime[0].until) {
		e := heap.Pop(&m.byTime).(expiryEntry)
		delete(m.entries, e.id)
	}
}

type expiryEntry struct {
	id    [sha256.Size]byte
	until time.Time
}

// expiryHeap is a min-heap of entries by expiry (container/heap).
type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
