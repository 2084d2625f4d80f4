package wgdev

import (
	"net"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"

	"github.com/wgpanel/wgpanel/internal/testutil"
)

// TestLinkLookupByIndex checks the lookups the vanished-link checks rely on,
// with bridges (any kernel has them): with several links present the one
// asked for is found, and once it is deleted it is reported gone, without
// an error, by linkExists and deleteLinkIfOurs alike.
func TestLinkLookupByIndex(t *testing.T) {
	if !testutil.InNetNS(t) {
		return
	}
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "ip")

	c, err := rtnetlink.Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	index := func(name string) uint32 {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			t.Fatal(err)
		}
		return uint32(ifi.Index)
	}
	br1, br2 := ifname(t, "l1"), ifname(t, "l2")
	run(t, "ip", "link", "add", "name", br1, "type", "bridge")
	run(t, "ip", "link", "add", "name", br2, "type", "bridge")
	i1, i2 := index(br1), index(br2)

	for _, tc := range []struct {
		index uint32
		name  string
	}{{1, "lo"}, {i1, br1}, {i2, br2}} {
		lm, err := linkByIndex(c, tc.index)
		if err != nil {
			t.Fatalf("linkByIndex(%d): %v", tc.index, err)
		}
		if lm == nil || lm.Attributes == nil || lm.Attributes.Name != tc.name {
			t.Fatalf("linkByIndex(%d): got %+v; want %s", tc.index, lm, tc.name)
		}
		if ok, err := linkExists(tc.index); !ok || err != nil {
			t.Errorf("linkExists(%d) for %s: got %v, %v; want true, nil", tc.index, tc.name, ok, err)
		}
	}

	run(t, "ip", "link", "del", br1)
	if lm, err := linkByIndex(c, i1); lm != nil || err != nil {
		t.Errorf("linkByIndex after ip link del: got %+v, %v; want nil, nil", lm, err)
	}
	if ok, err := linkExists(i1); ok || err != nil {
		t.Errorf("linkExists after ip link del: got %v, %v; want false, nil", ok, err)
	}
	if err := deleteLinkIfOurs(i1, br1); err != nil {
		t.Errorf("deleteLinkIfOurs on a vanished link: %v; want nil", err)
	}
	// The other bridge is untouched.
	if ok, err := linkExists(i2); !ok || err != nil {
		t.Errorf("linkExists(%s): got %v, %v; want true, nil", br2, ok, err)
	}
}
