package follow

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWatchDirSeesWritesRenamesAndRemovals(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 100)
	if err := WatchDir(ctx, dir, []string{"network", "wgpanel"}, func(n string) { got <- n }, nil); err != nil {
		t.Fatal(err)
	}
	expect := func(what, name string) {
		t.Helper()
		select {
		case n := <-got:
			if n != name {
				t.Fatalf("%s: event for %q; want %q", what, n, name)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no event for %q within 5 s", what, name)
		}
		// The rest of this change's events.
		for {
			select {
			case n := <-got:
				if n != name {
					t.Fatalf("%s: event for %q; want only %q", what, n, name)
				}
				continue
			case <-time.After(50 * time.Millisecond):
			}
			return
		}
	}
	path := filepath.Join(dir, "network")
	if err := os.WriteFile(path, []byte("config interface 'wg0'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	expect("create", "network")

	// LuCI's way: a temporary file renamed into place.
	tmp := filepath.Join(dir, ".network.uci-abc123")
	if err := os.WriteFile(tmp, []byte("config interface 'wg1'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	expect("rename", "network")

	if err := os.WriteFile(filepath.Join(dir, "wgpanel"), []byte("config wgpanel 'main'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	expect("write", "wgpanel")

	// Other files are not our business.
	if err := os.WriteFile(filepath.Join(dir, "firewall"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	expect("remove", "network")

	// After the context ends, nothing more is reported.
	cancel()
	time.Sleep(50 * time.Millisecond)
	os.WriteFile(path, nil, 0o600)
	select {
	case n := <-got:
		t.Errorf("event for %q after the context ended", n)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestWatchDirMissingDirectory(t *testing.T) {
	err := WatchDir(context.Background(), filepath.Join(t.TempDir(), "nope"), []string{"network"}, func(string) {}, nil)
	if err == nil {
		t.Fatal("WatchDir on a missing directory: no error")
	}
}
