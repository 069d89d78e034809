package integration

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
)

// runJWT runs `caddy jwt <args>` in process, through the command Caddy registers, and returns
// its standard output without the final newline.
func runJWT(t *testing.T, args ...string) string {
	t.Helper()
	out, err := tryJWT(t, args...)
	if err != nil {
		t.Fatalf("caddy jwt %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// tryJWT is runJWT that returns the command's error.
func tryJWT(t *testing.T, args ...string) (string, error) {
	t.Helper()
	c, ok := caddycmd.Commands()["jwt"]
	if !ok {
		t.Fatal("no `caddy jwt` command registered")
	}
	root := &cobra.Command{Use: "jwt", SilenceUsage: true, SilenceErrors: true}
	c.CobraFunc(root)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetArgs(args)
	err := root.Execute()
	return strings.TrimSuffix(out.String(), "\n"), err
}
