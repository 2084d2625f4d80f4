package wgdev

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// findLink returns the link called name, or nil when there is none.
func findLink(c *rtnetlink.Conn, name string) (*rtnetlink.LinkMessage, error) {
	links, err := c.Link.List()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	for i := range links {
		if links[i].Attributes != nil && links[i].Attributes.Name == name {
			return &links[i], nil
		}
	}
	return nil, nil
}

// createKernelLink creates a kernel WireGuard link. The error matches
// unix.EOPNOTSUPP when the kernel has no WireGuard.
func createKernelLink(c *rtnetlink.Conn, name string, mtu int) error {
	return c.Link.New(&rtnetlink.LinkMessage{
		Family: unix.AF_UNSPEC,
		Attributes: &rtnetlink.LinkAttributes{
			Name: name,
			MTU:  uint32(mtu),
			Info: &rtnetlink.LinkInfo{Kind: "wireguard"},
		},
	})
}

// addAddress adds address p to the link with index.
func addAddress(c *rtnetlink.Conn, index uint32, p netip.Prefix) error {
	family := unix.AF_INET
	if p.Addr().Is6() {
		family = unix.AF_INET6
	}
	ip := net.IP(p.Addr().AsSlice())
	return c.Address.New(&rtnetlink.AddressMessage{
		Family:       uint8(family),
		PrefixLength: uint8(p.Bits()),
		Scope:        unix.RT_SCOPE_UNIVERSE,
		Index:        index,
		Attributes:   &rtnetlink.AddressAttributes{Address: ip, Local: ip},
	})
}

// setUp brings the link with index up.
func setUp(c *rtnetlink.Conn, index uint32) error {
	return c.Link.Set(&rtnetlink.LinkMessage{
		Family: unix.AF_UNSPEC,
		Index:  index,
		Flags:  unix.IFF_UP,
		Change: unix.IFF_UP,
	})
}

// deleteLinkIfOurs deletes the link with index if it still exists and is
// still called name: after a link is gone its index could in principle
// name someone else's.
func deleteLinkIfOurs(index uint32, name string) error {
	c, err := rtnetlink.Dial(nil)
	if err != nil {
		return fmt.Errorf("open rtnetlink: %w", err)
	}
	defer c.Close()
	lm, err := linkByIndex(c, index)
	if err != nil {
		return fmt.Errorf("look up interface %s: %w", name, err)
	}
	if lm == nil || lm.Attributes == nil || lm.Attributes.Name != name {
		return nil
	}
	if err := c.Link.Delete(index); err != nil && !linkGoneErr(err) {
		return fmt.Errorf("delete interface %s: %w", name, err)
	}
	return nil
}

// linkGoneErr reports whether err from an rtnetlink request says that the
// link does not exist.
func linkGoneErr(err error) bool {
	return errors.Is(err, unix.ENODEV) || errors.Is(err, os.ErrNotExist)
}

// linkExists reports whether a link with index exists.
func linkExists(index uint32) (bool, error) {
	c, err := rtnetlink.Dial(nil)
	if err != nil {
		return false, err
	}
	defer c.Close()
	lm, err := linkByIndex(c, index)
	return lm != nil, err
}

// linkByIndex returns the link with index, or nil when there is none.
//
// It asks the kernel for that one link rather than using rtnetlink's
// LinkService.Get (v2.0.2 to v2.3.0): that sends a filtered dump request,
// and when the answer is not exactly one link (none, once the link is gone)
// it returns its own "too many/little matches" error and drops the
// kernel's, so a vanished link could never be told from a failure.
func linkByIndex(c *rtnetlink.Conn, index uint32) (*rtnetlink.LinkMessage, error) {
	msgs, err := c.Execute(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Index: index},
		unix.RTM_GETLINK, netlink.Request)
	if err != nil {
		if linkGoneErr(err) {
			return nil, nil
		}
		return nil, err
	}
	for _, m := range msgs {
		if lm, ok := m.(*rtnetlink.LinkMessage); ok && lm.Index == index {
			return lm, nil
		}
	}
	return nil, fmt.Errorf("the kernel answered the request for interface %d without it", index)
}

// linkWatcher notices when a link disappears from the network namespace:
// deleted (ip link del) or moved to another namespace.
type linkWatcher struct {
	index    uint32
	log      *slog.Logger
	conn     *rtnetlink.Conn
	gone     chan struct{} // closed when the link is gone
	stopping chan struct{}
	stopOnce sync.Once
	exited   chan struct{}
}

// watchLink starts watching the link with index. It subscribes to link
// notifications before it checks that the link exists, so that a deletion
// in between is not missed.
func watchLink(index uint32, log *slog.Logger) (*linkWatcher, error) {
	conn, err := rtnetlink.Dial(&netlink.Config{Groups: unix.RTMGRP_LINK})
	if err != nil {
		return nil, fmt.Errorf("subscribe to interface events: %w", err)
	}
	w := &linkWatcher{
		index:    index,
		log:      log,
		conn:     conn,
		gone:     make(chan struct{}),
		stopping: make(chan struct{}),
		exited:   make(chan struct{}),
	}
	go w.run()
	return w, nil
}

// pollInterval is how often the watcher checks for the link when
// notifications fail (the socket's buffer overran, say).
const pollInterval = time.Second

func (w *linkWatcher) run() {
	defer close(w.exited)
	if ok, err := linkExists(w.index); err == nil && !ok {
		close(w.gone)
		return
	}
	for {
		_, msgs, err := w.conn.Receive()
		select {
		case <-w.stopping:
			return
		default:
		}
		if err != nil {
			w.log.Warn("interface events failed; polling instead", "err", err)
			w.poll()
			return
		}
		for _, m := range msgs {
			if m.Header.Type != unix.RTM_DELLINK {
				continue
			}
			var lm rtnetlink.LinkMessage
			if lm.UnmarshalBinary(m.Data) == nil && lm.Index == w.index {
				close(w.gone)
				return
			}
		}
	}
}

// poll checks for the link every pollInterval until it is gone or the
// watcher stops.
func (w *linkWatcher) poll() {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-w.stopping:
			return
		case <-t.C:
			if ok, err := linkExists(w.index); err == nil && !ok {
				close(w.gone)
				return
			}
		}
	}
}

// stop ends the watcher and waits for it. It is safe to call more than once.
func (w *linkWatcher) stop() {
	w.stopOnce.Do(func() {
		close(w.stopping)
		w.conn.Close() // unblocks Receive
	})
	<-w.exited
}
