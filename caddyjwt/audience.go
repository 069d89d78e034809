package caddyjwt

import (
	"errors"
	"fmt"
	"slices"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// anyAudience is the Caddyfile value of `audience any`, the explicit opt-out of the aud check.
const anyAudience = "any"

// errAnyAlone is the answer to `audience any <other values>`.
var errAnyAlone = errors.New(`"any" stands alone: give either audience any (aud is not checked) or the list of accepted audiences`)

// unmarshalAudience parses `audience <aud...>` or `audience any` (alone on its line), at the top
// level or in an issuer block. A literal audience named "any" can only be given in JSON.
func unmarshalAudience(d *caddyfile.Dispenser, list *[]string, anyAud *bool) error {
	if *list != nil || *anyAud {
		return d.Err("audience: already specified")
	}
	args := d.RemainingArgs()
	switch {
	case len(args) == 0:
		return d.ArgErr()
	case len(args) == 1 && args[0] == anyAudience:
		*anyAud = true
	case slices.Contains(args, anyAudience):
		return d.Errf("audience: %v", errAnyAlone)
	default:
		*list = args
	}
	return nil
}

// resolveAudiences applies INTERFACE.md Wave 2 "Audience is required" to a jwt_auth policy (or
// the jwt provider): every issuer ends up with its own audience, the top-level one, or the
// explicit `audience any`; an issuer with none is a config error naming it. It returns the
// issuers that accept any audience, for provision's one warning.
func (c *Config) resolveAudiences() (anyIssuers []string, err error) {
	if c.AnyAudience && len(c.Audience) > 0 {
		return nil, fmt.Errorf("audience: %w", errAnyAlone)
	}
	for _, ic := range c.Issuers {
		switch {
		case ic.AnyAudience && len(ic.Audience) > 0:
			return nil, fmt.Errorf("issuer %q: audience: %w", ic.Issuer, errAnyAlone)
		case ic.AnyAudience, len(ic.Audience) == 0 && c.AnyAudience:
			anyIssuers = append(anyIssuers, ic.Issuer)
		case len(ic.Audience) == 0 && len(c.Audience) == 0:
			return nil, fmt.Errorf("issuer %q: no audience: give audience <aud...> (at the top level or in the issuer block), "+
				"or audience any to accept tokens for any audience", ic.Issuer)
		}
	}
	return anyIssuers, nil
}

// issuerAudience is the audience the engine checks for an issuer: its own, else the top-level
// one; nil (aud not checked) for an issuer under `audience any`.
func (c *Config) issuerAudience(ic *IssuerConfig) []string {
	switch {
	case ic.AnyAudience:
		return nil
	case len(ic.Audience) > 0:
		return ic.Audience
	case c.AnyAudience:
		return nil
	}
	return c.Audience
}

// warnAnyAudience logs the one provision warning of a policy that accepts any audience.
func warnAnyAudience(logger *zap.Logger, issuers []string) {
	if len(issuers) == 0 {
		return
	}
	logger.Warn("audience any: the aud claim is not checked, so tokens issued for any other service are accepted",
		zap.Strings("issuers", issuers))
}
