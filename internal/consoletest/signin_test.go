package consoletest

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/spalloc/spallocd/internal/testutil"
)

// TestConsoleSignInAndOut: the header's sign-in checks a token with the
// server (a wrong one is refused at once and not kept), shows whose it is,
// keeps it across pages of the tab, and forgets it on sign-out; a token
// the server no longer accepts (removed by a reload) is forgotten when a
// page opens.
func TestConsoleSignInAndOut(t *testing.T) {
	srv := startDemo(t)
	p := openTab(t, srv.url, 1400, 1000)
	signedIn := `document.querySelector('#signed-in')`
	stored := `sessionStorage.getItem('spallocd.admin-token') || ''`

	p.open("/")
	if got := p.text(`#token-button`); got != "Sign in…" {
		t.Errorf("the header offers %q, want Sign in…", got)
	}
	if !evalJS[bool](p, signedIn+`.hidden`) {
		t.Error("someone is shown signed in before a token was given")
	}
	p.clickUntil(`#token-button`, `!!document.querySelector('#action-dialog[open] input[name=token]')`, "the sign-in dialog")
	p.typeInto(`#action-dialog input[name=token]`, "not-a-token")
	p.click(`#action-dialog button[type=submit]`)
	p.await(`(document.querySelector('#action-dialog[open] .error') || {}).innerText === 'wrong admin token'`, "the refusal in the dialog")
	if got := evalJS[string](p, stored); got != "" {
		t.Errorf("a refused token is kept: %q", got)
	}
	p.typeInto(`#action-dialog input[name=token]`, aliceToken)
	p.click(`#action-dialog button[type=submit]`)
	p.dialogClosed()
	p.await(`!document.querySelector('#signed-in').hidden && document.querySelector('#signed-in').innerText === 'signed in as alice'`, "alice signed in")
	if got := p.text(`#token-button`); got != "Sign out" {
		t.Errorf("the header offers %q once signed in, want Sign out", got)
	}

	// Another page of the tab: still alice, and actions do not ask for the
	// token again.
	p.open("/machines/demo-4x2")
	p.await(`document.querySelector('#signed-in').innerText === 'signed in as alice'`, "alice still signed in on another page")
	p.clickUntil(`#machine-actions [data-action=drain]`, `!!document.querySelector('#action-dialog[open] input[name=reason]')`, "the drain dialog")
	if evalJS[bool](p, `!document.querySelector('#action-dialog label.token').hidden`) {
		t.Error("the drain dialog asks for the token of a signed-in operator")
	}
	p.click(`#action-dialog .buttons button[type=button]`)
	p.dialogClosed()

	// Sign out: forgotten, and an action asks for a token again.
	p.click(`#token-button`)
	p.await(signedIn+`.hidden && document.querySelector('#token-button').innerText === 'Sign in…'`, "signed out")
	if got := evalJS[string](p, stored); got != "" {
		t.Errorf("the token is kept after signing out: %q", got)
	}
	p.clickUntil(`#machine-actions [data-action=drain]`, `!!document.querySelector('#action-dialog[open] label.token:not([hidden])')`, "the dialog asking for a token after sign-out")
	p.click(`#action-dialog .buttons button[type=button]`)
	p.dialogClosed()

	// Signed in again, then alice's token is removed from the configuration:
	// the next page forgets it.
	p.click(`#token-button`)
	p.typeInto(`#action-dialog input[name=token]`, aliceToken)
	p.click(`#action-dialog button[type=submit]`)
	p.await(`document.querySelector('#signed-in').innerText === 'signed in as alice'`, "alice signed in again")
	raw, err := os.ReadFile(srv.config)
	if err != nil {
		t.Fatal(err)
	}
	without := strings.Replace(string(raw), "[[admin_token]]\nname = \"alice\"\nfile = \"alice-token\"\n", "", 1)
	if without == string(raw) {
		t.Fatal("alice's token is not in the test configuration")
	}
	testutil.WriteFile(t, srv.config, without)
	eventually(t, "the reload to drop alice's token", func() bool {
		code, _ := srv.request(t, http.MethodGet, "/api/v1/whoami", nil, aliceToken)
		return code == http.StatusUnauthorized
	})
	p.open("/")
	p.await(signedIn+`.hidden && !sessionStorage.getItem('spallocd.admin-token')`, "the revoked token forgotten")
}
