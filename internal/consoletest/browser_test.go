package consoletest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The one Chromium helper of the suite: a headless browser per test, and a
// tab that fails the test on any browser error and on any script error of
// the page.

// tab is one browser tab on a server's dashboard.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string // the dashboard's base URL
}

// openTab starts headless Debian chromium with a fresh profile and a
// viewport of width x height, showing pages of the dashboard at base. The
// test fails if the page's scripts throw or log an error.
func openTab(t *testing.T, base string, width, height int64) *tab {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the dashboard tests need Debian's chromium (apt-get install -y chromium; scripts/test.sh installs it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(int(width), int(height)),
	}
	// The whole browser session is bounded, so a page that never shows
	// what is expected fails the test instead of hanging it.
	ctx, cancelTimeout := context.WithTimeout(context.Background(), 3*time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	jsErrors := watchJSErrors(bctx)
	t.Cleanup(func() {
		if errs := jsErrors(); len(errs) > 0 {
			t.Errorf("the dashboard's script failed: %q", errs)
		}
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
	})
	p := &tab{t: t, ctx: bctx, base: base}
	p.do(chromedp.EmulateViewport(width, height))
	return p
}

// watchJSErrors collects uncaught exceptions and console.error calls of the
// page (the dashboard logs failed refreshes there) until ctx ends; the
// returned function reports those seen so far.
func watchJSErrors(ctx context.Context) func() []string {
	var mu sync.Mutex
	var seen []string
	record := func(s string) {
		mu.Lock()
		seen = append(seen, s)
		mu.Unlock()
	}
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			msg := ev.ExceptionDetails.Text
			if ex := ev.ExceptionDetails.Exception; ex != nil {
				msg += " " + ex.Description
			}
			record(msg)
		}
	}()
	go func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type != runtime.ConsoleAPICalledTypeError {
				continue
			}
			var parts []string
			for _, a := range ev.Args {
				if a.Description != "" {
					parts = append(parts, a.Description)
				} else {
					parts = append(parts, string(a.Value))
				}
			}
			record("console.error: " + strings.Join(parts, " "))
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

func (p *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
}

// open loads a dashboard page and waits for its first refresh.
func (p *tab) open(path string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.base + path))
	p.await(`Number(document.body.dataset.refreshed || 0) >= 1`, "the page's first refresh")
}

// inPage runs a script action of the page. Right after a navigation,
// chromedp may still address the previous document's script context, which
// the browser has discarded: such an attempt is made again in the new one.
func inPage[T any](p *tab, action chromedp.Action[T]) (T, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := chromedp.Run(p.ctx, action)
		if err == nil || time.Now().After(deadline) || !stale(err) {
			return v, err
		}
	}
}

// stale reports whether err says the script context is gone (a new
// document replaced it).
func stale(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Cannot find context with specified id") || strings.Contains(msg, "Execution context was destroyed")
}

// await polls a JavaScript condition until it holds.
func (p *tab) await(cond, what string) {
	p.t.Helper()
	ok, err := inPage(p, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !ok {
		p.t.Fatalf("waiting for %s (%s): %v\n%s", what, cond, err, p.seen())
	}
}

// seen is what the page shows, for a failure message: its address and the
// start of its text.
func (p *tab) seen() string {
	text, err := inPage(p, chromedp.Evaluate[string](`location.href + '\n' + document.body.innerText.slice(0, 3000)`))
	if err != nil {
		return fmt.Sprintf("(the page cannot be read: %v)", err)
	}
	return "the page showed: " + text
}

// clickUntil clicks sel until cond holds (three clicks at most, a few
// seconds apart). A live update that moves the element between the moment
// chromedp measures it and the moment it presses the mouse makes a click
// miss, as it would make a user's; a user clicks again.
func (p *tab) clickUntil(sel, cond, what string) {
	p.t.Helper()
	for try := 1; ; try++ {
		p.click(sel)
		ok, err := inPage(p, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(5*time.Second)))
		if err == nil && ok {
			return
		}
		if try == 3 {
			p.t.Fatalf("after %d clicks on %s, waiting for %s (%s): %v\n%s", try, sel, what, cond, err, p.seen())
		}
	}
}

