package api

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// zbar decodes a QR code image with Debian's zbarimg, the decoder
// TESTING.md names, and returns the exact bytes it holds.
func zbar(t *testing.T, img []byte) string {
	t.Helper()
	if _, err := exec.LookPath("zbarimg"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("zbarimg is not installed; CI must install zbar-tools")
		}
		t.Skip("zbarimg (Debian zbar-tools) is not installed; it checks the QR codes")
	}
	path := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(path, img, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("zbarimg", "--raw", "-q", "-1", "--nodbus", path).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	return string(out)
}

var svgRun = regexp.MustCompile(`^M(\d+) (\d+)h(\d+)v1h-(\d+)z`)

// decodeSVG rasterizes the SVG qrSVG makes (runs of modules in one path)
// and decodes it with zbarimg.
func decodeSVG(t *testing.T, svg string) string {
	t.Helper()
	m := regexp.MustCompile(`viewBox="0 0 (\d+) (\d+)"`).FindStringSubmatch(svg)
	if m == nil || m[1] != m[2] {
		t.Fatalf("SVG has no square viewBox: %.80q", svg)
	}
	n, _ := strconv.Atoi(m[1])
	d := regexp.MustCompile(`<path fill="#000" d="([^"]*)"/>`).FindStringSubmatch(svg)
	if d == nil || strings.Count(svg, "<path") != 1 {
		t.Fatalf("SVG does not have exactly one path: %.80q", svg)
	}
	const scale = 4
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	path := d[1]
	for path != "" {
		r := svgRun.FindStringSubmatch(path)
		if r == nil {
			t.Fatalf("unexpected path data at %.40q", path)
		}
		x, _ := strconv.Atoi(r[1])
		y, _ := strconv.Atoi(r[2])
		w, _ := strconv.Atoi(r[3])
		if r[3] != r[4] || x+w > n || y >= n {
			t.Fatalf("bad run %q in a %d-module code", r[0], n)
		}
		for px := x * scale; px < (x+w)*scale; px++ {
			for py := y * scale; py < (y+1)*scale; py++ {
				img.SetGray(px, py, color.Gray{})
			}
		}
		path = path[len(r[0]):]
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return zbar(t, buf.Bytes())
}

// TestQR checks both QR routes with a real decoder: each holds exactly the
// config the download gives.
func TestQR(t *testing.T) {
	e := newEnv(t)
	c := e.add("phone", "full")
	base := "/api/peers/" + c.Peer.ID

	w := e.do("GET", base+"/qr.png", "")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "image/png" {
		t.Fatalf("qr.png: %d %q; want 200 image/png", w.Code, w.Header().Get("Content-Type"))
	}
	img, err := png.Decode(bytes.NewReader(w.Body.Bytes()))
	if err != nil {
		t.Fatalf("qr.png is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != b.Dy() || b.Dx()%qrModulePixels != 0 || b.Dx() < 200 {
		t.Errorf("qr.png is %v; want a square of whole %d-pixel modules, at least 200 px", b, qrModulePixels)
	}
	if got := zbar(t, w.Body.Bytes()); got != c.Config {
		t.Errorf("qr.png decodes to %q; want the config %q", got, c.Config)
	}

	w = e.do("GET", base+"/qr.svg", "")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("qr.svg: %d %q; want 200 image/svg+xml", w.Code, w.Header().Get("Content-Type"))
	}
	if got := decodeSVG(t, w.Body.String()); got != c.Config {
		t.Errorf("qr.svg decodes to %q; want the config %q", got, c.Config)
	}

	unknown := vpn.KeyID(mustKey(t).PublicKey())
	for _, suffix := range []string{"/qr.png", "/qr.svg"} {
		wantError(t, e.do("GET", "/api/peers/"+unknown+suffix, ""), http.StatusNotFound, "")
		wantError(t, e.do("GET", "/api/peers/short"+suffix, ""), http.StatusBadRequest, "id")
	}
}

// TestQRSVGMatchesBitmap checks the SVG module by module against the
// encoder's bitmap, without a decoder.
func TestQRSVGMatchesBitmap(t *testing.T) {
	const text = "[Interface]\nPrivateKey = x\n"
	svg, err := qrSVG(text)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := qrcode.New(text, qrcode.Medium)
	bm := q.Bitmap()
	got := make([][]bool, len(bm))
	for i := range got {
		got[i] = make([]bool, len(bm))
	}
	d := svg[strings.Index(svg, ` d="`)+4:]
	d = d[:strings.IndexByte(d, '"')]
	for d != "" {
		r := svgRun.FindStringSubmatch(d)
		if r == nil {
			t.Fatalf("unexpected path data at %.40q", d)
		}
		x, _ := strconv.Atoi(r[1])
		y, _ := strconv.Atoi(r[2])
		w, _ := strconv.Atoi(r[3])
		for i := range w {
			if got[y][x+i] {
				t.Fatalf("module %d,%d drawn twice", x+i, y)
			}
			got[y][x+i] = true
		}
		d = d[len(r[0]):]
	}
	for y := range bm {
		for x := range bm[y] {
			if got[y][x] != bm[y][x] {
				t.Fatalf("module %d,%d = %v; want %v", x, y, got[y][x], bm[y][x])
			}
		}
	}
	if _, err := qrSVG(strings.Repeat("x", 3000)); err == nil {
		t.Error("qrSVG of 3000 bytes = nil error; want one (beyond QR version 40)")
	}
}

// BenchmarkQRPNG makes one QR PNG of a typical (~320-byte) client config.
func BenchmarkQRPNG(b *testing.B) {
	e := newEnv(b)
	config := e.add("phone", "split").Config
	for b.Loop() {
		if _, err := qrPNG(config); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(config)), "config-bytes")
}

// BenchmarkListPeers250 is GET /api/peers with 250 peers, all with live
// statistics, through the whole handler: session check, service, JSON.
func BenchmarkListPeers250(b *testing.B) {
	e := newEnv(b)
	now := time.Now()
	for i := range 250 {
		c := e.add(fmt.Sprintf("device-%03d", i), "split")
		k, err := vpn.ParseKey(c.Peer.ID)
		if err != nil {
			b.Fatal(err)
		}
		e.dev.SetHandshake(k, now.Add(-time.Duration(i)*time.Second), int64(i)<<20, int64(i)<<18,
			netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 51820))
	}
	if n := len(e.listPeers()); n != 250 {
		b.Fatalf("listed %d peers; want 250", n)
	}
	r := e.request("GET", "/api/peers", "")
	r.AddCookie(e.cookie)
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}
