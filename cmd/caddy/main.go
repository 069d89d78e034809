// Command caddy is Caddy with obgate's modules compiled in:
//
//	go run ./cmd/caddy run --config Caddyfile.example
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/obgate/obgate"
)

func main() {
	caddycmd.Main()
}
