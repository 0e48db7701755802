package httpapi

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/spalloc/spallocd/service"
)

// The dashboard is server-rendered page shells (templates) filled and kept
// current by one embedded script that reads the JSON API and listens to the
// event stream. Everything it needs is embedded: it works without Internet
// access and under a strict Content-Security-Policy.

//go:embed web/templates/*.html web/static/*
var webFS embed.FS

// pageData is what the page templates see.
type pageData struct {
	Title   string
	Page    string // selects the script's page logic: overview, jobs, job, machine, audit, notfound
	Version string
	JobID   int64
	Machine string
	Message string
}

// pages are the parsed templates, one per page, each with the layout.
var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range []string{"overview", "jobs", "job", "machine", "audit", "notfound"} {
		out[name] = template.Must(template.ParseFS(webFS,
			"web/templates/layout.html", "web/templates/legend.html", "web/templates/pager.html", "web/templates/"+name+".html"))
	}
	return out
}()

func (a *api) dashboardRoutes(r chi.Router) {
	static, err := fs.Sub(webFS, "web/static")
	if err != nil {
		panic(err) // the embedded tree is fixed at compile time
	}
	r.Get("/", a.overviewPage)
	r.Get("/jobs", a.jobsPage)
	r.Get("/jobs/{id}", a.jobPage)
	r.Get("/machines/{machine}", a.machinePage)
	r.Get("/audit", a.auditPage)
	r.Handle("/static/*", http.StripPrefix("/static/", http.FileServerFS(static)))
}

// render writes a page; templates are rendered to a buffer first so that a
// failure is a clean 500, not half a page.
func (a *api) render(w http.ResponseWriter, r *http.Request, code int, name string, d pageData) {
	d.Page, d.Version = name, a.opts.Version
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		a.log.Error("dashboard template failed", "page", name, "err", err)
		writeErrorMsg(w, http.StatusInternalServerError, "internal server error")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func (a *api) notFoundPage(w http.ResponseWriter, r *http.Request, msg string) {
	a.render(w, r, http.StatusNotFound, "notfound", pageData{Title: "Not found", Message: msg})
}

func (a *api) overviewPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "overview", pageData{Title: "Overview"})
}

func (a *api) jobsPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "jobs", pageData{Title: "Jobs"})
}

func (a *api) auditPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "audit", pageData{Title: "Audit log"})
}

func (a *api) jobPage(w http.ResponseWriter, r *http.Request) {
	raw := chi.URLParam(r, "id")
	var id int64
	if _, err := fmt.Sscan(raw, &id); err != nil || id <= 0 {
		a.notFoundPage(w, r, fmt.Sprintf("%q is not a job id.", raw))
		return
	}
	if _, err := a.svc.JobDetail(r.Context(), id); err != nil {
		if service.KindOf(err) == service.KindNotFound {
			a.notFoundPage(w, r, fmt.Sprintf("There is no job %d.", id))
			return
		}
		a.writeError(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "job", pageData{Title: fmt.Sprintf("Job %d", id), JobID: id})
}

func (a *api) machinePage(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "machine")
	if _, err := a.svc.MachineDetail(r.Context(), name); err != nil {
		if service.KindOf(err) == service.KindNotFound {
			a.notFoundPage(w, r, fmt.Sprintf("There is no machine %q.", name))
			return
		}
		a.writeError(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "machine", pageData{Title: "Machine " + name, Machine: name})
}
