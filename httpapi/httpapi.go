package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/spalloc/spallocd/service"
)

// Defaults of Options.
const (
	DefaultRequestTimeout = 10 * time.Second
	DefaultMaxBodyBytes   = 64 << 10
	// APIPrefix is where the JSON API lives.
	APIPrefix = "/api/v1"
)

// Options configure New. Only the service is required.
type Options struct {
	// Tokens authorise mutations (Authorization: Bearer <token>), each in
	// the name of its holder; the daemon replaces them on a reload. nil or
	// no token at all disables every mutation (403).
	Tokens *Tokens
	Logger *slog.Logger
	// Version is reported by /version, /healthz and the dashboard.
	Version string
	// Registry is served at /metrics. nil = a fresh registry.
	Registry *prometheus.Registry
	// Metrics are the transport-fed metrics registered in Registry (see
	// NewMetrics). nil = New creates them in Registry.
	Metrics *Metrics
	// Checks are extra health checks shown by /healthz, by name (e.g.
	// "bmp_workers"); an error makes the server unhealthy.
	Checks map[string]func(context.Context) error
	// Done, when closed, ends the server-sent event streams so that
	// http.Server.Shutdown does not wait for them (typically the daemon
	// context's Done channel).
	Done <-chan struct{}
	// RequestTimeout bounds the work of each API request (not the event
	// stream). 0 = DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxBodyBytes limits request bodies. 0 = DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// HeartbeatInterval is how often an idle event stream sends a comment
	// to keep proxies from closing it. 0 = 15 s.
	HeartbeatInterval time.Duration
}

// api is the state shared by the handlers.
type api struct {
	svc    *service.Service
	opts   Options
	log    *slog.Logger
	tokens *Tokens
}

// New returns the HTTP handler of the admin API, dashboard, health,
// version and metrics endpoints of svc.
func New(svc *service.Service, opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = 15 * time.Second
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Metrics == nil {
		m, err := NewMetrics(opts.Registry, svc, MetricsOptions{Version: opts.Version})
		if err != nil {
			opts.Logger.Error("metrics not registered", "err", err)
		}
		opts.Metrics = m
	}
	a := &api{svc: svc, opts: opts, log: opts.Logger, tokens: opts.Tokens}
	if a.tokens == nil {
		a.tokens = NewTokens(nil)
	}
	return a.routes()
}

func (a *api) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(a.recoverer, securityHeaders, routeUnescaped, noFolderListing)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeErrorMsg(w, http.StatusNotFound, fmt.Sprintf("no such path: %s", r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeErrorMsg(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path))
	})

	// Event stream: no request timeout, it lives as long as the client.
	r.Get(APIPrefix+"/events", a.events)

	r.Group(func(r chi.Router) {
		r.Use(a.timeout)
		r.Get("/healthz", a.health)
		r.Get("/version", a.version)
		r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(a.opts.Registry, promhttp.HandlerOpts{
			ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelError), ErrorHandling: promhttp.ContinueOnError,
		}))
		a.dashboardRoutes(r)

		r.Route(APIPrefix, func(r chi.Router) {
			r.Get("/health", a.health)
			r.Get("/version", a.version)
			r.Get("/machines", a.listMachines)
			r.Get("/machines/{machine}", a.getMachine)
			r.Get("/machines/{machine}/boards/{x}/{y}/{z}", a.getBoard)
			r.Get("/machines/{machine}/boards/{x}/{y}/{z}/history", a.boardHistory)
			r.Get("/machines/{machine}/boards/{x}/{y}/{z}/reports", a.boardReports)
			r.Get("/jobs", a.listJobs)
			r.Get("/jobs/{id}", a.getJob)
			r.Get("/jobs/{id}/boards", a.jobBoards)
			r.Get("/machines/{machine}/bmps", a.machineBMPs)
			r.Get("/machines/{machine}/utilisation", a.machineUtilisation)
			r.Get("/emergency_stop", a.emergencyStopState)
			r.Get("/queue", a.queue)
			r.Get("/where_is", a.whereIs)
			r.Get("/operations", a.pendingOps)
			r.Get("/consistency", a.consistency)
			r.Get("/audit", a.audit)

			r.Group(func(r chi.Router) {
				r.Use(a.requireAdmin)
				r.Get("/whoami", a.whoami)
				r.Post("/jobs/{id}/destroy", a.destroyJob)
				r.Post("/machines/{machine}/boards/{x}/{y}/{z}/out_of_service", a.boardOutOfService)
				r.Post("/machines/{machine}/boards/{x}/{y}/{z}/in_service", a.boardInService)
				r.Post("/machines/{machine}/boards/{x}/{y}/{z}/power", a.powerBoard)
				r.Put("/machines/{machine}/boards/{x}/{y}/{z}/links/{link}", a.setLink)
				r.Post("/emergency_stop", a.emergencyStop)
				r.Post("/resume", a.resume)
				r.Post("/machines/{machine}/drain", a.drainMachine)
				r.Post("/machines/{machine}/undrain", a.undrainMachine)
			})
		})
	})
	return r
}

// timeout bounds the service work of a request through its context.
func (a *api) timeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), a.opts.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// recoverer turns a handler panic into a logged 500 instead of a dropped
// connection.
func (a *api) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler {
				panic(rec) // net/http's own way to abort a response
			}
			a.log.Error("http handler panicked", "method", r.Method, "path", r.URL.Path, "panic", rec, "stack", string(debug.Stack()))
			writeErrorMsg(w, http.StatusInternalServerError, "internal server error")
		}()
		next.ServeHTTP(w, r)
	})
}

// routeUnescaped makes the router match, and hand out as route parameters,
// the decoded path: chi would use the escaped one whenever a client escapes
// more than it must (e.g. %2D for "-"), and every {machine} would then be
// a name no machine has.
func routeUnescaped(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rctx := chi.RouteContext(r.Context()); rctx != nil && r.URL.RawPath != "" {
			rctx.RoutePath = r.URL.Path
		}
		next.ServeHTTP(w, r)
	})
}

// noFolderListing answers 404 for a folder of the static files: the file
// server would list it.
func noFolderListing(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/static/") && strings.HasSuffix(r.URL.Path, "/") {
			writeErrorMsg(w, http.StatusNotFound, fmt.Sprintf("no such path: %s", r.URL.Path))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders keep the dashboard self-contained: no external scripts,
// styles or frames.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// NewServer returns an http.Server for handler with the timeouts and limits
// spallocd uses. The event stream lifts the write timeout for itself.
func NewServer(addr string, handler http.Handler, logger *slog.Logger) *http.Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Addr:              addr,
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}