func evalJS[T any](p *tab, expr string) T {
	p.t.Helper()
	v, err := inPage(p, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// click clicks the element sel with the mouse, as a user does.
func (p *tab) click(sel string) {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.CSS(sel)))
}

func (p *tab) typeInto(sel, text string) {
	p.t.Helper()
	p.do(chromedp.SendKeys(chromedp.CSS(sel), text))
}

func (p *tab) text(sel string) string {
	p.t.Helper()
	return evalJS[string](p, fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ''`, sel))
}

// confirm fills the open action dialog (reason, token when asked) and
// submits it.
func (p *tab) confirm(reason, token string) {
	p.t.Helper()
	p.await(`!!document.querySelector('#action-dialog[open]')`, "the action dialog")
	if reason != "" {
		p.typeInto(`#action-dialog input[name=reason]`, reason)
	}
	if token != "" {
		p.typeInto(`#action-dialog input[name=token]`, token)
	}
	p.click(`#action-dialog button[type=submit]`)
}

func (p *tab) dialogClosed() {
	p.t.Helper()
	closed, err := inPage(p, chromedp.Poll[bool](`!document.querySelector('#action-dialog[open]')`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !closed {
		p.t.Fatalf("the action dialog stays open (%v): %q", err, p.text(`#action-dialog`))
	}
}

// settled waits until the page's transitions (a board changing colour)
// have finished, so that a picture shows the colours the page settles on.
func (p *tab) settled() {
	p.t.Helper()
	p.await(`document.getAnimations().every(a => a.playState !== 'running')`, "the page's transitions to end")
}

// screenshot saves what the viewport shows as an artefact.
func (p *tab) screenshot(name string) {
	p.t.Helper()
	p.settled()
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatal(err)
	}
	saveArtefact(p.t, name, png)
}

// fullScreenshot saves the whole page as an artefact.
func (p *tab) fullScreenshot(name string) {
	p.t.Helper()
	p.settled()
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatal(err)
	}
	saveArtefact(p.t, name, png)
}

// saveArtefact writes a screenshot under the test's temp dir and, when
// SPALLOC_ARTIFACTS names a folder, there too.
func saveArtefact(t *testing.T, name string, png []byte) {
	t.Helper()
	dirs := []string{t.TempDir()}
	if dir := os.Getenv("SPALLOC_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	for _, dir := range dirs {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
}

// overflowJS lists the visible elements that reach beyond the viewport's
// width (a page that scrolls sideways on a phone).
const overflowJS = `(() => {
	const width = document.documentElement.clientWidth;
	const bad = [];
	for (const e of document.querySelectorAll('body *')) {
		const r = e.getBoundingClientRect();
		if (r.width === 0 && r.height === 0) continue;
		if (r.right > width + 1 || r.left < -1) {
			const name = e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
				(e.getAttribute('class') ? '.' + e.getAttribute('class').trim().split(/\s+/).join('.') : '');
			bad.push(name + ' spans ' + Math.round(r.left) + '..' + Math.round(r.right));
		}
	}
	return JSON.stringify({width, scrollWidth: document.documentElement.scrollWidth, bad: bad.slice(0, 15)});
})()`

// checkNoOverflow fails the test if any element of the page is wider than
// the viewport.
func (p *tab) checkNoOverflow(what string) {
	p.t.Helper()
	var got struct {
		Width       int      `json:"width"`
		ScrollWidth int      `json:"scrollWidth"`
		Bad         []string `json:"bad"`
	}
	if err := json.Unmarshal([]byte(evalJS[string](p, overflowJS)), &got); err != nil {
		p.t.Fatal(err)
	}
	if len(got.Bad) > 0 || got.ScrollWidth > got.Width {
		p.t.Errorf("%s at %d px: page %d px wide; elements beyond the viewport: %s", what, got.Width, got.ScrollWidth, strings.Join(got.Bad, "; "))
	}
}

// hexSel selects a board's hexagon on the map of machine.
func hexSel(machine string, b [3]int) string {
	return fmt.Sprintf(`svg.map[data-machine=%q] polygon.board[data-x="%d"][data-y="%d"][data-z="%d"]`, machine, b[0], b[1], b[2])
}
