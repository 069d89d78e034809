package caddyjwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/obgate/obgate/caddyjwt/internal/strictjson"
)

// maxInspectInput bounds what `caddy jwt inspect` reads: a token or a key file.
const maxInspectInput = 1 << 20

// notVerified opens every token report: inspect decodes, it never trusts.
const notVerified = "signature NOT verified: this shows what the token says, not that it is true"

func inspectCommand() *cobra.Command {
	var keyPath string
	c := &cobra.Command{
		Use:   "inspect <token | -> | inspect --key <file>",
		Short: "Decode a token without trusting it, or print a key file's kid",
		Long: `Decode a JWT or JWS without verifying it: the header and payload as indented JSON, the times
(exp, nbf, iat) as numbers and UTC dates, and warnings for header parameters obgate refuses or
ignores (alg none, crit, jku, x5u, x5c, jwk). "-" reads the token from standard input. Compact
(header.payload.signature) and detached (header..signature) forms are accepted.

With --key, print each key of a PEM file (public key, private key, certificate) or a JWK / JWK
Set: its type, the algorithms obgate allows it by default, and its RFC 7638 thumbprint, which
is the kid obgate gives a key that has none.`,
		Args: func(_ *cobra.Command, args []string) error {
			switch {
			case keyPath != "" && len(args) > 0:
				return errors.New("give either a token or --key, not both")
			case keyPath == "" && len(args) != 1:
				return errors.New("give one token, or - to read it from standard input")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath != "" {
				return inspectKeyFile(cmd.OutOrStdout(), keyPath)
			}
			tok, err := readTokenArg(cmd.InOrStdin(), args[0])
			if err != nil {
				return err
			}
			return inspectToken(cmd.OutOrStdout(), tok, time.Now())
		},
	}
	c.Flags().StringVar(&keyPath, "key", "", "key file to describe (PEM key or certificate, JWK, JWK Set)")
	return c
}

// readTokenArg returns the token given as an argument, or read from in when the argument is "-".
// Surrounding space and a "Bearer " prefix are removed.
func readTokenArg(in io.Reader, arg string) (string, error) {
	if arg == "-" {
		data, err := io.ReadAll(io.LimitReader(in, maxInspectInput+1))
		if err != nil {
			return "", fmt.Errorf("reading standard input: %w", err)
		}
		if len(data) > maxInspectInput {
			return "", fmt.Errorf("standard input: more than %d bytes, not a token", maxInspectInput)
		}
		arg = string(data)
	}
	tok := strings.TrimSpace(arg)
	if len(tok) > 7 && strings.EqualFold(tok[:7], "bearer ") {
		tok = strings.TrimSpace(tok[7:])
	}
	if tok == "" {
		return "", errors.New("empty token")
	}
	return tok, nil
}

// inspectToken prints what a compact JWS says, without verifying anything.
func inspectToken(w io.Writer, tok string, now time.Time) error {
	segs := strings.Split(tok, ".")
	switch {
	case len(segs) == 5:
		return errors.New("5 segments: this is a JWE (an encrypted token), which cannot be decoded without its key")
	case len(segs) != 3:
		return fmt.Errorf("%d segments: a JWS has 3 (header.payload.signature, or header..signature when detached)", len(segs))
	}
	rawHeader, err := decodeSegment(segs[0])
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	var header map[string]any
	if err := unmarshalNumbers(rawHeader, &header); err != nil {
		return fmt.Errorf("header: not a JSON object: %w", err)
	}
	p := &printer{w: w}
	p.line(notVerified)
	p.line("")
	p.line("header:")
	p.json(rawHeader)
	for _, warning := range headerWarnings(header, rawHeader) {
		p.line("  ! " + warning)
	}
	p.line("")
	claims := inspectPayload(p, segs[1], header)
	p.line("")
	p.line(describeSignature(segs[2]))
	p.line("")
	p.times(header, claims, now)
	return p.err
}

// inspectPayload prints the payload and returns it as claims when it is a JSON object.
func inspectPayload(p *printer, seg string, header map[string]any) map[string]any {
	if seg == "" {
		p.line("payload: detached (RFC 7515 App. F): the request body is the payload")
		return nil
	}
	if header["b64"] == false {
		p.line("payload: unencoded (b64=false, RFC 7797): " + strconv.Itoa(len(seg)) + " bytes")
		return nil
	}
	raw, err := decodeSegment(seg)
	if err != nil {
		p.line("payload: not base64url (" + err.Error() + ")")
		return nil
	}
	var claims map[string]any
	if unmarshalNumbers(raw, &claims) == nil {
		p.line("payload:")
		p.json(raw)
		if _, err := strictjson.Parse(raw, strictjson.Limits{}); err != nil {
			p.line("  ! obgate refuses this claim set: " + err.Error())
		}
		return claims
	}
	switch {
	case utf8.Valid(raw):
		p.line(fmt.Sprintf("payload (%d bytes, not a JSON object):", len(raw)))
		p.line(string(raw))
	default:
		p.line(fmt.Sprintf("payload: %d bytes of binary data", len(raw)))
	}
	return nil
}

// describeSignature says what the signature segment holds (it is never checked here).
func describeSignature(seg string) string {
	if seg == "" {
		return "signature: none (an unsigned token; obgate refuses it)"
	}
	sig, err := decodeSegment(seg)
	if err != nil {
		return "signature: not base64url (obgate refuses the token)"
	}
	return fmt.Sprintf("signature: %d bytes, not checked", len(sig))
}

// headerWarnings names the header parameters that obgate refuses or never follows.
func headerWarnings(h map[string]any, raw []byte) []string {
	var out []string
	if _, err := strictjson.Parse(raw, strictjson.Limits{}); err != nil {
		out = append(out, "obgate refuses this header: "+err.Error())
	}
	switch alg, _ := h["alg"].(string); {
	case strings.EqualFold(alg, "none"):
		out = append(out, `alg "none": an unsigned token; obgate never accepts it`)
	case alg == "":
		out = append(out, "alg: missing or not a string; obgate refuses the token")
	}
	if crit, ok := h["crit"]; ok {
		b, _ := json.Marshal(crit)
		out = append(out, "crit "+string(b)+": the verifier must understand each of these, or refuse the token (RFC 7515 §4.1.11)")
	}
	for _, p := range []struct{ name, what string }{
		{"jku", "names a JWK Set URL"},
		{"x5u", "names a certificate URL"},
		{"x5c", "carries a certificate chain"},
		{"jwk", "carries its own key"},
	} {
		if _, ok := h[p.name]; ok {
			out = append(out, p.name+": "+p.what+"; obgate never takes keys from the token, only from its configuration")
		}
	}
	return out
}

// decodeSegment decodes strict base64url without padding (RFC 7515 §2).
func decodeSegment(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, errors.New("not base64url without padding")
	}
	return b, nil
}

