package web

import (
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

// maxGzipped is the budget for all web assets together, gzipped.
const maxGzipped = 40 << 10

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(FS, name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAssetSize gzips every file in FS and checks the total against the
// budget the issue sets.
func TestAssetSize(t *testing.T) {
	total, files := 0, 0
	err := fs.WalkDir(FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(FS, path)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		t.Logf("%-12s %6d bytes, %5d gzipped", path, len(b), buf.Len())
		total += buf.Len()
		files++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files != 3 {
		t.Errorf("FS has %d files; want index.html, app.js and style.css", files)
	}
	t.Logf("total %d bytes gzipped (budget %d)", total, maxGzipped)
	if total > maxGzipped {
		t.Errorf("assets are %d bytes gzipped; want at most %d", total, maxGzipped)
	}
}

// TestNoInlineCode checks that the page runs under the server's CSP, which
// allows no inline script or style and nothing from other hosts.
func TestNoInlineCode(t *testing.T) {
	html := readFile(t, "index.html")
	checks := []struct {
		name string
		re   string
	}{
		{"inline script", `<script(\s[^>]*)?>\s*[^<\s]`},
		{"style element", `<style`},
		{"style attribute", `\sstyle=`},
		{"event handler attribute", `\son[a-z]+=`},
		{"javascript: URL", `javascript:`},
		{"other host", `(?:src|href)="(?:https?:)?//`},
	}
	for _, c := range checks {
		if m := regexp.MustCompile(c.re).FindString(html); m != "" {
			t.Errorf("index.html has a %s: %q", c.name, m)
		}
	}
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(tag, ` src="`) {
			t.Errorf("index.html has a script without src: %q", tag)
		}
	}
	js := readFile(t, "app.js")
	for _, bad := range []string{"eval(", "new Function", "innerHTML", "setAttribute('style'", ".style.", "http://", "https://"} {
		if strings.Contains(js, bad) {
			t.Errorf("app.js uses %q", bad)
		}
	}
	if css := readFile(t, "style.css"); strings.Contains(css, "@import") || strings.Contains(css, "url(") {
		t.Error("style.css loads another file; want none (no web fonts, no CDN)")
	}
}

// TestElementIDs checks that every id app.js looks up exists in the page,
// and that the ids the browser test relies on are there.
func TestElementIDs(t *testing.T) {
	html := readFile(t, "index.html")
	ids := make(map[string]bool)
	for _, m := range regexp.MustCompile(`\sid="([^"]+)"`).FindAllStringSubmatch(html, -1) {
		if ids[m[1]] {
			t.Errorf("id %q appears twice", m[1])
		}
		ids[m[1]] = true
	}
	js := readFile(t, "app.js")
	for _, m := range regexp.MustCompile(`\$\('([^']+)'\)|setText\('([^']+)'`).FindAllStringSubmatch(js, -1) {
		id := m[1] + m[2]
		if !ids[id] {
			t.Errorf("app.js uses #%s, which index.html lacks", id)
		}
	}
	for _, id := range []string{"login-password", "login-submit", "login-error", "add-open", "add-name",
		"add-name-error", "add-tunnel-split", "add-tunnel-full", "add-submit", "add-error", "qr-img",
		"config-text", "config-download", "config-close", "rename-name", "rename-submit", "rename-error",
		"delete-confirm", "delete-error", "peers", "logout", "setup", "setup-endpoint", "setup-endpoint-error",
		"setup-error", "setup-submit", "setup-changes", "setup-notes", "setup-close", "main-view", "doctor",
		"doctor-run", "doctor-error", "doctor-checks", "verdict", "verdict-summary", "verdict-fix-button",
		"discover", "endpoint", "endpoint-save", "endpoint-suggestions", "endpoint-warning", "wait", "wait-text",
		"doctor-summary", "doctor-ok"} {
		if !ids[id] {
			t.Errorf("index.html lacks #%s", id)
		}
	}
	if !strings.Contains(html, `data-fix=`) {
		t.Error("the doctor's check row lacks a data-fix button")
	}
	for _, action := range []string{"qr", "rename", "toggle", "delete", "rescan"} {
		if !strings.Contains(html, `data-action="`+action+`"`) {
			t.Errorf("the peer row lacks a data-action=%q control", action)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the .gz files from their sources")

// TestGzippedMatchSources checks that each embedded .gz file holds exactly
// the source file beside it; with -update (go generate ./web) it writes
// them anew.
func TestGzippedMatchSources(t *testing.T) {
	for _, name := range []string{"index.html", "app.js", "style.css"} {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(src)
			zw.Close()
			if err := os.WriteFile(name+".gz", buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got := readFile(t, name); got != string(src) {
			t.Errorf("%s.gz does not hold %s as it is now: run go generate ./web", name, name)
		}
	}
}

// TestFSServes checks that the page's files are served from FS as the
// server does it, the root giving index.html.
func TestFSServes(t *testing.T) {
	srv := httptest.NewServer(http.FileServerFS(FS))
	defer srv.Close()
	for path, want := range map[string]string{"/": "<!doctype html>", "/app.js": "'use strict';", "/style.css": ":root"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d %.60q; want 200 with %q", path, res.StatusCode, body, want)
		}
	}
	if res, err := http.Get(srv.URL + "/nothing.js"); err != nil || res.StatusCode != 404 {
		t.Errorf("GET /nothing.js: %v %v; want 404", res, err)
	}
}
