package dcrhandler

import (
	"net/http"
	"testing"
)

// INTERFACE.md Wave 2, "Keys without a kid": a directory key given as PEM without a kid verifies
// the SSA whatever kid the directory put in it (the OB UK conformance client's SSA names the
// directory's own kid); a directory key given a kid is chosen by that kid only.
func TestDirectoryKeyWithoutKIDAcceptsTheStatementsKid(t *testing.T) {
	f := newFixture(t)
	ssa := f.dir.sign(t, f.ssaClaims("obie"), map[string]any{"kid": "directory-signing-key-2026"})
	req := f.soft.sign(t, f.requestClaims("obie", ssa), nil)

	kidless := f.handler(t, "obie", func(h *Handler) { h.Directories[0].Keys[0].KeyID = "" })
	if w := post(t, kidless, req); w.Code != http.StatusCreated {
		t.Fatalf("PEM directory key without kid: status %d, want 201; body %s", w.Code, w.Body.String())
	}

	named := f.handler(t, "obie", nil) // the directory key is configured with its own kid
	w := post(t, named, f.soft.sign(t, f.requestClaims("obie", ssa), nil))
	if w.Code != http.StatusBadRequest || decode(t, w)["error"] != "invalid_software_statement" {
		t.Fatalf("directory key with another kid: status %d %s, want 400 invalid_software_statement", w.Code, w.Body.String())
	}
}
