package caddyfileargs_test

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/obgate/obgate/internal/caddyfileargs"
)

// TestPositiveInt: a whole number of at least 1 is read; anything else is an error that names
// the subdirective and the value, and a repeated subdirective is refused.
func TestPositiveInt(t *testing.T) {
	for _, tc := range []struct {
		line    string
		already bool
		want    int
		wantErr string // "" = accepted
	}{
		{line: "max_keys 1", want: 1},
		{line: "max_keys 100000", want: 100000},
		{line: "max_keys 0", wantErr: `max_keys: "0" is not a positive number of keys`},
		{line: "max_keys -3", wantErr: `max_keys: "-3" is not a positive number of keys`},
		{line: "max_keys +3", wantErr: `max_keys: "+3" is not a positive number of keys`},
		{line: "max_keys 1.5", wantErr: `max_keys: "1.5" is not a positive number of keys`},
		{line: "max_keys 2KiB", wantErr: `max_keys: "2KiB" is not a positive number of keys`},
		{line: "max_keys 99999999999999999999", wantErr: `max_keys: "99999999999999999999" is not a positive number of keys`},
		{line: "max_keys", wantErr: "wrong argument count"},
		{line: "max_keys 1 2", wantErr: "wrong argument count"},
		{line: "max_keys 5", already: true, wantErr: "max_keys: already specified"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			d := caddyfile.NewTestDispenser(tc.line)
			d.Next()
			n, err := caddyfileargs.PositiveInt(d, tc.already, "keys")
			if tc.wantErr == "" {
				if err != nil || n != tc.want {
					t.Fatalf("PositiveInt() = %d, %v; want %d", n, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("PositiveInt() = %d, %v; want an error containing %q", n, err, tc.wantErr)
			}
		})
	}
}

// TestParsePositiveInt checks a value the caller read itself, naming the given subdirective.
func TestParsePositiveInt(t *testing.T) {
	d := caddyfile.NewTestDispenser("replay 10")
	d.Next()
	if n, err := caddyfileargs.ParsePositiveInt(d, "replay", "10", "entries"); err != nil || n != 10 {
		t.Fatalf("ParsePositiveInt(10) = %d, %v; want 10", n, err)
	}
	_, err := caddyfileargs.ParsePositiveInt(d, "replay", "ten", "entries")
	if err == nil || !strings.Contains(err.Error(), `replay: "ten" is not a positive number of entries`) {
		t.Fatalf("ParsePositiveInt(ten) error = %v, want one naming replay and the value", err)
	}
}

// TestKeyPath: `key <path> [<kid>]` gives the path and the optional kid; no path or more than two
// arguments is an error that names the enclosing block.
func TestKeyPath(t *testing.T) {
	for _, tc := range []struct {
		line, where, wantPath, wantKID, wantErr string
	}{
		{line: "key /k.pem", wantPath: "/k.pem"},
		{line: "key /k.pem k1", where: "issuer https://idp", wantPath: "/k.pem", wantKID: "k1"},
		{line: "key", where: "issuer https://idp", wantErr: "issuer https://idp: key: want <path> [<kid>]"},
		{line: "key a b c", wantErr: "key: want <path> [<kid>]"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			d := caddyfile.NewTestDispenser(tc.line)
			d.Next()
			path, kid, err := caddyfileargs.KeyPath(d, tc.where)
			if tc.wantErr == "" {
				if err != nil || path != tc.wantPath || kid != tc.wantKID {
					t.Fatalf("KeyPath() = %q, %q, %v; want %q, %q", path, kid, err, tc.wantPath, tc.wantKID)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Fatalf("KeyPath() error = %v, want one starting %q", err, tc.wantErr)
			}
		})
	}
}
