package jwks

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/obgate/obgate/internal/caddyfileargs"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("jwks", parseGlobalOption)
}

// parseGlobalOption sets up the jwks app from the global option block. Syntax:
//
//	jwks {
//		min_refresh   <duration>
//		max_refresh   <duration>
//		max_stale     <duration>
//		miss_cooldown <duration>
//		fetch_timeout <duration>
//		allow_http    <url...>
//		trusted_ca    <pem-file...>
//	}
func parseGlobalOption(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "jwks", Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile sets up the app from Caddyfile tokens.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume option name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		name := d.Val()
		switch name {
		case "min_refresh", "max_refresh", "max_stale", "miss_cooldown", "fetch_timeout":
			dur, err := caddyfileargs.Duration(d, false)
			if err != nil {
				return err
			}
			dst := map[string]*caddy.Duration{
				"min_refresh": &a.MinRefresh, "max_refresh": &a.MaxRefresh,
				"miss_cooldown": &a.MissCooldown, "fetch_timeout": &a.FetchTimeout,
			}[name]
			if name == "max_stale" {
				if a.MaxStale != nil {
					return d.Errf("%s: already specified", name)
				}
				a.MaxStale = &dur
				continue
			}
			if *dst != 0 {
				return d.Errf("%s: already specified", name)
			}
			*dst = dur
		case "allow_http":
			urls := d.RemainingArgs()
			if len(urls) == 0 {
				return d.ArgErr()
			}
			a.AllowHTTP = append(a.AllowHTTP, urls...)
		case "trusted_ca":
			files := d.RemainingArgs()
			if len(files) == 0 {
				return d.ArgErr()
			}
			a.TrustedCA = append(a.TrustedCA, files...)
		default:
			return d.Errf("jwks: unrecognized option: %s", name)
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*App)(nil)
