package vpn

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status and one CLI message.
const (
	EINVALID     = "invalid"     // bad input: a name, a key, an address
	ENOTFOUND    = "not_found"   // unknown peer
	ECONFLICT    = "conflict"    // duplicate name, no free address
	EUNAVAILABLE = "unavailable" // the device cannot be reached
	ECONFIG      = "config"      // a config file is malformed or missing what is needed
	EINTERNAL    = "internal"
)

// Sentinel errors returned by Device implementations.
var (
	ErrDeviceUnreachable = errors.New("WireGuard cannot be reached on this system")
	ErrNoDevice          = errors.New("the WireGuard interface does not exist")
)

// Error is an error a router owner can read. Message is one sentence that
// says what is wrong and, where possible, what to do.
type Error struct {
	Code    string
	Message string
	Field   string // the request field at fault, if any
	Err     error  // the underlying cause, for logs; may be nil
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, EINTERNAL for errors that are not *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, ErrDeviceUnreachable) || errors.Is(err, ErrNoDevice) {
		return EUNAVAILABLE
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	if errors.Is(err, ErrDeviceUnreachable) || errors.Is(err, ErrNoDevice) {
		return err.Error()
	}
	return "internal error: " + err.Error()
}
