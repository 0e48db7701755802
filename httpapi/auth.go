package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/config"
)

// Tokens are the admin tokens the API accepts. They can be replaced while
// the server runs (a configuration reload); it is safe for concurrent use.
type Tokens struct {
	list atomic.Pointer[[]tokenHash]
}

// tokenHash keeps a token's SHA-256 only: comparing hashes takes the same
// time whatever the lengths.
type tokenHash struct {
	name string
	hash [sha256.Size]byte
}

// NewTokens returns the token set ts (names and tokens as the
// configuration gives them, config.Config.ReadAdminTokens).
func NewTokens(ts []config.NamedToken) *Tokens {
	t := &Tokens{}
	t.Set(ts)
	return t
}

// Set replaces the tokens; requests already admitted keep their names.
func (t *Tokens) Set(ts []config.NamedToken) {
	list := make([]tokenHash, len(ts))
	for i, tok := range ts {
		list[i] = tokenHash{name: tok.Name, hash: sha256.Sum256([]byte(tok.Token))}
	}
	t.list.Store(&list)
}

// holder returns the name of secret's holder; ok is false for a token that
// is not one of them. Every token is compared, in constant time, so that
// the time taken tells nothing about which one came close.
func (t *Tokens) holder(secret string) (name string, ok bool) {
	h := sha256.Sum256([]byte(secret))
	for _, e := range t.entries() {
		if subtle.ConstantTimeCompare(h[:], e.hash[:]) == 1 {
			name, ok = e.name, true
		}
	}
	return name, ok
}

func (t *Tokens) entries() []tokenHash {
	if p := t.list.Load(); p != nil {
		return *p
	}
	return nil
}

// requireAdmin lets a request through only with one of the admin tokens as
// a bearer token, acting under the token's name (service.WithActor).
// Without any token every such request is refused: an admin listener must
// not become writable by accident.
func (a *api) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(a.tokens.entries()) == 0 {
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
		name, ok := a.tokens.holder(strings.TrimSpace(token))
		if !ok {
			a.log.Warn("admin request with a wrong token", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			writeErrorMsg(w, http.StatusUnauthorized, "wrong admin token")
			return
		}
		// Operator actions are logged and recorded by the service with who acted.
		next.ServeHTTP(w, r.WithContext(service.WithActor(r.Context(), name, r.RemoteAddr)))
	})
}

type whoamiJSON struct {
	Name string `json:"name"`
}

// whoami names the holder of the request's token (requireAdmin refused
// any other), so that a console can check a token when it is entered.
func (a *api) whoami(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, whoamiJSON{Name: service.ActorName(r.Context())})
}
