package caddyjwt

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// redacted replaces a token's value in what jwt_auth logs.
const redacted = "REDACTED"

// accessLog keeps a policy's token locations out of Caddy's access log.
//
// Caddy writes its access log entry ("handled request") from a copy of the request taken before
// any handler runs (modules/caddyhttp/server.go: LoggableHTTPRequest over r.Clone) and redacts
// only Authorization, Proxy-Authorization, Cookie and Set-Cookie (internal/logmarshalers.go): a
// token in another header, such as CX-Authorization, or in the query would be logged in full, and
// no handler can change that copy. So when a request carries a value in such a location, jwt_auth
// turns Caddy's entry off for it (the log_skip variable) and writes the entry itself, to the
// loggers Caddy would use, with Caddy's message, level and fields, the token's value replaced by
// REDACTED. Requests with the token in Authorization or a cookie keep Caddy's own entry.
type accessLog struct {
	ctx     caddy.Context // the config's: its logging config builds the loggers
	headers []string      // header locations Caddy does not redact itself
	query   []string      // query parameter locations

	mu      sync.Mutex
	loggers map[string]*zap.Logger // by logger name, made on first use
}

// newAccessLog returns nil when every location is one Caddy redacts itself.
func newAccessLog(ctx caddy.Context, locations []TokenLocation) *accessLog {
	al := &accessLog{ctx: ctx, loggers: map[string]*zap.Logger{}}
	for _, loc := range locations {
		switch {
		case loc.From == "query":
			al.query = append(al.query, loc.Name)
		case loc.From == "header" && !caddyRedacts(loc.Name):
			al.headers = append(al.headers, http.CanonicalHeaderKey(loc.Name))
		}
	}
	if len(al.headers) == 0 && len(al.query) == 0 {
		return nil
	}
	return al
}

// caddyRedacts reports whether Caddy's log marshalers already redact a header.
func caddyRedacts(name string) bool {
	switch strings.ToLower(name) {
	case "authorization", "proxy-authorization", "cookie", "set-cookie":
		return true
	}
	return false
}

// begin takes over the access log entry of a request that carries a value in one of the token
// locations Caddy would log in clear, and returns the entry to finish; nil when Caddy's own
// entry holds no token (or Caddy logs nothing for the request).
func (al *accessLog) begin(w http.ResponseWriter, r *http.Request) (*accessEntry, http.ResponseWriter) {
	if al == nil || !al.carriesToken(r) {
		return nil, w
	}
	srv, _ := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	if srv == nil || srv.Logs == nil || !logsRequest(srv.Logs, r) {
		return nil, w
	}
	if skip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.LogSkipVar).(bool); skip {
		return nil, w
	}
	caddyhttp.SetVar(r.Context(), caddyhttp.LogSkipVar, true)
	rr := redactionsOf(r)
	e := &accessEntry{al: al, logs: srv.Logs, start: time.Now(), req: rr.redactedCopy(r, al, srv.Logs.ShouldLogCredentials)}
	if rr != nil {
		rr.entry = e
	}
	e.rec = caddyhttp.NewResponseRecorder(w, nil, nil)
	if r.Body != nil && r.Body != http.NoBody {
		e.body = &countingReader{ReadCloser: r.Body}
		r.Body = e.body
	}
	return e, e.rec
}

// carriesToken reports whether a location Caddy would log in clear has a value.
func (al *accessLog) carriesToken(r *http.Request) bool {
	for _, h := range al.headers {
		if len(r.Header[h]) > 0 {
			return true
		}
	}
	// Any query may hold the token: its name may be percent-encoded (access%5Ftoken), which a
	// substring test would miss.
	return len(al.query) > 0 && r.URL.RawQuery != ""
}

// redactionsVar is the request variable holding the request's *requestRedactions.
const redactionsVar = "obgate.jwt_auth.redactions"

// requestRedactions are, for one request, the jwt_auth policies that saw a token location of
// theirs filled, and the access entry one of them writes: with several policies on a request
// (say a client token in one header and a customer token in another), what any of them logs must
// redact every policy's locations.
type requestRedactions struct {
	als   []*accessLog
	entry *accessEntry
}

