package wgdev

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// WatchLink calls changed from its own goroutine whenever the kernel reports
// that the link called name was created, deleted or changed (for example
// set up or down), until ctx ends. netifd re-creates or re-syncs the device
// on every ifup; these notifications are how the daemon learns of it
// without polling. WatchLink returns once it is subscribed; an error means
// no notification will come.
//
// The subscription blocks in the network poller: it costs no wake-up while
// nothing happens. When the kernel drops notifications because the socket's
// buffer overran, changed is called too, since one of the lost ones may
// have been about name.
func WatchLink(ctx context.Context, name string, changed func(), log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn, err := rtnetlink.Dial(&netlink.Config{Groups: unix.RTMGRP_LINK})
	if err != nil {
		return fmt.Errorf("subscribe to interface events: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	go func() {
		defer stop()
		defer conn.Close()
		for {
			_, msgs, err := conn.Receive()
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				if errors.Is(err, unix.ENOBUFS) {
					changed()
					continue
				}
				log.Warn("interface events stopped; changes of the interface are noticed only on configuration changes and SIGUSR1", "err", err)
				return
			}
			if linkNamed(msgs, name) {
				changed()
			}
		}
	}()
	return nil
}

// linkNamed reports whether one of msgs is a link message about name.
func linkNamed(msgs []netlink.Message, name string) bool {
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWLINK && m.Header.Type != unix.RTM_DELLINK {
			continue
		}
		var lm rtnetlink.LinkMessage
		if lm.UnmarshalBinary(m.Data) == nil && lm.Attributes != nil && lm.Attributes.Name == name {
			return true
		}
	}
	return false
}
