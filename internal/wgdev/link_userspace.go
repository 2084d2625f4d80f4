//go:build !nouserspace

package wgdev

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/ipc"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// This file is the embedded wireguard-go device Up falls back to when the
// kernel has no WireGuard. The nouserspace build tag leaves it, and with it
// wireguard-go's device, TUN and UAPI code, out of the binary;
// link_nouserspace.go stands in for it then.

// userspaceBuilt reports whether this build has the embedded wireguard-go.
const userspaceBuilt = true

// tunPath is the TUN clone device whose absence Up reports. Tests replace it.
var tunPath = "/dev/net/tun"

// userspaceLink is the part of a Link only a userspace device has.
type userspaceLink struct {
	dev        *device.Device
	uapi       net.Listener
	acceptDone chan struct{}
}

// closeUserspace releases the userspace device, if the Link has one. It is
// part of teardown.
func (l *Link) closeUserspace() {
	if l.dev == nil {
		return
	}
	// Closing the device closes the TUN file, and the kernel deletes a TUN
	// link when its last file is closed.
	l.dev.Close()
	if err := l.uapi.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		l.log.Debug("close UAPI listener", "err", err)
	}
	<-l.acceptDone
}

// upUserspace creates and configures an embedded wireguard-go device.
func (l *Link) upUserspace(ctx context.Context, rt *rtnetlink.Conn, cfg LinkConfig) (err error) {
	if _, err := os.Stat(tunPath); err != nil {
		return &deviceError{
			msg:      fmt.Sprintf("no %s: load the tun module (modprobe tun) to create interface %s", tunPath, cfg.Name),
			sentinel: vpn.ErrDeviceUnreachable,
			cause:    err,
		}
	}

	// The UAPI socket comes first: it fails when a wireguard-go with this
	// name runs in another network namespace, before anything is created.
	f, err := ipc.UAPIOpen(cfg.Name)
	if err != nil {
		switch {
		case isPermission(err):
			return needsRoot(cfg.Name, err)
		case err.Error() == "unix socket in use":
			return &deviceError{
				msg: fmt.Sprintf("another WireGuard process already serves interface %s "+
					"(/var/run/wireguard/%s.sock is in use)", cfg.Name, cfg.Name),
				sentinel: os.ErrExist,
				cause:    err,
			}
		default:
			return fmt.Errorf("wgdev: open UAPI socket for %s: %w", cfg.Name, err)
		}
	}
	l.uapi, err = ipc.UAPIListen(cfg.Name, f)
	f.Close()
	if err != nil {
		os.Remove(sockPath(cfg.Name))
		return fmt.Errorf("wgdev: listen on UAPI socket for %s: %w", cfg.Name, err)
	}

	tdev, err := tun.CreateTUN(cfg.Name, cfg.MTU)
	if err != nil {
		l.uapi.Close()
		switch {
		case isPermission(err):
			return needsRoot(cfg.Name, err)
		case errors.Is(err, unix.EBUSY), errors.Is(err, unix.EEXIST):
			return exists(cfg.Name, err)
		default:
			return fmt.Errorf("wgdev: create TUN interface %s: %w", cfg.Name, err)
		}
	}
	l.dev = device.NewDevice(tdev, conn.NewDefaultBind(), l.deviceLogger())
	l.acceptDone = make(chan struct{})
	go l.acceptUAPI()
	defer func() {
		if err != nil {
			l.teardown()
		}
	}()

	// The key is written straight into the device, never formatted
	// anywhere a log could show it.
	var b strings.Builder
	b.WriteString("private_key=")
	b.WriteString(hex.EncodeToString(cfg.PrivateKey[:]))
	b.WriteString("\n")
	if cfg.ListenPort != 0 {
		b.WriteString("listen_port=" + strconv.Itoa(cfg.ListenPort) + "\n")
	}
	// wireguard-go may have brought the device up on its own already (the
	// TUN reports itself up as soon as it exists), so setting the port can
	// be what fails when it is taken.
	if err := l.dev.IpcSet(b.String()); err != nil {
		if errors.Is(err, unix.EADDRINUSE) {
			return portInUse(cfg.ListenPort, err)
		}
		return fmt.Errorf("wgdev: configure %s: %w", cfg.Name, err)
	}

	lm, err := findLink(rt, cfg.Name)
	if err == nil && lm == nil {
		err = fmt.Errorf("interface %s vanished right after it was created", cfg.Name)
	}
	if err != nil {
		return fmt.Errorf("wgdev: %w", err)
	}
	l.index = lm.Index
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := l.addAddresses(rt, cfg); err != nil {
		return err
	}
	if err := setUp(rt, l.index); err != nil {
		return fmt.Errorf("wgdev: bring %s up: %w", cfg.Name, err)
	}
	// wireguard-go opens its UDP socket when it sees the TUN go up, and
	// only logs a failure there. Bringing the device up here as well
	// (a no-op if it is up already) returns that failure to the caller.
	if err := l.dev.Up(); err != nil {
		if errors.Is(err, unix.EADDRINUSE) {
			return portInUse(cfg.ListenPort, err)
		}
		return fmt.Errorf("wgdev: start %s: %w", cfg.Name, err)
	}
	// When binding fails, wireguard-go forgets the configured port, and the
	// next attempt (the TUN reporting itself up again, or the Up above)
	// silently binds a random one. Only the port it ended up with tells.
	if cfg.ListenPort != 0 {
		if got, err := l.listenPort(); err != nil {
			return fmt.Errorf("wgdev: read back %s: %w", cfg.Name, err)
		} else if got != cfg.ListenPort {
			return portInUse(cfg.ListenPort, fmt.Errorf("wireguard-go fell back to port %d: %w", got, unix.EADDRINUSE))
		}
	}
	go l.waitGone(l.dev.Wait())
	return nil
}

// listenPort returns the port the userspace device listens on.
func (l *Link) listenPort() (int, error) {
	// The reply holds the private key too; it stays in this function.
	state, err := l.dev.IpcGet()
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(state) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "listen_port="); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, nil
}

// acceptUAPI serves wgctrl and wg(8) on the UAPI socket until the listener
// is closed. wireguard-go exits when its socket file is deleted, since the
// device can no longer be managed; the Link does the same.
func (l *Link) acceptUAPI() {
	defer close(l.acceptDone)
	for {
		c, err := l.uapi.Accept()
		if err != nil {
			select {
			case <-l.closing:
			default:
				l.log.Error("the control socket "+sockPath(l.name)+" was removed or failed; "+
					"closing the interface, which can no longer be managed", "err", err)
				// Not l.teardown: it waits for this goroutine.
				l.dev.Close()
			}
			return
		}
		go l.dev.IpcHandle(c)
	}
}

// deviceLogger adapts wireguard-go's logger to slog. Its verbose output
// (every handshake and keepalive) is dropped; errors are kept, except
// while the Link closes the device, when wireguard-go reports the TUN
// vanishing under it. "No known endpoint for peer" is only a debug
// message: on a road-warrior server every phone that has not dialled in
// yet has no endpoint, and wireguard-go says so at error level each time
// it has something to send to it.
func (l *Link) deviceLogger() *device.Logger {
	return &device.Logger{
		Verbosef: device.DiscardLogf,
		Errorf: func(format string, args ...any) {
			select {
			case <-l.closing:
				return
			default:
			}
			msg := "wireguard-go: " + fmt.Sprintf(format, args...)
			if strings.Contains(msg, "no known endpoint for peer") {
				l.log.Debug(msg)
				return
			}
			l.log.Error(msg)
		},
	}
}