// redactionsOf returns the request's redactions; nil outside a Caddy server (no variables).
func redactionsOf(r *http.Request) *requestRedactions {
	rr, _ := caddyhttp.GetVar(r.Context(), redactionsVar).(*requestRedactions)
	return rr
}

// join records that al's token locations are filled in r (it must run before handOn, which may
// strip them) and redacts them in an entry another policy already took over. It reports
// whether r carries a value in a location of al that Caddy would log in clear.
func (al *accessLog) join(r *http.Request) bool {
	if al == nil || !al.carriesToken(r) {
		return false
	}
	rr := redactionsOf(r)
	if rr == nil {
		rr = new(requestRedactions)
		caddyhttp.SetVar(r.Context(), redactionsVar, rr)
	}
	rr.als = append(rr.als, al)
	if rr.entry != nil {
		al.redact(rr.entry.req.Request) // that copy is jwt_auth's own
	}
	return true
}

// redactedCopy is what Caddy's entry would show of the request, the token locations' values
// replaced (those of every policy in rr, and al's): the method, remote address and request URI
// as the client sent them, the headers as jwt_auth sees them.
func (rr *requestRedactions) redactedCopy(r *http.Request, al *accessLog, logCredentials bool) caddyhttp.LoggableHTTPRequest {
	c := r.Clone(r.Context())
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok {
		c.Method, c.RemoteAddr, c.RequestURI = orig.Method, orig.RemoteAddr, orig.RequestURI
	}
	al.redact(c)
	if rr != nil {
		for _, other := range rr.als {
			other.redact(c)
		}
	}
	return caddyhttp.LoggableHTTPRequest{Request: c, ShouldLogCredentials: logCredentials}
}

// redact replaces the values of al's token locations in c, a copy of the request.
func (al *accessLog) redact(c *http.Request) {
	for _, h := range al.headers {
		if vs := c.Header[h]; len(vs) > 0 {
			c.Header[h] = []string{redacted}
		}
	}
	c.RequestURI = redactQuery(c.RequestURI, al.query)
}

// redactQuery replaces the values of the named parameters in a request URI's query. Pairs are
// taken as split by '&', ';' or a further '?': url.ParseQuery splits at '&' only and refuses the
// query (ambiguous_query) for a ';', yet that request is logged too, and a parameter after ';'
// or '?' may well be the token. Redacting more than the parser would read only costs log detail.
func redactQuery(uri string, names []string) string {
	path, query, ok := strings.Cut(uri, "?")
	if !ok || len(names) == 0 {
		return uri
	}
	var b strings.Builder
	b.Grow(len(uri) + len(redacted))
	b.WriteString(path)
	b.WriteByte('?')
	for query != "" {
		end := strings.IndexAny(query, "&;?")
		if end < 0 {
			end = len(query)
		}
		b.WriteString(redactPair(query[:end], names))
		if end < len(query) {
			b.WriteByte(query[end])
			end++
		}
		query = query[end:]
	}
	return b.String()
}

// redactPair returns name=REDACTED for a pair whose name is one of names, in any spelling (a
// backend may read it case-insensitively), else the pair as it is.
func redactPair(p string, names []string) string {
	raw, _, _ := strings.Cut(p, "=")
	name := raw
	if un, err := url.QueryUnescape(raw); err == nil {
		name = un
	}
	for _, n := range names {
		if strings.EqualFold(name, n) {
			return raw + "=" + redacted
		}
	}
	return p
}

// accessEntry is one request's entry, written when jwt_auth's part of the request is done.
type accessEntry struct {
	al    *accessLog
	logs  *caddyhttp.ServerLogConfig
	start time.Time
	req   caddyhttp.LoggableHTTPRequest
	rec   caddyhttp.ResponseRecorder
	body  *countingReader
	extra []zap.Field // jwt_auth's own extra fields (jwt_iss, jwt_kid, jwt_user)
}

