package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/spalloc/spallocd/service"
)

// requireAdmin lets a request through only with the configured admin token
// as a bearer token. Without a configured token every mutation is refused:
// an admin listener must not become writable by accident.
func (a *api) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.opts.AdminToken == "" {
			writeErrorMsg(w, http.StatusForbidden, "mutations are disabled: no admin token is configured")
			return
		}
		header := r.Header.Get("Authorization")
		if header == "" {
			writeErrorMsg(w, http.StatusUnauthorized, "missing Authorization: Bearer <admin token>")
			return
		}
		scheme, token, ok := strings.Cut(header, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			writeErrorMsg(w, http.StatusUnauthorized, "Authorization must be: Bearer <admin token>")
			return
		}
		if !tokensEqual(strings.TrimSpace(token), a.opts.AdminToken) {
			a.log.Warn("admin request with a wrong token", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			writeErrorMsg(w, http.StatusUnauthorized, "wrong admin token")
			return
		}
		// Operator actions are logged by the service with who acted.
		next.ServeHTTP(w, r.WithContext(service.WithActor(r.Context(), "operator", r.RemoteAddr)))
	})
}

// tokensEqual compares in constant time; hashing first makes the time
// independent of the lengths too.
func tokensEqual(got, want string) bool {
	g := sha256.Sum256([]byte(got))
	w := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
