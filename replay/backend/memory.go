package backend

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Memory is an in-process Store bounded to a number of live values. When it holds that many live
// values it refuses the next one with ErrFull instead of forgetting one: a client that floods the
// store gets its own requests refused, and a captured value is never accepted again while it is
// live. Expired values are reclaimed as time passes. It is safe for concurrent use.
//
// One Memory is one scope: give each handler (or tenant) its own, so that filling one never
// refuses another's values.
type Memory struct {
	mu      sync.Mutex
	max     int
	clock   func() time.Time
	entries map[[32]byte]time.Time
	byTime  expiryHeap // the same entries, by expiry; each entry is in both exactly once
}

// NewMemory returns a Memory store holding at most maxEntries live values (DefaultMaxEntries when
// not positive). clock may be nil for time.Now.
func NewMemory(maxEntries int, clock func() time.Time) *Memory {
	if clock == nil {
		clock = time.Now
	}
	m := &Memory{clock: clock, entries: make(map[[32]byte]time.Time)}
	m.SetMax(maxEntries)
	return m
}

// SetMax changes the bound (DefaultMaxEntries when not positive). Values already held stay
// remembered even when there are more of them than the new bound: the store then refuses new
// values until enough have expired.
func (m *Memory) SetMax(maxEntries int) {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	m.mu.Lock()
	m.max = maxEntries
	m.mu.Unlock()
}

// Claim implements Store.
func (m *Memory) Claim(_ context.Context, id [32]byte, until time.Time) error {
	now := m.clock()
	if _, err := Lifetime(now, until); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(now)
	if _, ok := m.entries[id]; ok { // every entry left after expire is live
		return ErrReplayed
	}
	if len(m.entries) >= m.max {
		return &fullError{retry: m.byTime[0].until.Sub(now)}
	}
	m.entries[id] = until
	heap.Push(&m.byTime, expiryEntry{id: id, until: until})
	return nil
}

// Len is the number of live values.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(m.clock())
	return len(m.entries)
}

// expire drops the entries whose time has come. Each entry is popped once, so the work is bounded
// by the number of entries ever added.
func (m *Memory) expire(now time.Time) {
	for m.byTime.Len() > 0 && !now.Before(m.byTime[0].until) {
		e := heap.Pop(&m.byTime).(expiryEntry)
		delete(m.entries, e.id)
	}
}

type expiryEntry struct {
	id    [32]byte
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
