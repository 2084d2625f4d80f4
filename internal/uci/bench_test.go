package uci

import (
	"bytes"
	"fmt"
	"testing"
)

// peersFile is network.wireguard-example plus n anonymous peer sections as
// LuCI writes them.
func peersFile(b testing.TB, n int) []byte {
	var buf bytes.Buffer
	// Drop the final empty line; every section starts with one.
	buf.Write(bytes.TrimSuffix(readFixture(b, "network.wireguard-example"), []byte("\n")))
	for i := range n {
		fmt.Fprintf(&buf, "\nconfig wireguard_wg0\n"+
			"\toption description 'peer-%d'\n"+
			"\toption public_key 'M1d0jWvad5v3w/OOZI7BAEn9pppVkm3XDuw8NM9B%04d='\n"+
			"\toption preshared_key 'ts3g4OqyrM2P3aky65O1v3AKzHdxkrmUGr3urb8C%04d='\n"+
			"\tlist allowed_ips '10.66.%d.%d/32'\n"+
			"\tlist allowed_ips 'fd66:66:66::%x/128'\n"+
			"\toption route_allowed_ips '1'\n"+
			"\toption persistent_keepalive '25'\n",
			i, i, i, 66+(i+4)/256, (i+4)%256, i+4)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

func BenchmarkParseSerialize250Peers(b *testing.B) {
	data := peersFile(b, 250)
	f, err := Parse("network", data)
	if err != nil {
		b.Fatal(err)
	}
	if got := len(f.SectionsByType("wireguard_wg0")); got != 252 {
		b.Fatalf("got %d peers; want 252", got)
	}
	if !bytes.Equal(f.Bytes(), data) {
		b.Fatal("Bytes() differs from the generated uci-export file")
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := Parse("network", data)
		if err != nil {
			b.Fatal(err)
		}
		_ = f.Bytes()
	}
}
