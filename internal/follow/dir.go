package follow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dirEvents are the inotify events that mean a file in the directory may
// have new content: written in place and closed, renamed into place (how
// libuci, LuCI and wgpanel commit), created, or removed.
const dirEvents = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM

// WatchDir calls changed from its own goroutine with the file's name
// whenever one of the files called names in dir is written, replaced,
// created or removed, until ctx ends. It watches the directory, not the
// files, because writers rename new files over the old ones, which a watch
// on the old file would not follow. It returns once the watch is in place.
//
// The inotify descriptor is read through the runtime's network poller, so
// waiting costs no wake-up. When the kernel's event queue overflowed,
// changed is called for every name.
func WatchDir(ctx context.Context, dir string, names []string, changed func(name string), log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, dirEvents|unix.IN_ONLYDIR); err != nil {
		unix.Close(fd)
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	// A non-blocking descriptor handed to os.NewFile is polled by the
	// runtime, and Close unblocks a pending Read.
	f := os.NewFile(uintptr(fd), "inotify:"+dir)
	stop := context.AfterFunc(ctx, func() { f.Close() })
	go func() {
		defer stop()
		defer f.Close()
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				if !errors.Is(err, os.ErrClosed) {
					log.Warn("watching the configuration directory stopped; changes made outside wgpanel are noticed only on interface events and SIGUSR1", "dir", dir, "err", err)
				}
				return
			}
			if !dispatch(buf[:n], names, changed) {
				log.Warn("the configuration directory was removed or unmounted; no longer watching it", "dir", dir)
				return
			}
		}
	}()
	return nil
}

// dispatch calls changed for each event in buf about one of names. It
// reports false when the watch ended (the directory is gone).
func dispatch(buf []byte, names []string, changed func(string)) bool {
	for len(buf) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(buf) {
			return true
		}
		name := cString(buf[unix.SizeofInotifyEvent:end])
		buf = buf[end:]
		switch {
		case ev.Mask&unix.IN_Q_OVERFLOW != 0:
			for _, n := range names {
				changed(n)
			}
		case ev.Mask&unix.IN_IGNORED != 0:
			return false
		case slices.Contains(names, name):
			changed(name)
		}
	}
	return true
}

// cString returns b up to its first NUL: inotify pads names with NULs.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
