package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spalloc/spallocd/bmp"
	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/httpapi"
	"github.com/spalloc/spallocd/internal/buildinfo"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/config"
	"github.com/spalloc/spallocd/tcpserver"
)

// A graceful stop takes at most shutdownGrace (README, "Signals"):
// in-flight v1 and HTTP requests and the BMP workers' work in flight
// finish side by side, and then the database is closed, in the last
// closeReserve. BMP packets in flight get bmpStopGrace for their answers,
// so that the workers' last calls to the service (bmp.StopCallsTimeout)
// end, with a margin, before the database is closed.
const (
	shutdownGrace = 5 * time.Second
	closeReserve  = time.Second
	bmpStopGrace  = shutdownGrace - closeReserve - bmp.StopCallsTimeout - 250*time.Millisecond
)

// daemon is one running server: every component and how to stop it.
type daemon struct {
	log      *slog.Logger
	opts     *options
	svc      *service.Service
	fakes    *fakeFleet
	bmps     *bmp.Manager
	tcp      *tcpserver.Server
	lock     *db.Lock
	tcpLn    net.Listener // bound, not yet served
	httpLn   net.Listener // bound, not yet served
	tcpAddr  string       // where the v1 protocol listens
	httpAddr string       // where the admin API listens
	tokens   *httpapi.Tokens
	http     *http.Server
	reloader *reloader
	metrics  *httpapi.Metrics
	registry *prometheus.Registry
	httpDone chan struct{} // closed at shutdown: ends dashboard event streams

	bmpCtx   context.Context
	stopBMPs context.CancelFunc
	stopRun  context.CancelFunc
	errc     chan error // fatal errors of background components
	done     []chan struct{}
}

func loadConfig(o *options) (*config.Config, error) {
	if o.configPath == "" {
		return config.Demo(), nil
	}
	return config.Load(o.configPath)
}

// applyFlags lets the command-line flags that were given override the
// [server] settings (an empty --http disables HTTP); the demo keeps its
// database in the user's state folder.
func applyFlags(cfg *config.Config, o *options) error {
	if o.given["listen"] {
		cfg.Server.Listen = o.listen
	}
	if o.given["http"] {
		cfg.Server.HTTP = o.httpAddr
	}
	if o.given["db"] && o.dbPath == "" {
		return errors.New("--db: give a database file")
	}
	if o.configPath == "" {
		if err := placeDemoState(cfg, o.given["db"]); err != nil {
			return err
		}
	}
	if o.given["db"] {
		cfg.Server.Database = o.dbPath
	}
	return nil
}

// startDaemon starts every component in an order that keeps a server that
// cannot run from doing harm: the database lock first (a second server on
// the same database changes nothing), then the listeners (a port in use
// fails before the database is migrated or a BMP hears a packet), then the
// database, and the BMP workers last.
func startDaemon(ctx context.Context, o *options, log *slog.Logger, stdout io.Writer) (_ *daemon, err error) {
	cfg, err := loadConfig(o)
	if err != nil {
		return nil, err
	}
	if err := applyFlags(cfg, o); err != nil {
		return nil, err
	}
	logWarnings(log, cfg)
	d := &daemon{log: log, opts: o, fakes: newFakeFleet(), errc: make(chan error, 4)}
	defer func() {
		if err != nil {
			d.shutdown()
		}
	}()
	if d.lock, err = db.LockDatabase(cfg.Server.Database); err != nil {
		return nil, err
	}
	if err := d.listen(cfg); err != nil {
		return nil, err
	}
	if err := d.fakes.sync(cfg); err != nil {
		return nil, err
	}
	if o.coldStart {
		if err := d.lock.RemoveDatabase(); err != nil {
			return nil, err
		}
	}
	d.svc, err = service.Open(ctx, service.Options{
		DBPath:       cfg.Server.Database,
		Logger:       log,
		TickInterval: cfg.Server.KeepaliveCheckInterval,
	})
	if err != nil {
		return nil, err
	}
	// Subscribed before the configuration is applied: the allocations that
	// makes count too. ObserveAllocations closes it once it runs.
	allocs := d.svc.Subscribe()
	defer func() {
		if err != nil {
			allocs.Close()
		}
	}()
	report, err := d.svc.ApplyConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("apply configuration: %w", err)
	}
	logReload(log, report)
	d.registry = prometheus.NewRegistry()
	if d.metrics, err = httpapi.NewMetrics(d.registry, d.svc, httpapi.MetricsOptions{
		Commands: tcpserver.Commands(), Version: buildinfo.Version(), Commit: buildinfo.Commit()}); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}

	runCtx, stopRun := context.WithCancel(context.Background())
	d.stopRun = stopRun
	d.goRun(func() error { return d.svc.Run(runCtx) })
	d.goRun(func() error { return d.metrics.ObserveAllocations(runCtx, allocs) })
	d.serveTCP(cfg)
	d.serveHTTP()

	d.bmpCtx, d.stopBMPs = context.WithCancel(context.Background())
	d.bmps = bmp.NewManager(d.svc, bmp.ManagerOptions{
		Settings: cfg.BMP, Resolve: d.fakes.resolve, SettingsFor: d.fakes.settingsFor(cfg.BMP), Logger: log,
		Observer: bmpMetrics{d.metrics}, StopGrace: bmpStopGrace})
	d.goRun(func() error { return d.bmps.Run(d.bmpCtx) })

	if o.configPath != "" {
		d.reloader, err = startReloader(o.configPath, log, d.reload)
		if err != nil {
			return nil, err
		}
	}
	d.announce(stdout, cfg)
	return d, nil
}

