package rsaverify

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestAssemblyIsGenerated: radix52_amd64.s is what gen_amd64.go writes, so that a change to the
// generator cannot be forgotten in the kernels that run.
func TestAssemblyIsGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator with the go command")
	}
	out := filepath.Join(t.TempDir(), "radix52_amd64.s")
	cmd := exec.Command("go", "run", "gen_amd64.go", "-out", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run gen_amd64.go: %v\n%s", err, msg)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("radix52_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("radix52_amd64.s differs from what gen_amd64.go writes: run go generate ./caddyjwt/internal/rsaverify")
	}
}
