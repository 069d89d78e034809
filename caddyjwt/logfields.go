package caddyjwt

import (
	"net/http"

	"go.uber.org/zap/zapcore"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/obgate/obgate/caddyjwt/verify"
)

// accessLogFields names the caller in the request's access log entry: jwt_iss, jwt_kid and
// jwt_user, as one inline field (one ExtraLogFields.Set, which resets that type's cache on every
// call), in Caddy's entry and in the one jwt_auth writes itself (entry, see accessLog). Nothing
// is added when the server keeps no access log: there is no entry to add to.
func accessLogFields(r *http.Request, entry *accessEntry, res *verify.Result, userID string) {
	extra, ok := r.Context().Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields)
	if srv, isSrv := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server); isSrv && srv.Logs == nil && entry == nil {
		return
	}
	f := zapcore.Field{Key: "jwt_auth", Type: zapcore.InlineMarshalerType, Interface: &callerFields{res.Issuer, res.KeyID, userID}}
	if ok {
		extra.Set(f)
	}
	if entry != nil {
		entry.extra = []zapcore.Field{f}
	}
}

// callerFields are the access log's fields of a verified token.
type callerFields struct{ iss, kid, user string }

// MarshalLogObject writes the fields inline into the log entry.
func (f *callerFields) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("jwt_iss", f.iss)
	enc.AddString("jwt_kid", f.kid)
	enc.AddString("jwt_user", f.user)
	return nil
}
