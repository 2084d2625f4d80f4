package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/usage"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// rssPeers is how many peers BenchmarkServeRSS gives the router, and
// rssLists how many times it lists them before it reads the memory again.
const (
	rssPeers = 250
	rssLists = 20
	rssLimit = 15.0 // MB (10^6 bytes) of resident memory, the target

	// rssSettle is how long the benchmark waits after start-up before it
	// measures. It is longer than the 2 s after which openwrt.Store.Load
	// trusts a file's timestamps enough to keep what it parsed, so the
	// lists are answered as on a router between two changes.
	rssSettle = 2500 * time.Millisecond
)

// BenchmarkServeRSS measures the resident memory of `wgpanel serve` with
// 250 peers, as the kernel counts it (VmRSS in /proc/PID/status): idle
// after start-up, and after the page's list request (GET /api/peers,
// logged in) has been answered 20 times. The peers are written into the
// network file before serve starts, in the form `peer add` writes, with
// real keys, and serve's start-up reconcile puts them on the device. The
// timed loop is GET /api/peers over loopback in the router namespace, so
// ns/op is the list request as the browser sees it.
//
// Two variants:
//   - dev: `serve --dev`, which brings up its own embedded wireguard-go
//     device, so its peers count towards serve's memory.
//   - router: wgpanel as it runs on OpenWrt: the router build (static,
//     stripped, without the embedded wireguard-go; see routerBinary)
//     serving without --dev, on a device created beforehand the way
//     netifd does (Debian's wireguard-go in place of the kernel module,
//     outside serve's process), with the web password set by `wgpanel
//     passwd`. This is wgpanel's own footprint.
//
// Each reports idle-RSS-MB, RSS-after-list-MB and peak-RSS-MB (VmHWM at the
// end, start-up included, or the RSS after listing if higher) in MB of
// 10^6 bytes, and fails when the RSS after listing is over 15 MB.
func BenchmarkServeRSS(b *testing.B) {
	b.Run("dev", func(b *testing.B) { benchServeRSS(b, false, false) })
	b.Run("dev-history", func(b *testing.B) { benchServeRSS(b, false, true) })
	b.Run("router", func(b *testing.B) { benchServeRSS(b, true, false) })
}

// benchServeRSS measures serve's memory; with history, every peer comes
// with a full usage history (90 daily totals, 48 hours of 5-minute
// buckets) in the state directory, which serve --dev loads at start.
func benchServeRSS(b *testing.B, router, history bool) {
	tp := newTopo(b, topoOptions{router: router, beforeServe: func(tp *topo) {
		keys := writePeers(b, tp, rssPeers)
		if history {
			seedHistory(b, filepath.Join(tp.stateDir, "usage"), keys)
		}
	}})
	what, password := "serve --dev", tp.password
	if router {
		what = "serve (router build and mode, device from netifd)"
	} else {
		password = webPassword(b, tp)
	}
	waitWebUI(b, tp)
	if got := len(tp.devicePeers()); got != rssPeers {
		b.Fatalf("the device has %d peers after serve's start-up; want the %d of the network file", got, rssPeers)
	}
	pid := tp.serve.Process.Pid // ip netns exec execs serve in place
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err != nil || exe != tp.bin {
		b.Fatalf("process %d runs %q (%v); want %s", pid, exe, err, tp.bin)
	}

	// Idle: no request yet, start-up and the last write to the config
	// files (the network file, the password hash) rssSettle behind.
	time.Sleep(rssSettle)
	idle := procStatusMB(b, pid, "VmRSS")

	c := newNSClient(b, tp.router)
	c.post("/api/login", fmt.Sprintf(`{"password": %q}`, password), http.StatusOK)
	for i := 0; i < rssLists; i++ {
		c.listPeers(rssPeers)
	}
	after := procStatusMB(b, pid, "VmRSS")
	anon, file := procStatusMB(b, pid, "RssAnon"), procStatusMB(b, pid, "RssFile")

	for b.Loop() {
		c.listPeers(rssPeers)
	}
	b.StopTimer()
	// The kernel updates VmHWM lazily, so it can lag behind an earlier
	// VmRSS reading.
	peak := max(procStatusMB(b, pid, "VmHWM"), after)

	b.ReportMetric(idle, "idle-RSS-MB")
	b.ReportMetric(after, "RSS-after-list-MB")
	b.ReportMetric(peak, "peak-RSS-MB")
	if history {
		what += ", a full usage history for each peer"
	}
	b.Logf("%s with %d peers: RSS idle %.1f MB, after %d lists %.1f MB (anonymous %.1f, file %.1f), peak %.1f MB (VmHWM) after %d more lists of %v each",
		what, rssPeers, idle, rssLists, after, anon, file, peak, b.N, (b.Elapsed() / time.Duration(max(b.N, 1))).Round(time.Microsecond))
	if after > rssLimit {
		b.Errorf("RSS after listing %d peers %d times is %.1f MB; want under %.0f MB", rssPeers, rssLists, after, rssLimit)
	}
}

