package bmp

import "github.com/spalloc/spallocd/service"

// Backend is what the workers need from the service, for tests outside
// the package that wrap the real service (to inject failures).
type Backend = backend

// FastSettings and ShortTimeouts are the [bmp] settings of the tests.
var (
	FastSettings  = fastSettings
	ShortTimeouts = shortTimeouts
)

// NewManagerWith is NewManager over any backend, woken by subscribe (the
// wrapped service's Subscribe).
func NewManagerWith(svc Backend, subscribe func() *service.Subscription, opts ManagerOptions) *Manager {
	return newManager(svc, func() changeFeed { return svcFeed{subscribe()} }, opts)
}
