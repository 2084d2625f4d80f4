package reach

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// A minimal STUN client (RFC 8489): one Binding request, answered with the
// address the server saw. It is written here rather than taken from
// github.com/pion/stun/v3 because that module added 131 KB to the ARMv7
// router binary (8,061,090 bytes stripped against the 8,000,000 budget)
// and pulled newer golang.org/x modules; this needs the standard library.

// STUN constants (RFC 8489, section 5 and 18).
const (
	stunHeaderLen       = 20
	stunMagicCookie     = 0x2112A442
	stunBindingRequest  = 0x0001
	stunBindingSuccess  = 0x0101
	stunAttrMapped      = 0x0001
	stunAttrXORMapped   = 0x0020
	stunFamilyIPv4      = 0x01
	stunFamilyIPv6      = 0x02
	stunDefaultPort     = "3478"
	stunFirstRetransmit = 500 * time.Millisecond
)

// DiscoverTimeout is how long Discover waits for an answer in all.
const DiscoverTimeout = 3 * time.Second

// ErrNoAnswer is returned when the STUN server did not answer in time.
var ErrNoAnswer = errors.New("no answer")

// Discover sends a STUN Binding request from an ephemeral UDP port over
// IPv4 to server (host or host:port; port 3478 when absent) and returns the
// address and port the server saw it come from. It retransmits at 0.5 s,
// then 1 s later (RFC 8489's doubling), and gives up after timeout with an
// error wrapping ErrNoAnswer.
func Discover(ctx context.Context, server string, timeout time.Duration) (netip.AddrPort, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		host, port = server, stunDefaultPort
	}
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	var ip netip.Addr
	for _, a := range addrs {
		if x, perr := netip.ParseAddr(a); perr == nil && x.Unmap().Is4() {
			ip = x.Unmap()
			break
		}
	}
	if err != nil || !ip.IsValid() {
		if ctx.Err() != nil {
			return netip.AddrPort{}, fmt.Errorf("the STUN server %s: %w within %s (its name did not resolve)", server, ErrNoAnswer, seconds(timeout))
		}
		return netip.AddrPort{}, fmt.Errorf("the STUN server name %s does not resolve to an IPv4 address", host)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return netip.AddrPort{}, fmt.Errorf("the STUN server %s has no valid port", server)
	}
	// A connected socket receives only the server's datagrams.
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp4", netip.AddrPortFrom(ip, uint16(p)).String())
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("opening a UDP socket: %w", err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()

	var txID [12]byte
	rand.Read(txID[:])
	req := make([]byte, stunHeaderLen)
	binary.BigEndian.PutUint16(req[0:], stunBindingRequest)
	binary.BigEndian.PutUint32(req[4:], stunMagicCookie)
	copy(req[8:], txID[:])

	// The sender retransmits at most twice, each time after twice the
	// previous wait, while the reader waits for the matching answer.
	go func() {
		wait := stunFirstRetransmit
		for range 3 {
			if _, err := conn.Write(req); err != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait *= 2
		}
	}()
	buf := make([]byte, 1500)
	for range 64 {
		n, err := conn.Read(buf)
		if err != nil {
			// A refused datagram (ICMP port unreachable) is no answer either.
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) || isTimeout(err) || errors.Is(err, syscall.ECONNREFUSED) {
				return netip.AddrPort{}, fmt.Errorf("the STUN server %s: %w within %s", server, ErrNoAnswer, seconds(timeout))
			}
			return netip.AddrPort{}, fmt.Errorf("reading the STUN answer: %w", err)
		}
		if ap, ok := parseBindingSuccess(buf[:n], txID); ok {
			return ap, nil
		}
	}
	return netip.AddrPort{}, fmt.Errorf("the STUN server %s sent no valid answer", server)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}

// parseBindingSuccess returns the mapped address of a Binding success
// response to the transaction txID: XOR-MAPPED-ADDRESS, else the older
// MAPPED-ADDRESS.
func parseBindingSuccess(msg []byte, txID [12]byte) (netip.AddrPort, bool) {
	if len(msg) < stunHeaderLen || binary.BigEndian.Uint16(msg[0:]) != stunBindingSuccess ||
		binary.BigEndian.Uint32(msg[4:]) != stunMagicCookie || [12]byte(msg[8:20]) != txID {
		return netip.AddrPort{}, false
	}
	length := int(binary.BigEndian.Uint16(msg[2:]))
	if stunHeaderLen+length > len(msg) {
		return netip.AddrPort{}, false
	}
	attrs := msg[stunHeaderLen : stunHeaderLen+length]
	var mapped netip.AddrPort
	for len(attrs) >= 4 {
		typ := binary.BigEndian.Uint16(attrs[0:])
		alen := int(binary.BigEndian.Uint16(attrs[2:]))
		if 4+alen > len(attrs) {
			break
		}
		val := attrs[4 : 4+alen]
		switch typ {
		case stunAttrXORMapped:
			if ap, ok := parseAddress(val, msg[4:20]); ok {
				return ap, true
			}
		case stunAttrMapped:
			if ap, ok := parseAddress(val, nil); ok {
				mapped = ap
			}
		}
		// Attributes are padded to a multiple of 4 bytes.
		next := 4 + (alen+3)&^3
		if next > len(attrs) {
			break
		}
		attrs = attrs[next:]
	}
	return mapped, mapped.IsValid()
}

// parseAddress reads a (XOR-)MAPPED-ADDRESS value; xor is the magic cookie
// and transaction ID for XOR-MAPPED-ADDRESS, nil for MAPPED-ADDRESS.
func parseAddress(v, xor []byte) (netip.AddrPort, bool) {
	if len(v) < 4 {
		return netip.AddrPort{}, false
	}
	port := binary.BigEndian.Uint16(v[2:])
	var ip []byte
	switch v[1] {
	case stunFamilyIPv4:
		if len(v) < 8 {
			return netip.AddrPort{}, false
		}
		ip = append([]byte(nil), v[4:8]...)
	case stunFamilyIPv6:
		if len(v) < 20 {
			return netip.AddrPort{}, false
		}
		ip = append([]byte(nil), v[4:20]...)
	default:
		return netip.AddrPort{}, false
	}
	if xor != nil {
		port ^= uint16(stunMagicCookie >> 16)
		for i := range ip {
			ip[i] ^= xor[i]
		}
	}
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a.Unmap(), port), true
}
