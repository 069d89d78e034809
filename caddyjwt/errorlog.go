package caddyjwt

import (
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// handlerError stands in for Caddy's handling of an error a later handler returned, for a request
// whose token is in a location Caddy would log in clear.
//
// Caddy logs such an error (modules/caddyhttp/server.go, ServeHTTP: at ERROR level for a 5xx,
// such as reverse_proxy's 502 when the upstream is down) with a copy of the request taken before
// any handler ran, whatever the site's access log: the token would be in that line. Where the
// server has no handle_errors routes, Caddy would only log the error and write its status, so
// jwt_auth does both itself, the request redacted, with Caddy's logger names, message, level and
// fields, and returns nil. Where handle_errors routes exist they must run, so the error is
// returned to Caddy, which then logs it at DEBUG level only (README: logging).
func (al *accessLog) handlerError(w http.ResponseWriter, r *http.Request, entry *accessEntry, start time.Time, err error) error {
	srv, _ := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	if srv == nil || (srv.Errors != nil && len(srv.Errors.Routes) > 0) {
		return err
	}
	status, msg, fields := errorLogValues(err)
	if status == 0 {
		return err // Caddy's own WriteHeader(0) would fail; leave it the case to Caddy
	}
	level := zapcore.DebugLevel
	if status >= 500 {
		level = zapcore.ErrorLevel
	}
	rr := redactionsOf(r)
	var req caddyhttp.LoggableHTTPRequest
	switch {
	case entry != nil:
		req = entry.req
	case rr != nil && rr.entry != nil: // another policy's entry: every policy's locations redacted
		req = rr.entry.req
	default:
		req = rr.redactedCopy(r, al, srv.Logs != nil && srv.Logs.ShouldLogCredentials)
	}
	fields = append([]zap.Field{zap.Object("request", req), zap.Duration("duration", time.Since(start))}, fields...)
	names := []string{""}
	if srv.Logs != nil {
		names = loggerNames(srv.Logs, r)
	}
	for _, name := range names {
		if c := al.named("http.log.error", name).Check(level, msg); c != nil {
			c.Write(fields...)
		}
	}
	w.WriteHeader(status)
	return nil
}

// errorLogValues mirrors Caddy's errLogValues (modules/caddyhttp/logging.go): the status, message
// and fields of an error's log line.
func errorLogValues(err error) (int, string, []zap.Field) {
	if he, ok := errors.AsType[caddyhttp.HandlerError](err); ok {
		msg := err.Error()
		if he.Err != nil {
			msg = he.Err.Error()
		}
		return he.StatusCode, msg, []zap.Field{
			zap.Int("status", he.StatusCode),
			zap.String("err_id", he.ID),
			zap.String("err_trace", he.Trace),
		}
	}
	return http.StatusInternalServerError, err.Error(), []zap.Field{zap.Error(err)}
}
