package reach

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// stunResponder answers Binding requests on loopback the way a STUN server
// does, claiming the request came from mapped (XOR-MAPPED-ADDRESS), after
// ignoring the first drop requests. It stops with the test.
func stunResponder(t *testing.T, mapped netip.AddrPort, drop int, xor bool) string {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for range 10 {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if drop > 0 {
				drop--
				continue
			}
			if n < 20 || binary.BigEndian.Uint16(buf) != stunBindingRequest {
				continue
			}
			// A foreign attribute first: the client must skip it.
			resp := make([]byte, 20, 64)
			binary.BigEndian.PutUint16(resp[0:], stunBindingSuccess)
			copy(resp[4:20], buf[4:20])
			resp = append(resp, 0x80, 0x22, 0, 5, 'x', 'y', 'z', 'w', 'v', 0, 0, 0) // SOFTWARE, padded
			a := mapped.Addr().As4()
			port := mapped.Port()
			typ := uint16(stunAttrMapped)
			if xor {
				typ = stunAttrXORMapped
				port ^= uint16(stunMagicCookie >> 16)
				for i := range a {
					a[i] ^= resp[4+i]
				}
			}
			resp = binary.BigEndian.AppendUint16(resp, typ)
			resp = binary.BigEndian.AppendUint16(resp, 8)
			resp = append(resp, 0, stunFamilyIPv4)
			resp = binary.BigEndian.AppendUint16(resp, port)
			resp = append(resp, a[:]...)
			binary.BigEndian.PutUint16(resp[2:], uint16(len(resp)-20))
			c.WriteToUDPAddrPort(resp, from)
		}
	}()
	return c.LocalAddr().String()
}

func TestDiscover(t *testing.T) {
	want := netip.MustParseAddrPort("198.51.100.2:40001")
	for _, tt := range []struct {
		name string
		drop int
		xor  bool
	}{
		{"XOR-MAPPED-ADDRESS", 0, true},
		{"MAPPED-ADDRESS of an old server", 0, false},
		{"first request lost", 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := stunResponder(t, want, tt.drop, tt.xor)
			got, err := Discover(context.Background(), srv, 3*time.Second)
			if err != nil || got != want {
				t.Errorf("got %v, %v; want %v", got, err, want)
			}
		})
	}
}

func TestDiscoverNoAnswer(t *testing.T) {
	srv := stunResponder(t, netip.MustParseAddrPort("198.51.100.2:1"), 100, true)
	start := time.Now()
	_, err := Discover(context.Background(), srv, 700*time.Millisecond)
	if !errors.Is(err, ErrNoAnswer) {
		t.Errorf("got %v; want ErrNoAnswer", err)
	}
	if d := time.Since(start); d < 650*time.Millisecond || d > 2*time.Second {
		t.Errorf("gave up after %v; want the timeout, 0.7 s", d)
	}
}

func TestParseBindingSuccessRejects(t *testing.T) {
	var tx [12]byte
	msg := make([]byte, 20)
	binary.BigEndian.PutUint16(msg, stunBindingSuccess)
	binary.BigEndian.PutUint32(msg[4:], stunMagicCookie)
	for name, m := range map[string][]byte{
		"short":             msg[:10],
		"no address":        msg,
		"wrong transaction": append(append([]byte(nil), msg[:8]...), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12),
		"length past end":   append(append([]byte(nil), msg[:2]...), append([]byte{0, 40}, msg[4:]...)...),
	} {
		if ap, ok := parseBindingSuccess(m, tx); ok {
			t.Errorf("%s: got %v; want no address", name, ap)
		}
	}
}

func TestEndpointWarning(t *testing.T) {
	for host, want := range map[string]string{
		"192.168.2.253": "private address", "10.0.0.1": "private address", "fd00::1": "private address",
		"100.64.1.2": "carrier-grade NAT", "169.254.1.1": "link-local", "fe80::1": "link-local",
		"127.0.0.1": "not an address of this router", "203.0.113.7": "", "2001:db8::1": "", "home.example.org": "",
	} {
		got := EndpointWarning(host)
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("EndpointWarning(%s) = %q; want %q", host, got, want)
		}
	}
}
