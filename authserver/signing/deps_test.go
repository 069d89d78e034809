package signing_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEngineDoesNotImportCaddy keeps the engine a library: nothing it depends on, directly or
// not, may come from Caddy.
func TestEngineDoesNotImportCaddy(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/caddyserver/") {
			t.Errorf("the engine depends on %s", dep)
		}
	}
}
