package httpapi

import (
	"io/fs"
	"strings"
	"testing"
)

func TestDashboardPages(t *testing.T) {
	e := newEnv(t)
	id := e.createJob("alice", oneBoard(), "spin")
	cases := []struct {
		path     string
		code     int
		contains []string
	}{
		{"/", 200, []string{`data-page="overview"`, `src="/static/app.js`, `id="machines"`, "v9.8.7"}},
		{"/jobs", 200, []string{`data-page="jobs"`, `id="job-filters"`, `type="datetime-local"`}},
		{"/audit", 200, []string{`data-page="audit"`, `id="audit-filters"`, `href="/audit"`}},
		{"/jobs/" + itoa(id), 200, []string{`data-page="job"`, `data-job="` + itoa(id) + `"`, "Job " + itoa(id)}},
		{"/machines/spin", 200, []string{`data-page="machine"`, `data-machine="spin"`}},
		{"/jobs/12345", 404, []string{"There is no job 12345."}},
		{"/machines/%3Cscript%3E", 404, []string{"&lt;script&gt;"}},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			r := e.get(c.path)
			if r.code != c.code {
				t.Fatalf("status %d, want %d", r.code, c.code)
			}
			if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q, want HTML", ct)
			}
			if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("CSP %q does not restrict the page to its own origin", csp)
			}
			for _, s := range c.contains {
				if !strings.Contains(string(r.body), s) {
					t.Errorf("page lacks %q", s)
				}
			}
			if strings.Contains(string(r.body), "<script>") {
				t.Errorf("page contains an unescaped <script>")
			}
		})
	}
	if r := e.get("/static/app.js"); !strings.Contains(r.header.Get("Content-Type"), "javascript") {
		t.Errorf("app.js served as %q", r.header.Get("Content-Type"))
	}
}

// TestDashboardIsSelfContained: no embedded file loads anything from
// another origin (the dashboard must work without Internet access).
func TestDashboardIsSelfContained(t *testing.T) {
	err := fs.WalkDir(webFS, "web", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(webFS, path)
		if err != nil {
			return err
		}
		text := strings.ReplaceAll(string(data), "http://www.w3.org/2000/svg", "")
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s refers to %q", path, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
