package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/skip2/go-qrcode"
	"golang.org/x/term"
)

// qrColumns is the widest terminal QR code printed: an 80-column terminal
// shows it whole. That is QR version 13 with the standard quiet zone of 4
// modules on each side, or version 14 (458 bytes at Low error correction)
// with a quiet zone of 2, which phone scanners read as well.
const qrColumns = 80

// Explicit colours, black modules on white, so that the code scans on
// light and dark terminal themes alike; reset at every line end.
const (
	qrColours = "\x1b[30;107m"
	qrReset   = "\x1b[0m"
)

// terminalQR renders text as a QR code of half-block characters (two
// module rows per line), with the highest error correction that fits
// qrColumns. It returns the lines and the width in columns.
func terminalQR(text string) (string, int, error) {
	var code *qrcode.QRCode
	for _, level := range []qrcode.RecoveryLevel{qrcode.Medium, qrcode.Low} {
		c, err := qrcode.New(text, level)
		if err != nil {
			return "", 0, fmt.Errorf("making the QR code: %w", err)
		}
		code = c
		if len(c.Bitmap()) <= qrColumns {
			break
		}
	}
	bits := code.Bitmap() // includes the quiet zone of 4 modules
	if len(bits) > qrColumns {
		// Give up quiet zone (down to 2 modules) before width.
		trim := min(2, (len(bits)-qrColumns+1)/2)
		bits = bits[trim : len(bits)-trim]
		for i := range bits {
			bits[i] = bits[i][trim : len(bits[i])-trim]
		}
	}
	n := len(bits)
	var b strings.Builder
	for y := 0; y < n; y += 2 {
		b.WriteString(qrColours)
		for x := 0; x < n; x++ {
			top := bits[y][x]
			bottom := y+1 < n && bits[y+1][x]
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteString(qrReset + "\n")
	}
	return b.String(), n, nil
}

// printQR prints a config as a terminal QR code on w, and warns on warn
// when the terminal (when w is one) is narrower than the code.
func printQR(w, warn io.Writer, text string) error {
	qr, width, err := terminalQR(text)
	if err != nil {
		return err
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols < width {
			fmt.Fprintf(warn, "warning: this terminal is %d columns wide and the QR code needs %d: widen the window or make the font smaller, or scan the code in wgpanel's page\n", cols, width)
		}
	}
	fmt.Fprint(w, qr)
	return nil
}