// finish writes the entry as Caddy's logRequest would (modules/caddyhttp/server.go). err is what
// the next handler returned: its status is logged, as Caddy's error handling would write it.
func (e *accessEntry) finish(r *http.Request, err error) {
	if e == nil {
		return
	}
	status, size := e.rec.Status(), e.rec.Size()
	if err != nil {
		status = http.StatusInternalServerError
		if he, ok := err.(caddyhttp.HandlerError); ok && he.StatusCode != 0 {
			status = he.StatusCode
		}
	}
	msg := "handled request"
	if nop, _ := caddyhttp.GetVar(r.Context(), "unhandled").(bool); nop {
		msg = "NOP"
	}
	level := zapcore.InfoLevel
	if status >= 500 {
		level = zapcore.ErrorLevel
	}
	if name, ok := caddyhttp.GetVar(r.Context(), caddyhttp.LogLevelVar).(string); ok {
		if l, err := zapcore.ParseLevel(name); err == nil && l >= zapcore.DebugLevel && l <= zapcore.ErrorLevel {
			level = l
		}
	}
	userID := ""
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		userID, _ = repl.GetString("http.auth.user.id")
	}
	read := 0
	if e.body != nil {
		read = e.body.n
	}
	fields := append([]zap.Field{
		zap.Object("request", e.req),
		zap.Int("bytes_read", read),
		zap.String("user_id", userID),
		zap.Duration("duration", time.Since(e.start)),
		zap.Int("size", size),
		zap.Int("status", status),
		zap.Object("resp_headers", caddyhttp.LoggableHTTPHeader{Header: e.rec.Header(), ShouldLogCredentials: e.logs.ShouldLogCredentials}),
	}, e.extra...)
	for _, name := range loggerNames(e.logs, r) {
		if c := e.al.logger(name).Check(level, msg); c != nil {
			c.Write(fields...)
		}
	}
}

// logger returns the access logger of that name ("" is the server's default), as Caddy names it:
// http.log.access[.<name>].
func (al *accessLog) logger(name string) *zap.Logger {
	return al.named("http.log.access", name)
}

// named returns the logger base[.<name>], made on first use.
func (al *accessLog) named(base, name string) *zap.Logger {
	id := base
	if name != "" {
		id += "." + name
	}
	al.mu.Lock()
	defer al.mu.Unlock()
	l, ok := al.loggers[id]
	if !ok {
		l = al.ctx.Logger(loggerModule(id))
		al.loggers[id] = l
	}
	return l
}

// loggerModule stands for a logger name: caddy.Context.Logger names a logger after its module's
// ID and gives it the cores of every log that includes that name.
type loggerModule string

// CaddyModule returns the logger name as a module ID.
func (m loggerModule) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: caddy.ModuleID(m), New: func() caddy.Module { return m }}
}

// loggerNames are the access logger names Caddy uses for a request (ServerLogConfig.wrapLogger).
func loggerNames(slc *caddyhttp.ServerLogConfig, r *http.Request) []string {
	if names, ok := caddyhttp.GetVar(r.Context(), caddyhttp.AccessLoggerNameVarKey).([]any); ok {
		out := make([]string, 0, len(names))
		for _, n := range names {
			s, _ := n.(string)
			out = append(out, s)
		}
		return out
	}
	host := strings.ToLower(hostOnly(r.Host))
	if names, ok := slc.LoggerNames[host]; ok {
		return names
	}
	labels := strings.Split(host, ".")
	for i := range labels {
		if labels[i] == "" {
			continue
		}
		labels[i] = "*"
		if names, ok := slc.LoggerNames[strings.Join(labels, ".")]; ok {
			return names
		}
	}
	return []string{slc.DefaultLoggerName}
}

// logsRequest reports whether Caddy logs the request at all (Server.shouldLogRequest).
func logsRequest(slc *caddyhttp.ServerLogConfig, r *http.Request) bool {
	host := hostOnly(r.Host)
	for name := range slc.LoggerNames {
		if certmagic.MatchWildcard(host, name) {
			return true
		}
	}
	for _, h := range slc.SkipHosts {
		if certmagic.MatchWildcard(host, h) {
			return false
		}
	}
	return !slc.SkipUnmappedHosts
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// countingReader counts the body bytes the handlers read, for bytes_read.
type countingReader struct {
	io.ReadCloser
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += n
	return n, err
}
