package caddyjwt

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// userPrefix is the placeholder namespace Caddy's authentication handler uses too.
const userPrefix = "http.auth.user."

// claimPlaceholders makes {http.auth.user.id} and {http.auth.user.<claim>} resolve for the rest of
// the request. Values are rendered only when a placeholder asks for them.
func claimPlaceholders(repl *caddy.Replacer, userID any, claims map[string]any) {
	repl.Set(userPrefix+"id", userID)
	repl.Map(func(key string) (any, bool) {
		name, ok := strings.CutPrefix(key, userPrefix)
		if !ok {
			return nil, false
		}
		v, ok := claims[name]
		if !ok {
			return nil, false
		}
		s, _ := claimString(v)
		return s, true
	})
}

// claimMetadata renders every top-level claim for caddyauth.User.Metadata.
func claimMetadata(claims map[string]any) map[string]string {
	m := make(map[string]string, len(claims))
	for name, v := range claims {
		m[name], _ = claimString(v)
	}
	return m
}

// claimString renders a claim value: strings as they are, numbers by their JSON text, booleans
// as true/false, arrays joined with commas, objects as JSON. The bool reports a scalar.
func claimString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return string(v), true
	case bool:
		return strconv.FormatBool(v), true
	case nil:
		return "", true
	case []any:
		parts := make([]string, len(v))
		for i, item := range v {
			parts[i], _ = claimString(item)
		}
		return strings.Join(parts, ","), false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	return string(b), false
}
