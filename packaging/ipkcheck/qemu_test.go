package ipkcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/testutil/fixtures"
)

// TestQEMUSmoke runs the packaged ARMv7 binary (the one in the .apk, the
// same bytes as the .ipk's) under qemu-arm-static as the router would (no
// --dev: netifd owns the interface, wgctrl is used as is)
// against a temporary config dir holding a LuCI-made wg0 with two peers.
// qemu-user does not translate generic netlink, so wgctrl cannot reach the
// device: the daemon must still start, serve /healthz, the page and the API,
// say that the device is unreachable, and stop cleanly on SIGTERM.
func TestQEMUSmoke(t *testing.T) {
	testutil.RequireCommand(t, "qemu-arm-static", "openssl")
	b := buildPackages(t, wrtArch)

	dir := t.TempDir()
	// The daemon below is the binary taken out of the .apk, read by
	// apkcheck; the .ipk's is started for its version too.
	_, apkBin, ok := b.apk.File("/usr/bin/wgpanel")
	if !ok {
		t.Fatal("the .apk has no /usr/bin/wgpanel")
	}
	bin := filepath.Join(dir, "wgpanel")
	if err := os.WriteFile(bin, apkBin, 0o755); err != nil {
		t.Fatal(err)
	}
	ipkBin := filepath.Join(dir, "wgpanel-ipk")
	if err := os.WriteFile(ipkBin, b.pkg.DataFile("/usr/bin/wgpanel").Body, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Run("ipk version", func(t *testing.T) { checkVersion(t, "qemu-arm-static", ipkBin, b.version) })
	conf := filepath.Join(dir, "config")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	fixtures.CopyOpenWrt(t, "network.wireguard-example", filepath.Join(conf, "network"))
	fixtures.CopyOpenWrt(t, "firewall.wireguard-example", filepath.Join(conf, "firewall"))

	const password = "smoke-test-Pa55"
	hash := opensslSHA512Crypt(t, password)
	wgpanelConf := "\nconfig wgpanel 'main'\n\toption auth 'password'\n\toption password_hash '" + hash + "'\n"
	if err := os.WriteFile(filepath.Join(conf, "wgpanel"), []byte(wgpanelConf), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("apk version", func(t *testing.T) { checkVersion(t, "qemu-arm-static", bin, b.version) })

	addr := freeLoopbackAddr(t)
	var out testutil.SyncBuffer
	cmd := exec.Command("qemu-arm-static", bin, "--config-dir", conf, "serve", "--listen", addr)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("wgpanel output:\n%s", out.String())
		}
	}()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	base := "http://" + addr

	// Wait for /healthz: qemu starts the binary in well under a second, but
	// a loaded CI machine gets 30 s.
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("wgpanel exited before serving: %v", err)
		default:
		}
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /healthz did not answer 200 within 30 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	t.Run("page", func(t *testing.T) {
		status, ctype, body := get(t, client, base+"/")
		if status != http.StatusOK || !strings.HasPrefix(ctype, "text/html") {
			t.Fatalf("GET /: %d %q; want 200 text/html", status, ctype)
		}
		lower := strings.ToLower(body)
		if !strings.Contains(lower, "<html") || !strings.Contains(lower, `type="password"`) {
			t.Errorf("GET / is not the page with its login form:\n%.400s", body)
		}
	})

	t.Run("status needs login", func(t *testing.T) {
		if status, _, _ := get(t, client, base+"/api/status"); status != http.StatusUnauthorized {
			t.Errorf("GET /api/status without a session: %d; want 401", status)
		}
	})

	t.Run("login", func(t *testing.T) {
		body, _ := json.Marshal(map[string]string{"password": password})
		resp, err := client.Post(base+"/api/login", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /api/login: %d %s; want 200", resp.StatusCode, msg)
		}
	})

	t.Run("device unreachable", func(t *testing.T) {
		status, _, body := get(t, client, base+"/api/status")
		if status != http.StatusOK {
			t.Fatalf("GET /api/status: %d %s; want 200 (an unreachable device is part of the answer)", status, body)
		}
		var st struct {
			Interface   string `json:"interface"`
			Configured  bool   `json:"configured"`
			ListenPort  int    `json:"listen_port"`
			DeviceUp    *bool  `json:"device_up"`
			DeviceError string `json:"device_error"`
		}
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("GET /api/status: %v\n%s", err, body)
		}
		if st.Interface != "wg0" || !st.Configured || st.ListenPort != 51820 {
			t.Errorf("status interface %q configured %v port %d; want wg0 true 51820 from the fixture", st.Interface, st.Configured, st.ListenPort)
		}
		if st.DeviceUp == nil || *st.DeviceUp || st.DeviceError == "" {
			t.Errorf("status says device_up %v, device_error %q; want false with the reason (qemu-user has no generic netlink)\n%s",
				st.DeviceUp, st.DeviceError, body)
		}
		t.Logf("device_error: %s", st.DeviceError)
	})

	t.Run("peers without stats", func(t *testing.T) {
		status, _, body := get(t, client, base+"/api/peers")
		if status != http.StatusOK {
			t.Fatalf("GET /api/peers: %d %s; want 200", status, body)
		}
		var list struct {
			Peers []struct {
				Name string `json:"name"`
			} `json:"peers"`
		}
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("GET /api/peers: %v\n%s", err, body)
		}
		var names []string
		for _, p := range list.Peers {
			names = append(names, p.Name)
		}
		if strings.Join(names, ",") != "alice-phone,bob-laptop" {
			t.Errorf("peers %q; want the fixture's alice-phone,bob-laptop", names)
		}
	})

	// Still running after all that, and a clean stop on SIGTERM.
	select {
	case err := <-exited:
		stopped = true
		t.Fatalf("wgpanel exited while serving: %v", err)
	default:
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("wgpanel exited with %v after SIGTERM; want status 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("wgpanel did not stop within 15 s of SIGTERM")
	}
	if s := out.String(); strings.Contains(s, "panic:") || strings.Contains(s, "fatal error:") {
		t.Errorf("wgpanel crashed:\n%s", s)
	}
}

func get(t *testing.T, c *http.Client, url string) (status int, contentType, body string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// opensslSHA512Crypt hashes password with Debian's openssl as a $6$
// sha-crypt string, the form wgpanel passwd and /etc/shadow use.
func opensslSHA512Crypt(t *testing.T, password string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", "passwd", "-6", "-stdin")
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl passwd -6: %v", err)
	}
	hash := strings.TrimSpace(string(out))
	if !strings.HasPrefix(hash, "$6$") {
		t.Fatalf("openssl passwd -6 printed %q; want a $6$ hash", hash)
	}
	return hash
}

// freeLoopbackAddr returns 127.0.0.1:PORT with a port that was free a
// moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