// writePeers writes S/config/network before serve's first start: the
// starter's loopback and lan interfaces, the WireGuard interface tp.wgIf,
// and n peers as `peer add` writes them (private and preshared key kept,
// one /32 each from 10.66.66.2 up, split tunnel), with fresh keys, and
// returns the peers' public keys.
func writePeers(t testing.TB, tp *topo, n int) []string {
	t.Helper()
	if n > 253 {
		t.Fatalf("writePeers: %d peers do not fit in 10.66.66.0/24", n)
	}
	if err := os.MkdirAll(tp.configDir, 0o755); err != nil {
		t.Fatal(err)
	}
	server, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "\nconfig interface 'loopback'\n\toption device 'lo'\n\toption proto 'static'\n"+
		"\toption ipaddr '127.0.0.1'\n\toption netmask '255.0.0.0'\n")
	fmt.Fprintf(&buf, "\nconfig interface 'lan'\n\toption device 'br-lan'\n\toption proto 'static'\n"+
		"\toption ipaddr '%s'\n\toption netmask '255.255.255.0'\n", routerLAN)
	fmt.Fprintf(&buf, "\nconfig interface '%s'\n\toption proto 'wireguard'\n\toption private_key '%s'\n"+
		"\toption listen_port '%d'\n\tlist addresses '%s/24'\n", tp.wgIf, server, listenPort, routerTunnel)
	keys := make([]string, n)
	for i := 0; i < n; i++ {
		priv, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		psk, err := wgtypes.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&buf, "\nconfig wireguard_%s\n\toption description 'p%d'\n\toption public_key '%s'\n"+
			"\toption private_key '%s'\n\toption preshared_key '%s'\n\tlist allowed_ips '10.66.66.%d/32'\n"+
			"\toption route_allowed_ips '1'\n\toption wgpanel_tunnel 'split'\n",
			tp.wgIf, i, priv.PublicKey(), priv, psk, i+2)
		keys[i] = priv.PublicKey().String()
	}
	writeFile(t, filepath.Join(tp.configDir, "network"), buf.String(), 0o600)
	return keys
}

// seedHistory writes a usage history file at path in which each of keys
// has traffic in every one of the 90 days and every 5-minute bucket of
// the last 48 hours: the most a history holds.
func seedHistory(t testing.TB, path string, keys []string) {
	t.Helper()
	end := time.Now()
	at := end.Add(-90 * 24 * time.Hour)
	h := usage.Open(usage.Options{FlashPath: path, FlashInterval: time.Hour, Now: func() time.Time { return at }})
	cs := make([]usage.Counter, len(keys))
	for i, k := range keys {
		cs[i].Key = k
	}
	record := func() {
		for i := range cs {
			cs[i].Rx += 1_000_000 + uint64(i)
			cs[i].Tx += 100_000 + uint64(i)
		}
		if err := h.Record(cs); err != nil {
			t.Fatal(err)
		}
	}
	for ; at.Before(end.Add(-48 * time.Hour)); at = at.Add(24 * time.Hour) {
		record()
	}
	for ; !at.After(end); at = at.Add(usage.SampleInterval) {
		record()
	}
	at = end
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() < int64(len(keys))*1000 {
		t.Fatalf("the seeded history %s: %v; want a file of the full history", path, err)
	}
}

