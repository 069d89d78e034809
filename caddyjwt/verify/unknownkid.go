package verify

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/obgate/obgate/caddyjwt/keys"
)

// maxKnownKIDs bounds how many of the issuer's key IDs a diagnostic lists.
const maxKnownKIDs = 32

// maxShownKID bounds how much of a token's kid a diagnostic repeats: the client chose it.
const maxShownKID = 128

// UnknownKIDError is the cause of a ReasonUnknownKey rejection, for the operator: the kid the
// token named and the key IDs its issuer holds (a key without a kid of its own is listed by its
// RFC 7638 thumbprint), so that a mismatch shows its fix. It is built only on that rejection, and
// the issuer's key IDs are read only when asked for. It never holds the token.
type UnknownKIDError struct {
	// UnverifiedKID is the kid the token named, as the client sent it.
	UnverifiedKID string

	sources []keys.Source
}

// KnownKIDs returns the IDs of the keys the issuer holds now (at most 32), in source order.
func (e *UnknownKIDError) KnownKIDs() []string {
	var out []string
	for _, src := range e.sources {
		set, err := src.Keys()
		if err != nil {
			continue
		}
		for _, k := range set.Keys() {
			if len(out) == maxKnownKIDs {
				return out
			}
			out = append(out, k.ID)
		}
	}
	return out
}

// ShownKID is UnverifiedKID cut to a length fit for a log line or a verdict.
func (e *UnknownKIDError) ShownKID() string {
	if len(e.UnverifiedKID) <= maxShownKID {
		return e.UnverifiedKID
	}
	return e.UnverifiedKID[:maxShownKID] + "..."
}

// Error names the token's kid and the issuer's key IDs.
func (e *UnknownKIDError) Error() string {
	known := e.KnownKIDs()
	quoted := make([]string, len(known))
	for i, k := range known {
		quoted[i] = strconv.Quote(k)
	}
	return fmt.Sprintf("token kid %q is not one of the issuer's key IDs [%s]", e.ShownKID(), strings.Join(quoted, " "))
}
