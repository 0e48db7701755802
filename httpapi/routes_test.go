package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

// Route parameters are matched and handed out unescaped, however much a
// client escapes them.
func TestRouteParametersAreUnescaped(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{
		"/api/v1/machines/sp%69n",                // "spin", with an escaped "i"
		"/api/v1/machines/%73pin/boards/0/0/%31", // board (0, 0, 1) of "spin"
		"/api/v1/machines/spin/boards/0/0/1/hist%6Fry",
		"/machines/sp%69n",
	} {
		if r := e.get(path); r.code != http.StatusOK {
			t.Errorf("GET %s: %d %s, want 200", path, r.code, r.body)
		}
	}
}

// The static files are served, but their folder is not listed.
func TestStaticFolderIsNotListed(t *testing.T) {
	e := newEnv(t)
	if r := e.get("/static/app.js"); r.code != http.StatusOK {
		t.Fatalf("GET /static/app.js: %d", r.code)
	}
	for _, path := range []string{"/static/", "/static//", "/static/./"} {
		r := e.get(path)
		if r.code != http.StatusNotFound || strings.Contains(string(r.body), "app.js") {
			t.Errorf("GET %s: %d %s, want 404 without a listing", path, r.code, r.body)
		}
	}
}
