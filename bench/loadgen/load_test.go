package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestLoadSendsEachTokenInTurn: a target's requests take its token file's tokens in turn, each
// in the header that names {token}, and every request is counted.
func TestLoadSendsEachTokenInTurn(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get("Authorization")]++
		mu.Unlock()
	}))
	file := filepath.Join(t.TempDir(), "tokens.txt")
	if err := os.WriteFile(file, []byte("one\ntwo\n\nthree\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	toks, err := readTokenFiles([]string{"jwt=" + file})
	if err != nil || len(toks["jwt"]) != 3 {
		t.Fatalf("readTokenFiles() = %v, %v", toks, err)
	}
	tg := &target{name: "jwt", url: srv.URL, headers: buildHeaders([]string{"Authorization: Bearer {token}"}, toks["jwt"])}
	run(srv.Client(), tg, 1, 200*time.Millisecond, 1)
	srv.Close() // waits for the handlers: got is complete
	if len(tg.lat) == 0 || tg.errors != 0 {
		t.Fatalf("run() recorded %d requests, %d errors", len(tg.lat), tg.errors)
	}
	for _, want := range []string{"Bearer one", "Bearer two", "Bearer three"} {
		if len(tg.lat) >= 3 && got[want] == 0 {
			t.Errorf("no request carried %q (saw %v)", want, got)
		}
	}
}

// TestRoundOrderAlternates: turns run in the given order in even rounds and reversed in odd ones,
// so the reference turn is not always the first of its round.
func TestRoundOrderAlternates(t *testing.T) {
	a, b, c := &target{name: "a"}, &target{name: "b"}, &target{name: "c"}
	names := func(ts []*target) string {
		var s string
		for _, t := range ts {
			s += t.name
		}
		return s
	}
	targets := []*target{a, b, c}
	for round, want := range []string{"abc", "cba", "abc", "cba"} {
		if got := names(roundOrder(targets, round)); got != want {
			t.Errorf("round %d: order %s, want %s", round, got, want)
		}
	}
	if names(targets) != "abc" {
		t.Errorf("roundOrder changed the targets' own order: %s", names(targets))
	}
}
