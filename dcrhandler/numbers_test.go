package dcrhandler

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMetadataNumbersRoundTripExactly(t *testing.T) {
	f := newFixture(t)
	h := openGeneric(t, f)
	body := `{"token_endpoint_auth_method":"none","default_max_age":9007199254740993,` +
		`"x_big":123456789012345678901234567890,"x_dec":0.1000000000000000055511151231257827,` +
		`"x_exp":1E+2,"x_nested":{"n":[18446744073709551617,-0.0,5e-324]}}`
	want := map[string]string{
		"default_max_age": "9007199254740993",
		"x_big":           "123456789012345678901234567890",
		"x_dec":           "0.1000000000000000055511151231257827",
		"x_exp":           "1E+2",
		"x_nested":        `{"n":[18446744073709551617,-0.0,5e-324]}`,
	}
	check := func(what string, raw []byte) {
		t.Helper()
		var got map[string]json.RawMessage
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for k, v := range want {
			if string(got[k]) != v {
				t.Errorf("%s: %s = %s, want %s as written", what, k, got[k], v)
			}
		}
	}
	w := do(t, h, http.MethodPost, "/register", "application/json", body)
	if w.Code != http.StatusCreated {
		t.Fatalf("status %d; body %s", w.Code, w.Body.String())
	}
	check("registration response", w.Body.Bytes())
	reg := decode(t, w)
	auth := []string{"Authorization", "Bearer " + reg["registration_access_token"].(string)}
	path := "/register/" + reg["client_id"].(string)
	check("GET", do(t, h, http.MethodGet, path, "", "", auth...).Body.Bytes())
	restarted := openGeneric(t, f) // read back from storage by a new handler
	check("GET after restart", do(t, restarted, http.MethodGet, path, "", "", auth...).Body.Bytes())

	// The request JWT path keeps them too.
	jh := f.handler(t, "obie", nil)
	w = post(t, jh, f.requestJWT("obie", nil, func(c map[string]any) { c["default_max_age"] = json.Number("9007199254740993") }))
	if w.Code != http.StatusCreated || !strings.Contains(w.Body.String(), `"default_max_age":9007199254740993`) {
		t.Fatalf("request JWT: status %d; body %s", w.Code, w.Body.String())
	}
}

func TestUnrepresentableNumbersRefused(t *testing.T) {
	f := newFixture(t)
	h := openGeneric(t, f)
	for _, n := range []string{"1e400", "-1e400", "1e-400", "-2.5e-999", "1e1000000000", "0.0000e99999999999"} {
		field := "default_max_age"
		body := `{"token_endpoint_auth_method":"none","default_max_age":` + n + `}`
		if n == "0.0000e99999999999" { // zero with a huge exponent is still zero: accepted
			if w := do(t, h, http.MethodPost, "/register", "application/json", body); w.Code != http.StatusCreated {
				t.Errorf("%s: status %d, want 201; body %s", n, w.Code, w.Body.String())
			}
			continue
		}
		expectError(t, do(t, h, http.MethodPost, "/register", "application/json", body), http.StatusBadRequest, codeInvalidMetadata, field)
		nested := `{"token_endpoint_auth_method":"none","x":{"y":[1,` + n + `]}}`
		expectError(t, do(t, h, http.MethodPost, "/register", "application/json", nested), http.StatusBadRequest, codeInvalidMetadata, "x")
	}
	jh := f.handler(t, "obie", nil)
	w := post(t, jh, f.requestJWT("obie", nil, func(c map[string]any) { c["default_max_age"] = json.Number("1e400") }))
	expectError(t, w, http.StatusBadRequest, codeInvalidMetadata, "default_max_age")
}

// clientFile is the storage file of a client.
func clientFile(f *fixture, h *Handler, id string) string {
	return filepath.Join(f.storageDir, "obgate", "dcr", storageScope(h.Audience), "clients", id+".json")
}

