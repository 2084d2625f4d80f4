package openwrt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// location names one option of one section of one file in words a router
// owner can follow to the right place in LuCI or in the file.
type location struct {
	file    string // path of the UCI file
	section string // e.g. "interface 'wg0'"; "" to derive it from sec
	// f, sec and kind name the section when section is "". The label is
	// built only for an error, since it scans the file.
	f    *uci.File
	sec  *uci.Section
	kind string
}

// badOption returns the ECONFIG error for a bad value of option in loc.
// The message never contains a private or preshared key: callers pass only
// a description of what is wrong.
func (loc location) badOption(option, format string, args ...any) *vpn.Error {
	if loc.section == "" {
		loc.section = sectionLabel(loc.f, loc.sec, loc.kind)
	}
	return &vpn.Error{
		Code: vpn.ECONFIG,
		Message: fmt.Sprintf("%s: %s, option %s: %s; fix the value in LuCI or in the file",
			loc.file, loc.section, option, fmt.Sprintf(format, args...)),
	}
}

// sectionLabel names a section the way a router owner can find it: by its
// name when it has one, else by uci's @type[index] form, plus the peer's
// description when present.
func sectionLabel(f *uci.File, s *uci.Section, kind string) string {
	ref := sectionRef(f, s)
	if desc, ok := s.Get(optDescription); ok && desc != "" && kind == "peer" {
		return fmt.Sprintf("peer '%s' (section %s)", desc, ref)
	}
	return fmt.Sprintf("%s section %s", kind, ref)
}

// fileError translates an error from loading or committing a UCI file into
// one a router owner can act on. Errors that are already *vpn.Error pass
// through unchanged.
func fileError(path, action string, err error) error {
	var ve *vpn.Error
	if errors.As(err, &ve) {
		return err
	}
	var pe *uci.ParseError
	if errors.As(err, &pe) {
		file := pe.File
		if file == "" {
			file = path
		}
		return &vpn.Error{
			Code: vpn.ECONFIG,
			Message: fmt.Sprintf("%s line %d: %s; fix or restore the file (wgpanel did not change it)",
				file, pe.Line, pe.Msg),
			Err: err,
		}
	}
	if le, ok := errors.AsType[*uci.LockedError](err); ok {
		return &vpn.Error{
			Code:    vpn.EUNAVAILABLE,
			Message: fmt.Sprintf("%s: %s; nothing was changed, try again in a moment", path, le.Error()),
			Err:     err,
		}
	}
	if nr, ok := errors.AsType[*uci.NotRegularError](err); ok {
		return &vpn.Error{Code: vpn.ECONFIG, Message: nr.Error(), Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &vpn.Error{
			Code:    vpn.EUNAVAILABLE,
			Message: "The request was cancelled or took too long; nothing was changed.",
			Err:     err,
		}
	}
	if errors.Is(err, fs.ErrPermission) {
		return &vpn.Error{
			Code:    vpn.ECONFIG,
			Message: fmt.Sprintf("%s cannot be %s: permission denied; run wgpanel as root", path, action),
			Err:     err,
		}
	}
	return fmt.Errorf("openwrt: %s %s: %w", action, path, err)
}

// missingNetwork is the error for a network file that does not exist.
func missingNetwork(path string) *vpn.Error {
	return &vpn.Error{
		Code: vpn.ECONFIG,
		Message: fmt.Sprintf("%s does not exist; wgpanel reads the WireGuard interface and the LAN from it "+
			"(OpenWrt creates it at first boot; restore it from a backup)", path),
		Err: fs.ErrNotExist,
	}
}
