package wgdev

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"regexp"
	"sync"
	"syscall"

	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// DefaultMTU is the MTU Up gives an interface when LinkConfig.MTU is 0.
const DefaultMTU = 1420

// Kinds of Link.
const (
	KindKernel    = "kernel"
	KindUserspace = "userspace"
)

// LinkConfig is what Up needs to create an interface.
type LinkConfig struct {
	Name       string
	PrivateKey wgtypes.Key
	ListenPort int // 0 lets the device pick a free port
	Addresses  []netip.Prefix
	MTU        int // 0 means DefaultMTU
}

// Hooks tests replace to reach paths a test machine cannot.
var (
	// hasNetAdmin reports whether the process may create interfaces.
	hasNetAdmin = capNetAdmin
	// tryKernel says whether Up tries a kernel WireGuard link first.
	tryKernel = true
)

// capNetAdmin reports whether the effective capabilities include
// CAP_NET_ADMIN. When they cannot be read it says yes and leaves the
// verdict to the kernel.
func capNetAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return true
	}
	return data[0].Effective&(1<<unix.CAP_NET_ADMIN) != 0
}

// Link is an interface Up created. Close removes it.
type Link struct {
	name  string
	kind  string
	index uint32
	log   *slog.Logger

	// Userspace only; empty in a build without the embedded wireguard-go.
	userspaceLink

	// Kernel only.
	watcher *linkWatcher

	closing   chan struct{} // closed when teardown starts
	done      chan struct{} // closed when teardown has finished
	closeOnce sync.Once
	closeErr  error
}

// Name returns the interface name.
func (l *Link) Name() string { return l.name }

// Kind returns KindKernel or KindUserspace.
func (l *Link) Kind() string { return l.kind }

// Done returns a channel that is closed once the interface is gone and
// everything Up set up for it is released: after Close, or when the
// interface disappeared by itself (for example `ip link del`). Once it is
// closed the name and the listen port are free again.
func (l *Link) Done() <-chan struct{} { return l.done }

// Close removes the interface and releases what Up set up for it: the
// wireguard-go device, its UAPI listener and socket file, or the kernel
// link. It is safe to call more than once and after Done is closed.
func (l *Link) Close() error {
	l.teardown()
	return l.closeErr
}

func (l *Link) teardown() {
	l.closeOnce.Do(func() {
		close(l.closing)
		l.closeUserspace()
		if l.watcher != nil {
			l.watcher.stop()
			if err := deleteLinkIfOurs(l.index, l.name); err != nil {
				l.closeErr = fmt.Errorf("wgdev: remove interface %s: %w", l.name, err)
			}
		}
		close(l.done)
	})
}

// sockPath is where wireguard-go's UAPI socket for interface name lives.
func sockPath(name string) string { return "/var/run/wireguard/" + name + ".sock" }

// validIfname matches the interface names wg-quick accepts, which are all
// names Linux accepts short of exotic characters.
var validIfname = regexp.MustCompile(`^[a-zA-Z0-9_=+.-]{1,15}$`)

func (cfg *LinkConfig) validate() error {
	if !validIfname.MatchString(cfg.Name) || cfg.Name == "." || cfg.Name == ".." {
		return fmt.Errorf("%q is not a valid interface name (1-15 letters, digits or _=+.-)", cfg.Name)
	}
	if cfg.PrivateKey == (wgtypes.Key{}) {
		return fmt.Errorf("interface %s: the private key is empty", cfg.Name)
	}
	if cfg.ListenPort < 0 || cfg.ListenPort > math.MaxUint16 {
		return fmt.Errorf("interface %s: listen port %d is out of range 0-65535", cfg.Name, cfg.ListenPort)
	}
	if cfg.MTU != 0 && (cfg.MTU < 576 || cfg.MTU > math.MaxUint16) {
		return fmt.Errorf("interface %s: MTU %d is out of range 576-65535", cfg.Name, cfg.MTU)
	}
	for _, p := range cfg.Addresses {
		if !p.IsValid() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			return fmt.Errorf("interface %s: %q is not a valid IPv4 or IPv6 address with prefix length", cfg.Name, p)
		}
		if p.Addr().Is6() && cfg.MTU != 0 && cfg.MTU < 1280 {
			return fmt.Errorf("interface %s: IPv6 needs an MTU of at least 1280, not %d", cfg.Name, cfg.MTU)
		}
	}
	return nil
}

// needsRoot is the error for a process that may not create interfaces.
func needsRoot(name string, err error) error {
	return &deviceError{
		msg:      fmt.Sprintf("creating interface %s needs root (CAP_NET_ADMIN)", name),
		sentinel: vpn.ErrDeviceUnreachable,
		cause:    err,
	}
}

// exists is the error for a name someone else's interface already has.
func exists(name string, err error) error {
	return &deviceError{
		msg: fmt.Sprintf("interface %s already exists; wgpanel does not take over or delete an interface "+
			"it did not create (remove it or choose another name)", name),
		sentinel: os.ErrExist,
		cause:    err,
	}
}

