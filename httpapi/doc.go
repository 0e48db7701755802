// Package httpapi serves the operator side of spallocd over HTTP (README,
// "HTTP admin API and dashboard"): the JSON admin API under /api/v1/, the live web dashboard,
// health and version endpoints, and Prometheus metrics at /metrics.
//
// It owns routing, request parsing and limits, the admin bearer-token rule
// for mutations, the mapping of service errors to status codes, the JSON
// shapes of the API, the embedded dashboard (templates, CSS, JavaScript, no
// external resources), the server-sent event stream fed by the service's
// change feed, and the metrics registry that tcpserver and the BMP workers
// feed through the service.ProtocolRecorder and service.BMPRecorder
// interfaces.
//
// Every decision about jobs, machines and boards belongs to package
// service; this package never imports db, tcpserver or bmp and holds no
// domain state.
package httpapi
