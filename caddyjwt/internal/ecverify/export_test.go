package ecverify

// BuildTable builds k's table now, as its second verification would (taking a place in the
// budget), and reports whether k has one.
func BuildTable(k *PublicKey) bool {
	k.uses.Store(buildAfter)
	return k.tableForUse() != nil
}

// HasTable reports whether k's table is built.
func HasTable(k *PublicKey) bool { return k.table.Load() != nil }

// VerifyPlain verifies on the plain path (nistec's ScalarMult), whatever k's state.
func VerifyPlain(k *PublicKey, digest, sig []byte) bool {
	if len(sig) != 2*scalarBytes {
		return false
	}
	return k.verify(digest, sig[:scalarBytes], sig[scalarBytes:], nil)
}

// VerifyTable verifies with k's table, building it first if needed, whatever the budget.
func VerifyTable(k *PublicKey, digest, sig []byte) bool {
	if len(sig) != 2*scalarBytes {
		return false
	}
	t := k.table.Load()
	if t == nil {
		t = newTable(&k.q)
	}
	return k.verify(digest, sig[:scalarBytes], sig[scalarBytes:], t)
}

// TablesInUse is the number of places of the table budget taken.
func TablesInUse() int64 { return tablesInUse.Load() }

// TableBytes is the memory one table takes.
const TableBytes = tableBytes
