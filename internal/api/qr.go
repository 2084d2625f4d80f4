package api

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// qrModulePixels is the PNG size of one QR module. A ~320-byte config
// needs version 13 (69 modules plus a 4-module quiet zone on each side), so
// the image is 77 x 4 = 308 pixels: the page shows it at about that size
// with crisp scaling, and larger modules only cost the router time (5.3 ms
// instead of 4.4 ms per code at 6 pixels on amd64).
const qrModulePixels = 4

// errQR marks a failure of the QR encoder, such as a text too long.
var errQR = errors.New("api: QR code")

// qrPNG encodes text as a QR code in PNG at Medium error recovery.
func qrPNG(text string) ([]byte, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errQR, err)
	}
	b, err := q.PNG(-qrModulePixels)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errQR, err)
	}
	return b, nil
}

// qrSVG encodes text as a QR code in SVG: one path of one-module-high runs
// of dark modules on a white square, in module units, so it scales sharply.
func qrSVG(text string) (string, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errQR, err)
	}
	bm := q.Bitmap() // includes the quiet zone
	n := strconv.Itoa(len(bm))
	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ` + n + ` ` + n +
		`" shape-rendering="crispEdges"><rect width="` + n + `" height="` + n + `" fill="#fff"/><path fill="#000" d="`)
	for y, row := range bm {
		for x := 0; x < len(row); x++ {
			if !row[x] {
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
				run++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x, y, run, run)
			x += run - 1
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String(), nil
}