// goRun runs a background component; its failure stops the daemon.
func (d *daemon) goRun(f func() error) {
	done := make(chan struct{})
	d.done = append(d.done, done)
	go func() {
		defer close(done)
		if err := f(); err != nil && !errors.Is(err, context.Canceled) {
			d.errc <- err
		}
	}()
}

// listen binds the v1 protocol and HTTP ports (and reads the admin tokens,
// which the HTTP API needs); nothing is served yet.
func (d *daemon) listen(cfg *config.Config) error {
	var err error
	if d.tcpLn, err = net.Listen("tcp", cfg.Server.Listen); err != nil {
		return fmt.Errorf("v1 protocol listener: %w", err)
	}
	d.tcpAddr = d.tcpLn.Addr().String()
	if cfg.Server.HTTP == "" {
		return nil
	}
	tokens, err := readTokens(d.log, cfg)
	if err != nil {
		return err
	}
	d.tokens = httpapi.NewTokens(tokens)
	if d.httpLn, err = net.Listen("tcp", cfg.Server.HTTP); err != nil {
		return fmt.Errorf("HTTP listener: %w", err)
	}
	d.httpAddr = d.httpLn.Addr().String()
	return nil
}

func (d *daemon) serveTCP(cfg *config.Config) {
	bmps := 0
	for _, m := range cfg.Machines {
		bmps += len(m.BMPs)
	}
	total, perAddress := cfg.Server.ConnectionLimits(openFileLimit(), bmps)
	d.log.Info("v1 connection limits", "max_connections", total, "max_connections_per_address", perAddress)
	d.tcp = tcpserver.New(d.svc, tcpserver.Options{
		MaxLineBytes: cfg.Server.MaxLineBytes, MaxOutBuffer: cfg.Server.MaxOutputBytes,
		MaxConnections: total, MaxConnectionsPerAddress: perAddress, Logger: d.log, Recorder: d.metrics})
	ln := d.tcpLn
	d.tcpLn = nil // Serve owns it now
	d.goRun(func() error { return d.tcp.Serve(context.Background(), ln) })
}

func (d *daemon) serveHTTP() {
	if d.httpLn == nil {
		return
	}
	d.httpDone = make(chan struct{})
	h := httpapi.New(d.svc, httpapi.Options{
		Tokens: d.tokens, Logger: d.log, Version: buildinfo.Version(),
		Registry: d.registry, Metrics: d.metrics, Done: d.httpDone,
		Checks: map[string]func(context.Context) error{"bmp_workers": d.bmpWorkersAlive},
	})
	d.http = httpapi.NewServer(d.httpAddr, h, d.log)
	ln := d.httpLn
	d.httpLn = nil // Serve owns it now
	d.goRun(func() error {
		if err := d.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("HTTP server: %w", err)
		}
		return nil
	})
}

func (d *daemon) bmpWorkersAlive(context.Context) error {
	if !d.bmps.Running() {
		return errors.New("the BMP workers are not running")
	}
	return nil
}

// bmpMetrics feeds BMP worker outcomes into the Prometheus metrics.
type bmpMetrics struct{ m *httpapi.Metrics }

