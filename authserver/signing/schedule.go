package signing

import (
	"errors"
	"slices"
	"time"
)

// schedule is the rotation policy applied to a key set.
type schedule struct {
	algorithm        string
	rsaBits          int
	rotateEvery      time.Duration
	publishLead      time.Duration
	maxTokenLifetime time.Duration
}

// signingAt returns the key that signs at now: of the keys whose activeFrom has come, the one that
// came last. The first key of a set has no activeFrom and signs from the start.
func signingAt(ks []*signingKey, now time.Time) *signingKey {
	var cur *signingKey
	for _, k := range ks {
		if k.activeFrom.After(now) {
			continue
		}
		if cur == nil || k.activeFrom.After(cur.activeFrom) {
			cur = k
		}
	}
	return cur
}

// pending returns a key that is published but does not sign yet, if any.
func pending(ks []*signingKey, now time.Time) *signingKey {
	for _, k := range ks {
		if k.activeFrom.After(now) {
			return k
		}
	}
	return nil
}

// plan applies the schedule at now: it drops keys whose removal time has come, creates the first
// key of an empty set, and plans the successor of the signing key when its time is near (or at
// once with force, or when the configured algorithm changed). It returns the new set and whether
// anything changed; ks itself is never modified. gen makes new keys (generate, or placeholder to
// learn whether a change is due without the cost of making a key).
func (s schedule) plan(ks []*signingKey, now time.Time, force bool, gen keyMaker) ([]*signingKey, bool, error) {
	out := slices.DeleteFunc(slices.Clone(ks), func(k *signingKey) bool {
		return !k.removeAt.IsZero() && !now.Before(k.removeAt)
	})
	changed := len(out) != len(ks)
	cur := signingAt(out, now)
	if cur == nil {
		if len(out) > 0 {
			// Only future keys: a clock far behind the instance that wrote them. Signing with a
			// key before its time would break verifiers that have not seen it yet.
			return out, changed, errors.New("no key of the set may sign yet (is this clock behind?)")
		}
		first, err := gen(s.algorithm, s.rsaBits, now)
		if err != nil {
			return nil, false, err
		}
		return []*signingKey{first}, true, nil
	}
	if pending(out, now) != nil {
		return out, changed, nil
	}
	start := cur.activeFrom
	if start.IsZero() {
		start = cur.created
	}
	due := start.Add(s.rotateEvery) // when cur's regular term ends
	soonest := now.Add(s.publishLead)
	var activeFrom time.Time
	switch {
	case force || cur.alg != s.algorithm:
		activeFrom = soonest
	case now.Before(due.Add(-s.publishLead)):
		return out, changed, nil // not time to publish the successor yet
	default:
		activeFrom = due
		if activeFrom.Before(soonest) {
			activeFrom = soonest // late (an instance was down): publish first, sign later
		}
	}
	next, err := gen(s.algorithm, s.rsaBits, now)
	if err != nil {
		return nil, false, err
	}
	next.activeFrom = activeFrom
	retired := *cur
	retired.retireAt = activeFrom
	// A token the retired key signed just before activeFrom lives at most maxTokenLifetime
	// (Mint enforces it); RemovalMargin covers verifiers' leeway and clock differences.
	retired.removeAt = activeFrom.Add(s.maxTokenLifetime + RemovalMargin)
	for i, k := range out {
		if k == cur {
			out[i] = &retired
		}
	}
	return append(out, next), true, nil
}

// keyMaker makes a new key for a schedule change.
type keyMaker func(alg string, rsaBits int, now time.Time) (*signingKey, error)

// placeholder stands in for generateKey when only the question "is a change due?" is asked.
func placeholder(alg string, _ int, now time.Time) (*signingKey, error) {
	return &signingKey{alg: alg, created: now}, nil
}
