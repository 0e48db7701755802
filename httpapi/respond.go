package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/spalloc/spallocd/service"
)

// errorBody is every error reply: {"error": "..."}.
type errorBody struct {
	Error string `json:"error"`
}

// writeJSON writes v with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing to do
}

// writeErrorMsg writes {"error": msg} with status code.
func writeErrorMsg(w http.ResponseWriter, code int, msg string) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="spallocd"`)
	}
	writeJSON(w, code, errorBody{Error: msg})
}

// badParam reports an invalid request parameter, naming it.
func badParam(w http.ResponseWriter, name, problem string) {
	writeErrorMsg(w, http.StatusBadRequest, fmt.Sprintf("parameter %q: %s", name, problem))
}

// statusOf maps a service error kind to an HTTP status code.
func statusOf(k service.Kind) int {
	switch k {
	case service.KindInvalid:
		return http.StatusBadRequest
	case service.KindNotFound:
		return http.StatusNotFound
	case service.KindConflict:
		return http.StatusConflict
	case service.KindUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// writeError maps a service error to its status and user message; internal
// details go to the log only.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.DeadlineExceeded) {
		a.log.Warn("http request timed out", "method", r.Method, "path", r.URL.Path, "timeout", a.opts.RequestTimeout)
		writeErrorMsg(w, http.StatusServiceUnavailable, "request timed out; try again")
		return
	}
	kind := service.KindOf(err)
	if kind == service.KindInternal && !service.Logged(err) { // the service logs its own
		a.log.Error("http request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeErrorMsg(w, statusOf(kind), service.UserMessage(err))
}

// decodeBody reads a JSON object body into v. An empty body leaves v as it
// is (every body field is optional or checked by the caller); unknown
// fields, trailing data and bodies over the size limit are errors. It
// writes the error reply itself and reports whether decoding succeeded.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	body := http.MaxBytesReader(w, r.Body, limit)
	data, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeErrorMsg(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", limit))
			return false
		}
		writeErrorMsg(w, http.StatusBadRequest, "cannot read request body")
		return false
	}
	if strings.TrimSpace(string(data)) == "" {
		return true
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeErrorMsg(w, http.StatusBadRequest, "request body: "+describeJSONError(err))
		return false
	}
	if dec.More() {
		writeErrorMsg(w, http.StatusBadRequest, "request body: more than one JSON value")
		return false
	}
	return true
}

// describeJSONError turns a decoding error into a message naming the field.
func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return fmt.Sprintf("field %q must be %s, not %s", typeErr.Field, jsonTypeName(typeErr.Type.Kind().String()), typeErr.Value)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Sprintf("invalid JSON at byte %d", syntaxErr.Offset)
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		return "unknown field " + strings.TrimPrefix(msg, "json: unknown field ")
	}
	return "invalid JSON: " + err.Error()
}

func jsonTypeName(goKind string) string {
	switch goKind {
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	case "int", "int64", "float64":
		return "a number"
	default:
		return "a " + goKind
	}
}

// intParam parses a required integer query or path parameter.
func intParam(w http.ResponseWriter, name, raw string) (int, bool) {
	if raw == "" {
		badParam(w, name, "is required")
		return 0, false
	}
	v, err := strconv.Atoi(raw)
	if err != nil {
		badParam(w, name, fmt.Sprintf("must be an integer, not %q", raw))
		return 0, false
	}
	return v, true
}

// optIntParam parses an optional integer query parameter; def when absent.
func optIntParam(w http.ResponseWriter, r *http.Request, name string, def, min, max int) (int, bool) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return def, true
	}
	v, ok := intParam(w, name, raw)
	if !ok {
		return 0, false
	}
	if v < min || v > max {
		badParam(w, name, fmt.Sprintf("must be between %d and %d", min, max))
		return 0, false
	}
	return v, true
}