// unmarshalNumbers decodes a JSON object keeping numbers as json.Number.
func unmarshalNumbers(data []byte, v *map[string]any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if *v == nil {
		return errors.New("null")
	}
	return nil
}

// printer writes lines and keeps the first write error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(s string) {
	if p.err == nil {
		_, p.err = fmt.Fprintln(p.w, s)
	}
}

// json prints a JSON document indented, members in their original order.
func (p *printer) json(raw []byte) {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "  ", "  "); err != nil {
		p.line("  " + string(raw))
		return
	}
	p.line("  " + buf.String())
}

// timeField is a time the token states, and the unit it is stated in.
type timeField struct {
	label, name string
	from        map[string]any
	millis      bool
}

// times prints the token's times as numbers and UTC dates, relative to now.
func (p *printer) times(header, claims map[string]any, now time.Time) {
	fields := []timeField{
		{"exp", "exp", claims, false}, {"nbf", "nbf", claims, false}, {"iat", "iat", claims, false},
		// tokenio (seed 002) puts exp in the header, in milliseconds.
		{"header exp (tokenio, ms)", "exp", header, true},
		{"header http://openbanking.org.uk/iat", "http://openbanking.org.uk/iat", header, false},
	}
	var lines []string
	for _, f := range fields {
		v, ok := f.from[f.name]
		if !ok {
			continue
		}
		lines = append(lines, fmt.Sprintf("  %-36s %s", f.label, describeTime(v, f.millis, now)))
	}
	if len(lines) == 0 {
		p.line("times: none (no exp, nbf or iat)")
		return
	}
	p.line("times:")
	for _, l := range lines {
		p.line(l)
	}
}

// describeTime renders a NumericDate (seconds, RFC 7519 §2) or a millisecond timestamp.
func describeTime(v any, millis bool, now time.Time) string {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = v
	default:
		return fmt.Sprintf("%v: not a number", v)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e15 {
		return s + ": not a usable number"
	}
	var t time.Time
	note := ""
	if millis {
		t = time.UnixMilli(int64(f))
		if f < 1e11 {
			note = "  ! looks like seconds; tokenio's exp is in milliseconds"
		}
	} else {
		sec, frac := math.Modf(f)
		t = time.Unix(int64(sec), int64(frac*1e9))
		if f > 1e11 {
			note = "  ! looks like milliseconds; JWT times are in seconds"
		}
	}
	return fmt.Sprintf("%s  %s  (%s)%s", s, t.UTC().Format(time.RFC3339), relative(t, now), note)
}

// relative says how far t is from now: whole seconds, or days beyond two days.
func relative(t, now time.Time) string {
	const century = 100 * 365 * 24 * time.Hour
	switch {
	case t.After(now.Add(century)):
		return "more than 100 years ahead"
	case t.Before(now.Add(-century)):
		return "more than 100 years ago"
	}
	d := t.Sub(now).Round(time.Second)
	text := func(d time.Duration) string {
		if d >= 48*time.Hour {
			return fmt.Sprintf("%d days", d/(24*time.Hour))
		}
		return d.String()
	}
	switch {
	case d > 0:
		return "in " + text(d)
	case d < 0:
		return text(-d) + " ago"
	}
	return "now"
}

// readLimited reads a file of at most maxInspectInput bytes.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxInspectInput+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxInspectInput {
		return nil, fmt.Errorf("more than %d bytes, not a key file", maxInspectInput)
	}
	return data, nil
}
