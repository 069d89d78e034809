package integration

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the expected JSON of the .caddyfiletest files")

// TestCaddyfileAdapt checks each Caddyfile form against its expected JSON: the Caddyfile is a
// front end and must produce the JSON a JSON user would write. Each file holds a Caddyfile, a
// line of ten dashes, then the JSON, or an error text that adapting must produce.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("caddyfile_adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no .caddyfiletest files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			caddyfile, expected, ok := strings.Cut(string(data), "----------")
			if !ok {
				t.Fatal("missing ---------- separator")
			}
			caddyfile = strings.TrimSpace(caddyfile) + "\n"
			expected = strings.TrimSpace(expected)
			got, err := adapt(caddyfile)
			if !strings.HasPrefix(expected, "{") && !*updateGolden {
				if err == nil || !strings.Contains(err.Error(), expected) {
					t.Fatalf("adapt error = %v, want one containing %q", err, expected)
				}
				return
			}
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, got, "", "\t"); err != nil {
				t.Fatal(err)
			}
			if *updateGolden {
				out := strings.TrimSpace(caddyfile) + "\n----------\n" + pretty.String() + "\n"
				if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if pretty.String() != expected {
				t.Errorf("adapted JSON differs\n got: %s\nwant: %s", pretty.String(), expected)
			}
		})
	}
}
