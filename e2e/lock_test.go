package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/testutil"
)

// TestLockedConfig holds the network file's lock from another program (as
// a stuck `uci commit` would) and checks that both the API and the CLI give
// up within a few seconds, name that program's pid, and change nothing
// once the lock is free again. Then it puts a FIFO in place of the file:
// the CLI must refuse it at once instead of hanging.
func TestLockedConfig(t *testing.T) {
	t.Parallel()
	testutil.RequireCommand(t, "flock")
	tp := newTopo(t, topoOptions{})
	waitWebUI(t, tp)
	c := newNSClient(t, tp.router)
	c.post("/api/login", fmt.Sprintf(`{"password": %q}`, webPassword(t, tp)), http.StatusOK)
	network := filepath.Join(tp.configDir, "network")

	// flock(1) takes the lock, says so, and holds it while sleep runs.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	holder := command(ctx, nil, "flock", "-x", network, "-c", "echo locked; exec sleep 50")
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		holder.Process.Kill()
		holder.Wait()
	}()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("flock: %q, %v", line, err)
	}
	wantMsg := fmt.Sprintf("locked by another program (pid %d)", holder.Process.Pid)

	start := time.Now()
	status, body := apiPost(t, c, "/api/peers", `{"name":"while-locked"}`)
	took := time.Since(start)
	t.Logf("POST /api/peers with the lock held: %d after %v: %s", status, took.Round(time.Millisecond), strings.TrimSpace(body))
	if status != http.StatusServiceUnavailable || !strings.Contains(body, wantMsg) {
		t.Errorf("POST /api/peers with the lock held: %d %s; want 503 saying %q", status, body, wantMsg)
	}
	if took > 10*time.Second {
		t.Errorf("the API answered after %v; want within the lock timeout of a few seconds", took)
	}

	r := tp.wgpanel("peer", "add", "cli-while-locked")
	t.Logf("peer add with the lock held: exit %d after %v", r.exitCode(), r.took.Round(time.Millisecond))
	if r.exitCode() <= 0 || !strings.Contains(r.stderr, wantMsg) || r.took > 10*time.Second {
		t.Errorf("peer add with the lock held: %v\nwant a failure within seconds saying %q", r, wantMsg)
	}

	holder.Process.Kill()
	holder.Wait()
	// Give a request that wrongly kept waiting time to finish.
	time.Sleep(500 * time.Millisecond)
	for name := range tp.peers() {
		if strings.Contains(name, "locked") {
			t.Errorf("peer %q exists although its request was told it failed", name)
		}
	}
	if n := len(tp.devicePeers()); n != 0 {
		t.Errorf("the device has %d peers; want none", n)
	}

	// A FIFO in place of the network file.
	saved := readFile(t, network)
	if err := os.Rename(network, network+".saved"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(network, 0o600); err != nil {
		t.Fatal(err)
	}
	r = tp.wgpanel("peer", "add", "fifo")
	if r.exitCode() <= 0 || !strings.Contains(r.stderr, "not a regular file") || r.took > 5*time.Second {
		t.Errorf("peer add with a FIFO as the network file: %v\nwant a failure at once saying it is not a regular file", r)
	}
	os.Remove(network)
	writeFile(t, network, saved, 0o600)
	os.Remove(network + ".saved")
}

// apiPost posts a JSON body and returns the status and the error message
// (or the whole body when it is not an error answer).
func apiPost(t *testing.T, c *nsClient, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, webURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return res.StatusCode, e.Error
	}
	return res.StatusCode, string(b)
}
