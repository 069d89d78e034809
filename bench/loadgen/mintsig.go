package main

import (
	"bufio"
	"crypto"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/obgate/obgate/caddyjwt/binding"
	"github.com/obgate/obgate/caddyjwt/keys"
)

// mintSig is the mint-sig mode: n distinct tokenio request signatures (detached JWS, ES256) of
// one request, one per line, signed on every core. The header is what binding.Signing makes for
// the tokenio profile (alg, kid, typ, exp in milliseconds, method, host, path), the very one
// request_signature checks.
//
// request_signature's single-use value is the signed request (the protected header and the
// body), not the signature: a second signature of the same header and body is a replay. So
// the n signatures differ in their header: the i-th expires i milliseconds after the first, as
// signatures made one after another by a client would.
func mintSig(args []string) {
	fs := flag.NewFlagSet("loadgen mint-sig", flag.ExitOnError)
	keyPath := fs.String("key", "", "PEM P-256 private key (PKCS#8 or SEC 1)")
	kid := fs.String("kid", "", "kid header parameter; default: the key's RFC 7638 thumbprint (obgate's kid for a PEM key)")
	host := fs.String("host", "", "host the requests are sent to, as in their Host header (e.g. 127.0.0.1:9201)")
	path := fs.String("path", "/", "path the requests are sent to (raw, as sent)")
	method := fs.String("method", "GET", "method of the requests")
	n := fs.Int("n", 1000, "how many signatures")
	ttl := fs.Duration("ttl", 30*time.Minute, "lifetime (tokenio exp)")
	_ = fs.Parse(args)
	if *keyPath == "" || *host == "" || *n < 1 {
		fatal("mint-sig: -key, -host and a positive -n are required")
	}
	signer, pub, err := readPrivateKey(*keyPath)
	if err != nil {
		fatal("mint-sig: %v", err)
	}
	if _, err := pickAlgorithm(signer, "ES256"); err != nil {
		fatal("mint-sig: %v", err)
	}
	if *kid == "" {
		if *kid, err = keys.Thumbprint(pub); err != nil {
			fatal("mint-sig: %v", err)
		}
	}
	s := binding.Signing{
		Profile: binding.ProfileTokenIO, Algorithm: "ES256", KeyID: *kid,
		Expires: time.Now().Add(*ttl), Detached: true,
	}
	req := &binding.Request{Method: *method, Scheme: "http", Host: *host, RawPath: *path}
	sigs, err := signMany(signer, s, req, *n, runtime.NumCPU())
	if err != nil {
		fatal("mint-sig: %v", err)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	for _, sig := range sigs {
		_, _ = w.WriteString(sig)
		_ = w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		fatal("mint-sig: %v", err)
	}
}

// signMany makes n signatures of req with s, split between workers goroutines; the i-th
// expires i milliseconds after s.Expires, so that no two have the same header.
func signMany(key crypto.Signer, s binding.Signing, req *binding.Request, n, workers int) ([]string, error) {
	workers = max(workers, 1)
	out := make([]string, n)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				si := s
				si.Expires = s.Expires.Add(time.Duration(i) * time.Millisecond)
				sig, err := si.Sign(key, req)
				if err != nil {
					errs[w] = err
					return
				}
				out[i] = sig
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return out, nil
}
