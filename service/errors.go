package service

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that each transport can map it: the TCP
// server to {"exception": msg}, the HTTP API to a status code, metrics to a
// label.
type Kind int

const (
	KindInternal    Kind = iota // a bug or an I/O failure; details go to the log
	KindInvalid                 // the request is malformed or a value is out of range
	KindNotFound                // no such job, machine, board, ...
	KindConflict                // the request clashes with the current state
	KindUnavailable             // refused for now (emergency stop, shutting down)
)

func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindNotFound:
		return "not_found"
	case KindConflict:
		return "conflict"
	case KindUnavailable:
		return "unavailable"
	default:
		return "internal"
	}
}

// Error is the one error type the service returns to transports. Msg is
// written for the user of the transport; Err (optional) is the cause, for
// logs only.
type Error struct {
	Kind Kind
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil && e.Kind == KindInternal {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Invalid reports a bad request value.
func Invalid(format string, args ...any) error {
	return &Error{Kind: KindInvalid, Msg: fmt.Sprintf(format, args...)}
}

// NotFound reports a missing object.
func NotFound(format string, args ...any) error {
	return &Error{Kind: KindNotFound, Msg: fmt.Sprintf(format, args...)}
}

// Conflict reports a request that clashes with the current state.
func Conflict(format string, args ...any) error {
	return &Error{Kind: KindConflict, Msg: fmt.Sprintf(format, args...)}
}

// Unavailable reports a request refused for now.
func Unavailable(format string, args ...any) error {
	return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected failure; the user sees only msg.
func Internal(msg string, err error) error {
	return &Error{Kind: KindInternal, Msg: msg, Err: err}
}

// Logged reports whether the service has logged err already: every error
// it returns is one of its own, and it logs those of kind internal where
// they happen. A transport logs only errors for which Logged is false (its
// own), so that each failure is logged once.
func Logged(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// KindOf returns the kind of err (KindInternal for foreign errors).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// UserMessage is what a transport may show a client for err: the message of
// a service error, or a generic text for anything else.
func UserMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return "internal server error"
}
