package integration

import (
	"os"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
)

// asCaddyEnv makes the test binary act as the caddy command (Caddy's main with obgate's
// modules), so that shell snippets from the README can run `go run ./cmd/caddy ...` through a
// shim without building a binary.
const asCaddyEnv = "OBGATE_TEST_BINARY_AS_CADDY"

func TestMain(m *testing.M) {
	if os.Getenv(asCaddyEnv) == "1" {
		caddycmd.Main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