// procStatusMB returns a "kB" field of /proc/PID/status in MB (10^6 bytes).
func procStatusMB(t testing.TB, pid int, field string) float64 {
	t.Helper()
	data := readFile(t, fmt.Sprintf("/proc/%d/status", pid))
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		kb, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			break
		}
		return kb * 1024 / 1e6
	}
	t.Fatalf("/proc/%d/status has no %s in kB:\n%s", pid, field, data)
	return 0
}

// nsClient is an HTTP client of the web UI in a network namespace, with a
// cookie jar for the session.
type nsClient struct {
	t testing.TB
	c *http.Client
}

// newNSClient returns a client whose connections are made inside network
// namespace ns, so that webURL is that namespace's loopback.
func newNSClient(t testing.TB, ns string) *nsClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DialContext: dialInNS(ns), MaxIdleConnsPerHost: 2}
	t.Cleanup(tr.CloseIdleConnections)
	return &nsClient{t: t, c: &http.Client{Transport: tr, Jar: jar, Timeout: 10 * time.Second}}
}

// dialInNS returns a DialContext that opens its sockets in network
// namespace ns. A socket stays in the namespace it was made in, so only
// the dial needs the namespace: it runs on a goroutine whose thread enters
// ns and goes back to its own namespace afterwards. The way back matters:
// when the goroutine lands on the process's main thread, the runtime
// cannot throw that thread away, and a main thread left in ns would put
// the whole test process in `ip netns pids`, which deleteNS then stops. If
// going back fails, the goroutine ends with its thread still locked, so
// the runtime never runs anything else on it.
func dialInNS(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			conn net.Conn
			err  error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread() // unlocked only once back home, see above
			home, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
			if err != nil {
				ch <- result{err: fmt.Errorf("open this thread's namespace: %w", err)}
				return
			}
			defer home.Close()
			f, err := os.Open(filepath.Join("/run/netns", ns))
			if err != nil {
				ch <- result{err: fmt.Errorf("open namespace %s: %w", ns, err)}
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				ch <- result{err: fmt.Errorf("enter namespace %s: %w", ns, err)}
				return
			}
			var d net.Dialer
			conn, err := d.DialContext(ctx, network, addr)
			if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
			ch <- result{conn, err}
		}()
		r := <-ch
		return r.conn, r.err
	}
}

// post sends a JSON body to path and checks the status.
func (c *nsClient) post(path, body string, want int) []byte {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, webURL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, want)
}

// listPeers gets /api/peers and checks that it lists n peers.
func (c *nsClient) listPeers(n int) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, webURL+"/api/peers", nil)
	if err != nil {
		c.t.Fatal(err)
	}
	body := c.do(req, http.StatusOK)
	var list struct {
		Peers []json.RawMessage `json:"peers"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		c.t.Fatalf("GET /api/peers: %v\n%.300s", err, body)
	}
	if len(list.Peers) != n {
		c.t.Fatalf("GET /api/peers: %d peers; want %d", len(list.Peers), n)
	}
}

func (c *nsClient) do(req *http.Request, want int) []byte {
	c.t.Helper()
	res, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read the answer: %v", req.Method, req.URL.Path, err)
	}
	if res.StatusCode != want {
		c.t.Fatalf("%s %s: status %d; want %d\n%.300s", req.Method, req.URL.Path, res.StatusCode, want, body)
	}
	return body
}