// TestStoredRecordsAnOlderVersionWroteStayManageable writes records into storage as an older
// version did (a number outside double range) or as one that no longer decodes: the owner can
// still manage them, and under cdr its software may register again after DELETE.
func TestStoredRecordsAnOlderVersionWroteStayManageable(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, "cdr", nil)
	register := func() (string, []string) {
		t.Helper()
		w := post(t, h, f.requestJWT("cdr", nil, nil))
		if w.Code != http.StatusCreated {
			t.Fatalf("register: status %d; body %s", w.Code, w.Body.String())
		}
		reg := decode(t, w)
		return reg["client_id"].(string), []string{"Authorization", "Bearer " + reg["registration_access_token"].(string)}
	}
	rewrite := func(id string, edit func(rec map[string]any)) {
		t.Helper()
		p := clientFile(f, h, id)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var rec map[string]any
		if err := json.Unmarshal(data, &rec); err != nil {
			t.Fatal(err)
		}
		edit(rec)
		out, _ := json.Marshal(rec)
		if err := os.WriteFile(p, out, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("a number outside double range reads back as written", func(t *testing.T) {
		id, auth := register()
		rewrite(id, func(rec map[string]any) { rec["metadata"].(map[string]any)["default_max_age"] = json.Number("1e400") })
		w := do(t, h, http.MethodGet, "/register/"+id, "", "", auth...)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"default_max_age":1e400`) {
			t.Fatalf("GET: status %d; body %s; want 200 with the number as stored", w.Code, w.Body.String())
		}
		if w := do(t, h, http.MethodDelete, "/register/"+id, "", "", auth...); w.Code != http.StatusNoContent {
			t.Fatalf("DELETE: status %d; body %s", w.Code, w.Body.String())
		}
	})
	for name, damage := range map[string]func(rec map[string]any){
		"metadata that is not an object":   func(rec map[string]any) { rec["metadata"] = "garbage" },
		"issued-at that is not an integer": func(rec map[string]any) { rec["client_id_issued_at"] = "yesterday" },
		"metadata missing":                 func(rec map[string]any) { delete(rec, "metadata") },
	} {
		t.Run("a record with "+name+" can be deleted, and its software registers again", func(t *testing.T) {
			id, auth := register()
			rewrite(id, damage)
			expectError(t, do(t, h, http.MethodGet, "/register/"+id, "", "", auth...), http.StatusInternalServerError, codeServerError, "DELETE")
			expectError(t, post(t, h, f.requestJWT("cdr", nil, nil)), http.StatusBadRequest, codeInvalidMetadata, "software_id")
			if w := do(t, h, http.MethodDelete, "/register/"+id, "", "", auth...); w.Code != http.StatusNoContent {
				t.Fatalf("DELETE: status %d; body %s", w.Code, w.Body.String())
			}
			expectError(t, do(t, h, http.MethodDelete, "/register/"+id, "", "", auth...), http.StatusUnauthorized, codeInvalidToken, "")
			if w := post(t, h, f.requestJWT("cdr", nil, nil)); w.Code != http.StatusCreated {
				t.Fatalf("register again after DELETE: status %d; body %s", w.Code, w.Body.String())
			}
			id2 := decode(t, post(t, h, f.requestJWT("cdr", nil, nil)))["client_id"]
			if id2 != nil {
				t.Fatal("a second live registration of the software was accepted")
			}
			// Clean up for the next case: the software is registered again.
			removeAllClients(t, f, h)
		})
	}
	t.Run("a damaged record can be replaced with PUT", func(t *testing.T) {
		id, auth := register()
		rewrite(id, func(rec map[string]any) { rec["metadata"] = []any{1, 2} })
		// The update must name the same software (iss = software_id of the SSA).
		w := do(t, h, http.MethodPut, "/register/"+id, "application/jwt", f.requestJWT("cdr", nil, nil), auth...)
		if w.Code != http.StatusOK {
			t.Fatalf("PUT: status %d; body %s", w.Code, w.Body.String())
		}
		if w := do(t, h, http.MethodGet, "/register/"+id, "", "", auth...); w.Code != http.StatusOK {
			t.Fatalf("GET after PUT: status %d; body %s", w.Code, w.Body.String())
		}
	})
}

// removeAllClients empties the handler's client storage.
func removeAllClients(t *testing.T, f *fixture, h *Handler) {
	t.Helper()
	dir := filepath.Dir(clientFile(f, h, "x"))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
}
