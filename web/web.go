// Package web holds wgpanel's user interface: one page in plain HTML, CSS
// and JavaScript, embedded into the binary. There is no build step and
// nothing is loaded from another server, so the page works on a LAN with no
// internet. internal/api serves these files; the page talks to the JSON API.
//
// The page uses no inline script or style, because the server's Content
// Security Policy allows neither.
package web

import "embed"

// FS holds index.html, app.js and style.css at its root.
//
//go:embed index.html app.js style.css
var FS embed.FS