// Up creates the WireGuard interface cfg describes, sets its private key
// and listen port, adds its addresses, sets its MTU and brings it up. It
// creates a kernel WireGuard link when the kernel has WireGuard, else an
// embedded wireguard-go device that wgctrl and wg(8) find through
// /var/run/wireguard/<name>.sock; a build with the nouserspace tag has no
// such device and fails instead. It fails, and changes nothing, when an
// interface with that name exists already.
//
// The error wraps vpn.ErrDeviceUnreachable when the system cannot create
// the interface at all (no root, no /dev/net/tun, or no kernel WireGuard in
// a nouserspace build).
func Up(ctx context.Context, cfg LinkConfig, log *slog.Logger) (*Link, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("wgdev: %w", err)
	}
	if cfg.MTU == 0 {
		cfg.MTU = DefaultMTU
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !hasNetAdmin() {
		return nil, needsRoot(cfg.Name, syscall.EPERM)
	}
	rt, err := rtnetlink.Dial(nil)
	if err != nil {
		if isPermission(err) {
			return nil, needsRoot(cfg.Name, err)
		}
		return nil, fmt.Errorf("wgdev: open rtnetlink: %w", err)
	}
	defer rt.Close()
	if lm, err := findLink(rt, cfg.Name); err != nil {
		return nil, fmt.Errorf("wgdev: %w", err)
	} else if lm != nil {
		return nil, exists(cfg.Name, nil)
	}

	l := &Link{
		name:    cfg.Name,
		log:     log.With("interface", cfg.Name),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if tryKernel {
		err = createKernelLink(rt, cfg.Name, cfg.MTU)
		switch {
		case err == nil:
			l.kind = KindKernel
		case errors.Is(err, unix.EOPNOTSUPP):
			// The kernel has no WireGuard: use wireguard-go, if this build has it.
		case errors.Is(err, unix.EEXIST):
			return nil, exists(cfg.Name, err)
		case isPermission(err):
			return nil, needsRoot(cfg.Name, err)
		default:
			return nil, fmt.Errorf("wgdev: create kernel WireGuard interface %s: %w", cfg.Name, err)
		}
	}
	if l.kind == KindKernel {
		err = l.upKernel(rt, cfg)
	} else {
		l.kind = KindUserspace
		err = l.upUserspace(ctx, rt, cfg)
	}
	if err != nil {
		return nil, err
	}
	l.log.Info("WireGuard interface up", "kind", l.kind, "listen_port", cfg.ListenPort,
		"addresses", cfg.Addresses, "mtu", cfg.MTU)
	return l, nil
}

// upKernel configures the kernel link createKernelLink made.
func (l *Link) upKernel(rt *rtnetlink.Conn, cfg LinkConfig) (err error) {
	lm, err := findLink(rt, cfg.Name)
	if err == nil && lm == nil {
		err = fmt.Errorf("interface %s vanished right after it was created", cfg.Name)
	}
	if err != nil {
		return fmt.Errorf("wgdev: %w", err)
	}
	l.index = lm.Index
	defer func() {
		if err != nil {
			if derr := deleteLinkIfOurs(l.index, l.name); derr != nil {
				l.log.Error("cannot remove the half-configured interface", "err", derr)
			}
		}
	}()

	wg, err := wgctrl.New()
	if err != nil {
		return unreachable(err)
	}
	wcfg := wgtypes.Config{PrivateKey: &cfg.PrivateKey}
	if cfg.ListenPort != 0 {
		wcfg.ListenPort = &cfg.ListenPort
	}
	err = wg.ConfigureDevice(cfg.Name, wcfg)
	wg.Close()
	if err != nil {
		return translate("configure", cfg.Name, err)
	}
	if err := l.addAddresses(rt, cfg); err != nil {
		return err
	}
	// The kernel opens the UDP socket when the link goes up.
	if err := setUp(rt, l.index); err != nil {
		if errors.Is(err, unix.EADDRINUSE) {
			return portInUse(cfg.ListenPort, err)
		}
		return fmt.Errorf("wgdev: bring %s up: %w", cfg.Name, err)
	}
	if l.watcher, err = watchLink(l.index, l.log); err != nil {
		return fmt.Errorf("wgdev: %w", err)
	}
	go l.waitGone(l.watcher.gone)
	return nil
}

// addAddresses adds cfg's addresses to the link.
func (l *Link) addAddresses(rt *rtnetlink.Conn, cfg LinkConfig) error {
	for _, p := range cfg.Addresses {
		err := addAddress(rt, l.index, p)
		switch {
		case err == nil:
		case p.Addr().Is6() && errors.Is(err, unix.EACCES):
			// The kernel answers EACCES, not EPERM, when IPv6 is disabled.
			return fmt.Errorf("wgdev: cannot add %s to %s: IPv6 is disabled on this system "+
				"(sysctl net.ipv6.conf.all.disable_ipv6): %w", p, cfg.Name, err)
		case isPermission(err):
			return needsRoot(cfg.Name, err)
		default:
			return fmt.Errorf("wgdev: add address %s to %s: %w", p, cfg.Name, err)
		}
	}
	return nil
}

// waitGone tears the link down when the device goes away by itself.
func (l *Link) waitGone(gone <-chan struct{}) {
	select {
	case <-gone:
		select {
		case <-l.closing:
		default:
			l.log.Warn("WireGuard interface went away")
		}
		l.teardown()
	case <-l.closing:
	}
}
