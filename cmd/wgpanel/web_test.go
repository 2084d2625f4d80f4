package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/api"
	"github.com/wgpanel/wgpanel/internal/auth"
	"github.com/wgpanel/wgpanel/internal/uci"
)

// TestIdleConnectionsDoNotDelay opens 200 connections from one client that
// never send a request, at a file limit too low to hold them all, and
// checks that a request from another client is still answered at once.
// Without a cap per client the server runs out of descriptors, and accept
// backs off until the idle connections time out.
func TestIdleConnectionsDoNotDelay(t *testing.T) {
	const idle = 200
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(limitListener(ln))
	defer hs.Close()

	// Room for the client's own connections and about 40 on the server's
	// side, counted from the descriptors open now.
	open := openFiles(t)
	low := lim
	low.Cur = uint64(open + idle + 40)
	if low.Cur > lim.Cur {
		t.Skipf("the file limit %d is already below %d", lim.Cur, low.Cur)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)

	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 2 * time.Second}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range idle {
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			// Client and server share this process's file limit: the
			// server holding every connection uses it up.
			t.Fatalf("idle connection %d: %v (the server holds too many connections of one client)", len(conns)+1, err)
		}
		conns = append(conns, c)
	}
	time.Sleep(100 * time.Millisecond)

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+ln.Addr().String()+"/", nil)
	start := time.Now()
	res, err := client.Do(req)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("request beside %d idle connections: %v after %v", idle, err, took)
	}
	res.Body.Close()
	t.Logf("request beside %d idle connections of another client answered in %v", idle, took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("the request took %v; want well under a second", took)
	}
	// The server keeps only a few of the idle client's connections.
	closed := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err == io.EOF {
			closed++
		}
	}
	if kept := idle - closed; kept > maxConnsPerClient {
		t.Errorf("the server kept %d connections of one client; want at most %d", kept, maxConnsPerClient)
	}
}

func openFiles(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(entries)
}

// TestTimeoutsOrdered: a change waiting for a busy lock gets its own answer
// ("locked by another program") before the request's deadline, and that
// answer reaches the client before the write timeout closes the connection.
func TestTimeoutsOrdered(t *testing.T) {
	if requestTimeout <= uci.LockTimeout || writeTimeout <= requestTimeout {
		t.Errorf("lock %v, request %v, write %v; want them in increasing order", uci.LockTimeout, requestTimeout, writeTimeout)
	}
}

// TestIdleCloser keeps two connections alive after one request each: the
// one whose request had a live session stays, the other is closed after
// unauthIdle.
func TestIdleCloser(t *testing.T) {
	unauthIdle = 200 * time.Millisecond
	defer func() { unauthIdle = 5 * time.Second }()
	a, err := auth.New(auth.Config{Mode: auth.ModePassword, Hash: func() (string, error) { return "x", nil }})
	if err != nil {
		t.Fatal(err)
	}
	token := a.NewSession()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ic := newIdleCloser()
	hs := &http.Server{Handler: api.New(api.Config{Auth: a}), ConnContext: ic.ConnContext, ConnState: ic.ConnState}
	go hs.Serve(ln)
	defer hs.Close()

	get := func(c net.Conn, br *bufio.Reader, cookie string) (int, error) {
		req := "GET /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		if cookie != "" {
			req += "Cookie: wgpanel_session=" + cookie + "\r\n"
		}
		if _, err := io.WriteString(c, req+"\r\n"); err != nil {
			return 0, err
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, nil
	}
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	in, inR := dial()
	out, outR := dial()
	if code, err := get(in, inR, token); code != http.StatusOK {
		t.Fatalf("with a session: %d, %v", code, err)
	}
	if code, err := get(out, outR, ""); code != http.StatusUnauthorized {
		t.Fatalf("without a session: %d, %v", code, err)
	}
	time.Sleep(3 * unauthIdle)
	if code, err := get(in, inR, token); code != http.StatusOK {
		t.Errorf("the logged-in connection after %v idle: %d, %v; want it kept", 3*unauthIdle, code, err)
	}
	out.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := outR.ReadByte(); err != io.EOF {
		t.Errorf("the connection without a session after %v idle: read %v; want it closed (EOF)", 3*unauthIdle, err)
	}
}