func (bmpMetrics) Step(bmp.StepEvent) {}
func (b bmpMetrics) OpDone(e bmp.OpEvent) {
	b.m.BMPOperation(e.Op.Kind, e.Latency, e.Err)
}

func (d *daemon) announce(w io.Writer, cfg *config.Config) {
	printSummary(cfg, w)
	fmt.Fprintf(w, "spallocd %s: v1 protocol on %s, database %s\n", buildinfo.Version(), d.tcpAddr, cfg.Server.Database)
	if d.http != nil {
		fmt.Fprintf(w, "dashboard and admin API on http://%s/\n", d.httpAddr)
	}
	printFirstSteps(w, d.tcpAddr, d.httpAddr, cfg.Server.AdminTokenFile, d.opts.configPath == "")
}

// reload re-reads the configuration file; an invalid file changes nothing.
func (d *daemon) reload(ctx context.Context) {
	cfg, err := config.Load(d.opts.configPath)
	if err == nil {
		err = applyFlags(cfg, d.opts)
	}
	if err != nil {
		d.log.Error("configuration reload failed; nothing changed", "file", d.opts.configPath, "err", err)
		return
	}
	logWarnings(d.log, cfg)
	var tokens []config.NamedToken
	if d.tokens != nil {
		if tokens, err = readTokens(d.log, cfg); err != nil {
			d.log.Error("configuration reload failed; nothing changed", "file", d.opts.configPath, "err", err)
			return
		}
	}
	if err := d.fakes.sync(cfg); err != nil {
		d.log.Error("configuration reload failed; nothing changed", "file", d.opts.configPath, "err", err)
		return
	}
	report, err := d.svc.ApplyConfig(ctx, cfg)
	if err != nil {
		d.log.Error("configuration reload failed", "file", d.opts.configPath, "err", err)
		return
	}
	logReload(d.log, report)
	if d.tokens != nil {
		d.tokens.Set(tokens)
	}
	if err := d.bmps.Sync(ctx); err != nil {
		d.log.Error("BMP workers after reload", "err", err)
	}
}

// readTokens reads the admin tokens of cfg and logs whose they are.
func readTokens(log *slog.Logger, cfg *config.Config) ([]config.NamedToken, error) {
	tokens, err := cfg.ReadAdminTokens()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(tokens))
	for i, t := range tokens {
		names[i] = t.Name
	}
	log.Info("admin tokens", "names", names)
	return tokens, nil
}

func logWarnings(log *slog.Logger, cfg *config.Config) {
	for _, w := range cfg.Warnings {
		log.Warn("configuration", "warning", w)
	}
}

func logReload(log *slog.Logger, r service.ReloadReport) {
	log.Info("configuration applied", "added", r.Added, "unchanged", r.Unchanged,
		"changed_minor", r.Minor, "recreated", r.Major, "removed", r.Removed)
}

// wait blocks until a signal or a failed component, then stops gracefully.
func (d *daemon) wait(ctx context.Context) error {
	var err error
	select {
	case <-ctx.Done():
		d.log.Info("stopping")
	case err = <-d.errc:
	}
	d.shutdown()
	return err
}

// shutdown stops accepting, lets in-flight requests and BMP packets finish
// side by side, and closes the database, all within shutdownGrace. Boards
// of running jobs stay powered.
func (d *daemon) shutdown() {
	if d.reloader != nil {
		d.reloader.close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace-closeReserve)
	defer cancel()
	for _, ln := range []net.Listener{d.tcpLn, d.httpLn} {
		if ln != nil {
			ln.Close()
		}
	}
	// The BMP workers get their grace from now, not after the requests.
	if d.stopBMPs != nil {
		d.stopBMPs()
	}
	if d.stopRun != nil {
		d.stopRun()
	}
	if d.tcp != nil {
		d.tcp.Shutdown(ctx)
	}
	if d.http != nil {
		close(d.httpDone)
		d.http.Shutdown(ctx)
	}
	for _, done := range d.done {
		select {
		case <-done:
		case <-ctx.Done():
			d.log.Warn("a component did not stop in time")
		}
	}
	if d.svc != nil {
		if err := d.svc.Close(); err != nil {
			d.log.Error("closing the database", "err", err)
		}
	}
	d.fakes.close()
	d.lock.Release()
}
