package keys

// Set is an immutable collection of keys, looked up by key ID.
//
// The zero Set is empty and ready to use. Sets are shared between goroutines without locks:
// a source that changes its keys builds a new Set and swaps it in.
type Set struct {
	keys  []Key
	byID  map[string]int
	noKID []Key // the keys without a kid of their own, in order
}

// NewSet builds a Set. When two keys share an ID, the first one wins.
func NewSet(ks ...Key) *Set {
	s := &Set{keys: make([]Key, 0, len(ks)), byID: make(map[string]int, len(ks))}
	for _, k := range ks {
		if _, dup := s.byID[k.ID]; dup {
			continue
		}
		s.byID[k.ID] = len(s.keys)
		s.keys = append(s.keys, k)
		if k.NoKID {
			s.noKID = append(s.noKID, k)
		}
	}
	return s
}

// Lookup returns the key whose ID is kid: the key's own kid, or the thumbprint of a key without
// one. It is the exact match only; WithoutKID lists the keys that match any kid.
func (s *Set) Lookup(kid string) (Key, bool) {
	if s == nil {
		return Key{}, false
	}
	i, ok := s.byID[kid]
	if !ok {
		return Key{}, false
	}
	return s.keys[i], true
}

// WithoutKID returns the keys that have no kid of their own (Key.NoKID), in the order they were
// added: the keys that may verify a token whatever kid it names. The caller must not modify the
// slice.
func (s *Set) WithoutKID() []Key {
	if s == nil {
		return nil
	}
	return s.noKID
}

// Keys returns the keys in the order they were added. The caller must not modify the slice.
func (s *Set) Keys() []Key {
	if s == nil {
		return nil
	}
	return s.keys
}

// Len is the number of keys in the set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}
