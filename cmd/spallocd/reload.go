package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// reloadSettle is how long the configuration file must be quiet before a
// change on disk is applied: editors write a file in several steps.
const reloadSettle = 200 * time.Millisecond

// reloader calls reload on SIGHUP and when the configuration file changes on
// disk. It watches the file's folder, not the file, so that editors that
// replace the file (write a temporary, rename it over) are noticed too.
type reloader struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startReloader(path string, log *slog.Logger, reload func(context.Context)) (*reloader, error) {
	watcher, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		watcher.Close()
		return nil, err
	}
	if err := watcher.Add(filepath.Dir(abs)); err != nil {
		watcher.Close()
		return nil, err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(context.Background())
	r := &reloader{cancel: cancel}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer watcher.Close()
		defer signal.Stop(hup)
		r.loop(ctx, abs, watcher, hup, log, reload)
	}()
	return r, nil
}

func (r *reloader) loop(ctx context.Context, file string, w *fsnotify.Watcher, hup <-chan os.Signal,
	log *slog.Logger, reload func(context.Context)) {
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			log.Info("SIGHUP: reloading configuration", "file", file)
			reload(ctx)
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if filepath.Clean(ev.Name) == file && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) != 0 {
				settle.Reset(reloadSettle)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			log.Warn("watching the configuration file", "err", err)
		case <-settle.C:
			log.Info("configuration file changed: reloading", "file", file)
			reload(ctx)
		}
	}
}

func (r *reloader) close() {
	r.cancel()
	r.wg.Wait()
}
