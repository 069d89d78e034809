package signing

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"go.uber.org/zap"
)

// Defaults of Options.
const (
	// DefaultAlgorithm is the algorithm of generated keys: ES256 signs in tens of microseconds,
	// PS256 (RSA) in over a millisecond.
	DefaultAlgorithm = "ES256"

	// DefaultRotateEvery is how long a generated key signs before its successor takes over.
	DefaultRotateEvery = 720 * time.Hour

	// DefaultJWKSMaxAge is the Cache-Control max-age of the published JWK Set.
	DefaultJWKSMaxAge = 5 * time.Minute

	// DefaultRefreshInterval is how often the key set is read again from storage, so that a
	// rotation made by another instance arrives here.
	DefaultRefreshInterval = 30 * time.Second

	// DefaultMaxTokenLifetime bounds exp - now of every token Mint signs; a retired key stays
	// published this long (plus RemovalMargin) after it stopped signing.
	DefaultMaxTokenLifetime = 24 * time.Hour

	// DefaultRSABits is the modulus size of generated RSA (PS256) keys. 2048 bits give 112-bit
	// security (NIST SP 800-57 Part 1 Rev. 5, table 2), enough for keys that sign for 30 days;
	// 3072 bits would make each signature about three times slower.
	DefaultRSABits = 2048

	// ClockMargin is added to the publish lead to absorb clock differences between instances.
	ClockMargin = time.Minute

	// RemovalMargin is how long, beyond MaxTokenLifetime, a retired key stays published: room
	// for verifiers' leeway (30s by default) and clock differences.
	RemovalMargin = 5 * time.Minute
)

// GeneratedAlgorithms are the algorithms a generated key may have (RFC 7518 §3.4 and §3.5,
// RFC 8037 §3.1).
var GeneratedAlgorithms = []string{"ES256", "PS256", "EdDSA"}

// nameRE is what a signer may be called: the name is part of a storage key.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Options configure a Manager. The zero value of every field but Name means its default.
type Options struct {
	// Name identifies the key set in storage; instances that share a storage and a name share
	// the keys.
	Name string

	// Algorithm is the JWS alg of generated keys: ES256 (default), PS256 or EdDSA. Changing it
	// rotates to a key of the new algorithm, published PublishLead before it signs.
	Algorithm string

	// RotateEvery is how long each generated key signs. Default DefaultRotateEvery. It must be
	// longer than PublishLead.
	RotateEvery time.Duration

	// JWKSMaxAge is how long verifiers may cache the published JWK Set. Default DefaultJWKSMaxAge.
	JWKSMaxAge time.Duration

	// RefreshInterval is how often the key set is read again from storage. Default
	// DefaultRefreshInterval.
	RefreshInterval time.Duration

	// PublishLead is how long a new key is published before it signs. Default and minimum:
	// JWKSMaxAge + RefreshInterval + ClockMargin (a test may set less than the default, never
	// less than JWKSMaxAge + RefreshInterval).
	PublishLead time.Duration

	// MaxTokenLifetime is the longest exp - now that Mint signs. Default DefaultMaxTokenLifetime.
	MaxTokenLifetime time.Duration

	// RSABits is the modulus size of generated RSA keys, at least 2048. Default DefaultRSABits.
	RSABits int

	// Clock returns the current time. Nil means time.Now.
	Clock func() time.Time

	// Logger receives rotation and reload events. Nil means no logging.
	Logger *zap.Logger
}

// withDefaults returns the options with defaults applied, or the first mistake, naming the field.
func (o Options) withDefaults() (Options, error) {
	if !nameRE.MatchString(o.Name) {
		return o, fmt.Errorf("name %q: want 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", o.Name)
	}
	if o.Algorithm == "" {
		o.Algorithm = DefaultAlgorithm
	}
	if !slices.Contains(GeneratedAlgorithms, o.Algorithm) {
		return o, fmt.Errorf("algorithm %q: want one of %v", o.Algorithm, GeneratedAlgorithms)
	}
	if o.RotateEvery == 0 {
		o.RotateEvery = DefaultRotateEvery
	}
	if o.JWKSMaxAge == 0 {
		o.JWKSMaxAge = DefaultJWKSMaxAge
	}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.MaxTokenLifetime == 0 {
		o.MaxTokenLifetime = DefaultMaxTokenLifetime
	}
	if o.RSABits == 0 {
		o.RSABits = DefaultRSABits
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	switch {
	case o.RotateEvery < 0, o.JWKSMaxAge < 0, o.RefreshInterval < 0, o.PublishLead < 0, o.MaxTokenLifetime < 0:
		return o, errors.New("durations must not be negative")
	case o.RSABits < 2048:
		return o, fmt.Errorf("rsa_bits %d: at least 2048 (RFC 7518 §3.5)", o.RSABits)
	}
	floor := o.JWKSMaxAge + o.RefreshInterval
	if o.PublishLead == 0 {
		o.PublishLead = floor + ClockMargin
	}
	if o.PublishLead < floor {
		return o, fmt.Errorf("publish lead %v: at least the JWKS max-age plus the refresh interval (%v)", o.PublishLead, floor)
	}
	if o.RotateEvery <= o.PublishLead {
		return o, fmt.Errorf("rotate_every %v: must be longer than the publish lead %v (JWKS max-age + refresh interval + %v)",
			o.RotateEvery, o.PublishLead, ClockMargin)
	}
	return o, nil
}

// StaticOptions configure a manager for an operator-provided key (NewStatic).
type StaticOptions struct {
	// Algorithm is the key's JWS alg. Default: the key's own (P-256 ES256, P-384 ES384,
	// P-521 ES512, RSA PS256, Ed25519 EdDSA).
	Algorithm string

	// JWKSMaxAge is how long verifiers may cache the published JWK Set. Default DefaultJWKSMaxAge.
	JWKSMaxAge time.Duration

	// MaxTokenLifetime is the longest exp - now that Mint signs. Default DefaultMaxTokenLifetime.
	MaxTokenLifetime time.Duration

	// Clock returns the current time. Nil means time.Now.
	Clock func() time.Time
}
