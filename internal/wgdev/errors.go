package wgdev

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// deviceError is an error a router owner can read. It matches one of the
// domain's sentinel errors with errors.Is and keeps the low-level cause in
// its chain for logs, so that no errno text is the message itself.
type deviceError struct {
	msg      string
	sentinel error // vpn.ErrDeviceUnreachable, vpn.ErrNoDevice, os.ErrExist, or nil
	cause    error
}

func (e *deviceError) Error() string { return e.msg }

func (e *deviceError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.sentinel != nil {
		errs = append(errs, e.sentinel)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// isPermission reports whether err is the kernel refusing an operation for
// lack of privileges.
func isPermission(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES)
}

// unreachable returns the error for a WireGuard that cannot be reached at
// all, with the reason in words a router owner understands.
func unreachable(err error) error {
	var reason string
	switch {
	case errors.Is(err, syscall.EPROTONOSUPPORT):
		reason = "this system does not support the netlink protocol WireGuard is controlled with " +
			"(expected under qemu-user emulation, not on a router)"
	case isPermission(err):
		reason = "permission denied; wgpanel must run as root (CAP_NET_ADMIN)"
	default:
		reason = err.Error()
	}
	return &deviceError{
		msg:      "WireGuard cannot be reached: " + reason,
		sentinel: vpn.ErrDeviceUnreachable,
		cause:    err,
	}
}

// noDevice returns the error for an interface that does not exist.
func noDevice(name string, err error) error {
	return &deviceError{
		msg:      fmt.Sprintf("interface %s does not exist", name),
		sentinel: vpn.ErrNoDevice,
		cause:    err,
	}
}

// translate turns an error from wgctrl into the domain's terms. Errors that
// mean neither "unreachable" nor "no such interface" are wrapped with op as
// context; they are internal errors.
func translate(op, name string, err error) error {
	var de *deviceError
	err = withErrno(err)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &de):
		return err
	case errors.Is(err, os.ErrNotExist):
		// wgctrl reports both a missing kernel device (ENODEV, ENOTSUP) and
		// a missing UAPI socket this way.
		return noDevice(name, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		// A socket in /var/run/wireguard nobody listens on is what a
		// userspace WireGuard leaves behind when it is killed.
		return &deviceError{
			msg:      fmt.Sprintf("interface %s does not exist (only a stale control socket is left in /var/run/wireguard)", name),
			sentinel: vpn.ErrNoDevice,
			cause:    err,
		}
	case errors.Is(err, syscall.EPROTONOSUPPORT), isPermission(err):
		return unreachable(err)
	default:
		return fmt.Errorf("wgdev: %s %s: %w", op, name, err)
	}
}

// withErrno makes the error number in a userspace device's UAPI reply
// ("wguser: errno=98") matchable with errors.Is, as a kernel error is.
func withErrno(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	i := strings.LastIndex(msg, "errno=")
	if i < 0 {
		return err
	}
	n, convErr := strconv.Atoi(strings.TrimSpace(msg[i+len("errno="):]))
	if convErr != nil || n <= 0 {
		return err
	}
	return fmt.Errorf("%w (%w)", syscall.Errno(n), err)
}
