// Package caddyfileargs reads the arguments of obgate's Caddyfile subdirectives the same way in
// every module: one value, a list, a duration, a size or a positive count, each refusing a
// repeated singleton with "<name>: already specified" and naming the subdirective in every error.
package caddyfileargs

import (
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// One reads exactly one argument into dst; dst must still be empty.
func One(d *caddyfile.Dispenser, dst *string) error {
	name := d.Val()
	if *dst != "" {
		return d.Errf("%s: already specified", name)
	}
	if !d.Args(dst) || d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// singleArg reads the one argument of a subdirective that may appear once; it returns the
// subdirective's name with it.
func singleArg(d *caddyfile.Dispenser, already bool) (name, arg string, err error) {
	name = d.Val()
	if already {
		return name, "", d.Errf("%s: already specified", name)
	}
	if !d.Args(&arg) || d.NextArg() {
		return name, "", d.ArgErr()
	}
	return name, arg, nil
}

// KeyPath reads the arguments of a `key <path> [<kid>]` subdirective; where names the enclosing
// block for the error (such as "issuer https://idp.example"), empty for none.
func KeyPath(d *caddyfile.Dispenser, where string) (path, kid string, err error) {
	args := d.RemainingArgs()
	if len(args) < 1 || len(args) > 2 {
		msg := "key: want <path> [<kid>]"
		if where != "" {
			msg = where + ": " + msg
		}
		return "", "", d.Err(msg)
	}
	if len(args) == 2 {
		kid = args[1]
	}
	return args[0], kid, nil
}

// List reads one or more arguments; existing must be nil (the subdirective not seen yet).
func List(d *caddyfile.Dispenser, existing []string) ([]string, error) {
	name := d.Val()
	if existing != nil {
		return nil, d.Errf("%s: already specified", name)
	}
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.ArgErr()
	}
	return args, nil
}

// Duration reads one non-negative duration argument such as 30s or 1h; already says whether the
// subdirective was seen before.
func Duration(d *caddyfile.Dispenser, already bool) (caddy.Duration, error) {
	name, s, err := singleArg(d, already)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, d.Errf("%s: invalid duration %s: %v", name, strconv.Quote(s), err)
	}
	if dur < 0 {
		return 0, d.Errf("%s: must not be negative", name)
	}
	return caddy.Duration(dur), nil
}

// Size reads one size argument such as 64KiB (65536 bytes) or 1MB, between 1 byte and max.
func Size(d *caddyfile.Dispenser, already bool, max uint64) (int64, error) {
	name, s, err := singleArg(d, already)
	if err != nil {
		return 0, err
	}
	n, err := humanize.ParseBytes(s)
	if err != nil || n == 0 || n > max {
		return 0, d.Errf("%s: invalid size %s (between 1 byte and %s)", name, strconv.Quote(s), humanize.IBytes(max))
	}
	return int64(n), nil
}

// PositiveInt reads one argument that is a whole number of at least 1, such as a count of
// entries or a key size; unit is what it counts ("entries", "bits"), for the error, and already
// says whether the subdirective was seen before.
func PositiveInt(d *caddyfile.Dispenser, already bool, unit string) (int, error) {
	name, s, err := singleArg(d, already)
	if err != nil {
		return 0, err
	}
	return ParsePositiveInt(d, name, s, unit)
}

// ParsePositiveInt is PositiveInt for a value the caller has read itself: an optional argument,
// or one that may also be a keyword such as off. name is the subdirective, for the error
// "<name>: "<s>" is not a positive number of <unit>".
func ParsePositiveInt(d *caddyfile.Dispenser, name, s, unit string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || strings.HasPrefix(s, "+") {
		return 0, d.Errf("%s: %s is not a positive number of %s", name, strconv.Quote(s), unit)
	}
	return n, nil
}
