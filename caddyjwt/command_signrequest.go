package caddyjwt

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/obgate/obgate/caddyjwt/binding"
	"github.com/obgate/obgate/caddyjwt/keys"
)

// signRequestOptions are the flags of `caddy jwt sign-request`.
type signRequestOptions struct {
	profile, keyPath, kid, alg, method, rawURL string
	body, bodyFile                             string
	hasBody, detached, detachedSet, curl       bool
	exp                                        time.Duration
	iss, mid, version, tan, pathForm           string
}

func signRequestCommand() *cobra.Command {
	var o signRequestOptions
	c := &cobra.Command{
		Use:   "sign-request --profile <tokenio|ob_jws|detached> --key <private.pem> --url <url> [flags]",
		Short: "Sign a request as request_signature checks it (for trying out a configuration)",
		Long: `Make the request signature that request_signature checks, for a method, URL and body:

	caddy jwt sign-request --profile tokenio --key examples/demo-signer.pem \
		--method POST --url http://127.0.0.1:8084/payments --body '{"amount": "2.00"}'

The signed path and query are derived with request_signature's own rules (--path-form as its
path_form), so the signature fits exactly this request: send the same method, URL and body
bytes. tokenio signs method, host, path, query and exp (milliseconds) in the header; ob_jws
makes a detached x-jws-signature (--version 3.1.3 or earlier: b64=false); detached makes an
RFC 7515 App. F signature over the body. The kid is the key's RFC 7638 thumbprint unless --kid
is given. The JWS goes to standard output; --curl prints a curl command line instead.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			o.hasBody = f.Changed("body") || f.Changed("body-file")
			o.detachedSet = f.Changed("detached")
			out, err := signRequest(o, cmd.InOrStdin(), time.Now())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), out)
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&o.profile, "profile", "", "tokenio, ob_jws or detached (as in request_signature)")
	f.StringVar(&o.keyPath, "key", "", "PEM file with the private key (PKCS#8, PKCS#1 or SEC 1)")
	f.StringVar(&o.kid, "kid", "", "key ID (default: the key's RFC 7638 thumbprint)")
	f.StringVar(&o.alg, "alg", "", "JWS algorithm (default by key: RS256 (ob_jws PS256), ES256/384/512, EdDSA)")
	f.StringVar(&o.method, "method", "", "HTTP method (default: POST with a body, else GET)")
	f.StringVar(&o.rawURL, "url", "", "the request URL, as it will be sent")
	f.StringVar(&o.body, "body", "", "the request body")
	f.StringVar(&o.bodyFile, "body-file", "", "file with the request body (- for standard input)")
	f.BoolVar(&o.detached, "detached", false, "detached form header..signature (default: tokenio compact, others detached)")
	f.DurationVar(&o.exp, "exp", time.Minute, "tokenio: lifetime, exp = now + exp")
	f.StringVar(&o.iss, "iss", "", "issuer: iss header (tokenio, detached), http://openbanking.org.uk/iss (ob_jws, required)")
	f.StringVar(&o.mid, "mid", "", "tokenio: member ID (mid header)")
	f.StringVar(&o.version, "version", "", "ob_jws: API version, e.g. 3.1.3 (b64=false) or 3.1.4 (default: b64 absent)")
	f.StringVar(&o.tan, "tan", "", "ob_jws: trust anchor, http://openbanking.org.uk/tan (default openbanking.org.uk)")
	f.StringVar(&o.pathForm, "path-form", "decoded", "tokenio: decoded or escaped, as request_signature's path_form")
	f.BoolVar(&o.curl, "curl", false, "print a curl command line that sends the signed request")
	_ = c.MarkFlagRequired("profile")
	_ = c.MarkFlagRequired("key")
	_ = c.MarkFlagRequired("url")
	return c
}

// signRequest builds the signature (or, with --curl, the command line that sends it).
func signRequest(o signRequestOptions, stdin io.Reader, now time.Time) (string, error) {
	s, err := o.signing(now)
	if err != nil {
		return "", err
	}
	req, err := o.request(stdin)
	if err != nil {
		return "", err
	}
	key, err := o.signer(&s)
	if err != nil {
		return "", err
	}
	tok, err := s.Sign(key, req)
	if err != nil {
		return "", err
	}
	if !o.curl {
		return tok, nil
	}
	return o.curlLine(tok, req), nil
}

// signing maps the profile flags to the engine's Signing.
func (o *signRequestOptions) signing(now time.Time) (binding.Signing, error) {
	p, err := binding.ParseProfile(o.profile)
	if err != nil {
		return binding.Signing{}, fmt.Errorf("--profile: %w", err)
	}
	s := binding.Signing{Profile: p, KeyID: o.kid, Issuer: o.iss, Detached: o.detached}
	if !o.detachedSet {
		s.Detached = p != binding.ProfileTokenIO
	}
	onlyFor := func(flag string, value bool, want binding.Profile) error {
		if value && p != want {
			return fmt.Errorf("--%s: only for --profile %s", flag, want)
		}
		return nil
	}
	for _, check := range []error{
		onlyFor("mid", o.mid != "", binding.ProfileTokenIO),
		onlyFor("path-form", o.pathForm != "" && o.pathForm != "decoded", binding.ProfileTokenIO),
		onlyFor("version", o.version != "", binding.ProfileOBJWS),
		onlyFor("tan", o.tan != "", binding.ProfileOBJWS),
	} {
		if check != nil {
			return s, check
		}
	}
	switch p {
	case binding.ProfileTokenIO:
		if o.exp <= 0 {
			return s, errors.New("--exp: must be positive")
		}
		s.Expires, s.MemberID = now.Add(o.exp), o.mid
		switch o.pathForm {
		case "", "decoded":
		case "escaped":
			s.PathForm = binding.PathEscaped
		default:
			return s, fmt.Errorf("--path-form %q: want decoded or escaped", o.pathForm)
		}
	case binding.ProfileOBJWS:
		if o.detachedSet && !o.detached {
			return s, errors.New("--detached=false: an ob_jws signature is always detached")
		}
		if o.iss == "" {
			return s, errors.New("--iss: required for ob_jws (the http://openbanking.org.uk/iss header)")
		}
		s.IssuedAt, s.OBVersion, s.TrustAnchor = now, o.version, o.tan
	}
	return s, nil
}

// request builds the request facts the signature binds.
func (o *signRequestOptions) request(stdin io.Reader) (*binding.Request, error) {
	u, err := url.Parse(o.rawURL)
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url %q: want an absolute http or https URL", o.rawURL)
	}
	if u.Fragment != "" {
		return nil, errors.New("--url: a fragment is never sent; leave it out")
	}
	body, err := o.readBody(stdin)
	if err != nil {
		return nil, err
	}
	method := o.method
	if method == "" {
		method = "GET"
		if o.hasBody {
			method = "POST"
		}
	}
	if method != strings.ToUpper(method) {
		return nil, fmt.Errorf("--method %q: methods are compared exactly; use upper case", method)
	}
	return &binding.Request{
		Method: method, Scheme: u.Scheme, Host: u.Host,
		RawPath: u.EscapedPath(), RawQuery: u.RawQuery, Body: body,
	}, nil
}

// readBody reads --body or --body-file (at most the default max_body).
func (o *signRequestOptions) readBody(stdin io.Reader) ([]byte, error) {
	switch {
	case o.body != "" && o.bodyFile != "":
		return nil, errors.New("give --body or --body-file, not both")
	case o.bodyFile == "":
		return []byte(o.body), nil
	}
	var r io.Reader = stdin
	if o.bodyFile != "-" {
		f, err := os.Open(o.bodyFile)
		if err != nil {
			return nil, fmt.Errorf("--body-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	body, err := io.ReadAll(io.LimitReader(r, DefaultMaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("--body-file: %w", err)
	}
	if len(body) > DefaultMaxBody {
		return nil, fmt.Errorf("--body-file: more than %d bytes (request_signature's default max_body)", DefaultMaxBody)
	}
	return body, nil
}

// signer loads the private key, picks the default kid and algorithm, and checks that the
// algorithm is one obgate allows for the key.
func (o *signRequestOptions) signer(s *binding.Signing) (crypto.Signer, error) {
	priv, err := loadPrivateKey(o.keyPath)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", o.keyPath, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("--key %s: a %T cannot sign", o.keyPath, priv)
	}
	pub, err := publicPEM(signer)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", o.keyPath, err)
	}
	ks, err := keys.ParsePEM(pub, o.keyPath)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", o.keyPath, err)
	}
	k := ks[0]
	s.Algorithm = o.alg
	if s.Algorithm == "" {
		s.Algorithm = k.Algorithms[0]
		if s.Profile == binding.ProfileOBJWS && k.Type() == "RSA" {
			s.Algorithm = "PS256" // the Open Banking message-signing profile signs with PS256
		}
	}
	if !slices.Contains(k.Algorithms, s.Algorithm) {
		return nil, fmt.Errorf("--alg %s: not allowed for this %s key (allowed: %s)", s.Algorithm, k.Type(), strings.Join(k.Algorithms, " "))
	}
	if s.KeyID == "" {
		s.KeyID = k.Thumbprint
	}
	return signer, nil
}

// curlLine is a shell command line (POSIX quoting) that sends the signed request.
func (o *signRequestOptions) curlLine(tok string, req *binding.Request) string {
	header := "Authorization: Bearer " + tok
	if o.profile == "ob_jws" {
		header = "x-jws-signature: " + tok
	}
	parts := []string{"curl", "-i", "-X", req.Method, "-H", shellQuote(header)}
	switch {
	case o.bodyFile != "" && o.bodyFile != "-":
		parts = append(parts, "--data-binary", shellQuote("@"+o.bodyFile))
	case strings.HasPrefix(string(req.Body), "@"):
		// curl reads a file for a value starting with @: send such a body through stdin.
		parts = append([]string{"printf", "%s", shellQuote(string(req.Body)), "|"}, append(parts, "--data-binary", "@-")...)
	case len(req.Body) > 0:
		parts = append(parts, "--data-binary", shellQuote(string(req.Body)))
	}
	return strings.Join(append(parts, "--globoff", shellQuote(o.rawURL)), " ")
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
