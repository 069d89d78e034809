package ecverify

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"filippo.io/nistec"
)

// MaxTables bounds how many keys of the process hold a precomputed table at a time (about
// tableBytes each: 64 tables are some 8.3 MB). A key in use beyond it verifies on the plain path,
// and gets a table once the place of a collected key is free.
const MaxTables = 64

// buildAfter is the number of verifications a key makes on the plain path before it builds its
// table: a key used once (a key among thousands, a one-off) never pays for one.
const buildAfter = 1

// Signed fixed windows of windowBits bits (table.mul): u2 = Σ dᵢ·2^(windowBits·i) with
// -half ≤ dᵢ ≤ half, so that each window needs the multiples 1..half of its power of two, the
// negative ones being their negations. 6 bits (43 additions, a table of 129 KiB) measured 11%
// faster per verification than 5 (52 additions, 78 KiB); 7 (37 additions, 227 KiB) no faster
// than 6, its table fitting the caches less well.
const (
	windowBits = 6
	half       = 1 << (windowBits - 1)
	// windows covers the 256 bits of u2 and the carry out of them: the top window holds the
	// 256 mod windowBits < windowBits top bits, so its digit plus a carry is at most
	// 2^(windowBits-1) = half, and the recoding ends without a carry.
	windows = 256/windowBits + 1
)

// table holds (j+1)·2^(windowBits·i)·Q at [i][j], in Jacobian coordinates.
type table [windows][half]nistec.P256Point

// tableBytes is the memory one table takes.
const tableBytes = int(unsafe.Sizeof(table{}))

// tablesInUse counts the tables of live keys, against MaxTables.
var tablesInUse atomic.Int64

// tableForUse returns the key's table, building it when this verification is the one that
// should. It never waits: while one goroutine builds, the others get nil and take the plain
// path.
func (k *PublicKey) tableForUse() *table {
	if t := k.table.Load(); t != nil {
		return t
	}
	if k.uses.Load() < buildAfter {
		k.uses.Add(1)
		return nil
	}
	if tablesInUse.Load() >= MaxTables || !k.building.CompareAndSwap(false, true) {
		return nil
	}
	if !reserveTable() {
		k.building.Store(false) // a later verification tries again
		return nil
	}
	t := newTable(&k.q)
	k.table.Store(t)
	// The table lives as long as the key: its place in the budget is given back with it.
	runtime.AddCleanup(k, func(struct{}) { tablesInUse.Add(-1) }, struct{}{})
	return t
}

// reserveTable takes a place in the budget of tables, if one is free.
func reserveTable() bool {
	for {
		n := tablesInUse.Load()
		if n >= MaxTables {
			return false
		}
		if tablesInUse.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// newTable computes the multiples of q that table.mul reads.
func newTable(q *nistec.P256Point) *table {
	t := new(table)
	base := nistec.NewP256Point().Set(q) // 2^(windowBits·i)·Q
	for i := range t {
		t[i][0].Set(base)
		for j := 1; j < half; j++ {
			t[i][j].Add(&t[i][j-1], base)
		}
		base.Double(&t[i][half-1]) // 2·half = 2^windowBits times the previous base
	}
	return t
}

// mul sets acc = u2·Q for a 32-octet big-endian u2 and returns it: one addition per non-zero
// signed digit and no doubling. The lookups depend on u2, which is public (see the package doc).
func (t *table) mul(acc *nistec.P256Point, u2 []byte) *nistec.P256Point {
	var limbs [4]uint64 // u2, little-endian
	for i := range limbs {
		for _, b := range u2[scalarBytes-8*(i+1) : scalarBytes-8*i] {
			limbs[i] = limbs[i]<<8 | uint64(b)
		}
	}
	acc.Set(nistec.NewP256Point()) // the point at infinity
	var neg nistec.P256Point
	carry := 0
	for i := range windows {
		d := int(bitsAt(&limbs, i*windowBits)) + carry
		carry = 0
		if d > half {
			d -= 1 << windowBits
			carry = 1
		}
		switch {
		case d > 0:
			acc.Add(acc, &t[i][d-1])
		case d < 0:
			acc.Add(acc, neg.Negate(&t[i][-d-1]))
		}
	}
	if carry != 0 {
		panic("ecverify: internal error: carry out of the top window") // see windows
	}
	return acc
}

// bitsAt returns the windowBits bits of the 256-bit little-endian x starting at bit pos (zeros
// above bit 255).
func bitsAt(x *[4]uint64, pos int) uint64 {
	if pos >= 256 {
		return 0
	}
	limb, shift := pos/64, uint(pos%64)
	v := x[limb] >> shift
	if shift+windowBits > 64 && limb < 3 {
		v |= x[limb+1] << (64 - shift)
	}
	return v & (1<<windowBits - 1)
}
