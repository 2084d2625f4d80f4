package metrics

import (
	"bufio"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// ContentType is the media type of the exposition.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Device is one configured device and its counters on the running
// interface (zero when it is not on the device).
type Device struct {
	Name          string
	PublicKey     string // base64, as `wg show` prints it
	Enabled       bool
	RxBytes       uint64 // received from the device
	TxBytes       uint64 // sent to the device
	LastHandshake time.Time
}

// Snapshot is what one scrape reports.
type Snapshot struct {
	Interface   string
	InterfaceUp bool
	Devices     []Device
	Version     string // wgpanel's version
	Now         time.Time
}

// Write writes s in the text exposition format.
func Write(w io.Writer, s Snapshot) error {
	b := bufio.NewWriter(w)
	e := &writer{b: b}

	e.family("wgpanel_build_info", "gauge", "wgpanel's version and the Go version it was built with; always 1.")
	e.sample("wgpanel_build_info", labels("version", s.Version, "goversion", runtime.Version()), "1")

	iface := labels("interface", s.Interface)
	e.family("wgpanel_interface_up", "gauge", "Whether the WireGuard interface exists and is up (1) or not (0).")
	e.sample("wgpanel_interface_up", iface, bool01(s.InterfaceUp))

	per := func(name, typ, help string, value func(d *Device) string) {
		e.family(name, typ, help)
		for i := range s.Devices {
			d := &s.Devices[i]
			e.sample(name, labels("interface", s.Interface, "name", d.Name, "public_key", d.PublicKey), value(d))
		}
	}
	per("wgpanel_device_received_bytes_total", "counter",
		"Bytes the router received from the device; starts again from 0 when the interface is re-created.",
		func(d *Device) string { return strconv.FormatUint(d.RxBytes, 10) })
	per("wgpanel_device_sent_bytes_total", "counter",
		"Bytes the router sent to the device; starts again from 0 when the interface is re-created.",
		func(d *Device) string { return strconv.FormatUint(d.TxBytes, 10) })
	per("wgpanel_device_last_handshake_age_seconds", "gauge",
		"Seconds since the device's latest handshake; +Inf when it never made one.",
		func(d *Device) string {
			if d.LastHandshake.IsZero() {
				return "+Inf"
			}
			return strconv.FormatFloat(max(0, s.Now.Sub(d.LastHandshake).Seconds()), 'f', -1, 64)
		})
	per("wgpanel_device_enabled", "gauge", "Whether the device is enabled (1) or disabled (0).",
		func(d *Device) string { return bool01(d.Enabled) })
	per("wgpanel_device_connected", "gauge", "Whether the device made a handshake within the last 180 seconds (1) or not (0).",
		func(d *Device) string { return bool01(vpn.Online(d.LastHandshake, s.Now)) })
	return b.Flush()
}

func bool01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

type writer struct{ b *bufio.Writer }

func (e *writer) family(name, typ, help string) {
	e.b.WriteString("# HELP " + name + " " + helpEscaper.Replace(help) + "\n")
	e.b.WriteString("# TYPE " + name + " " + typ + "\n")
}

func (e *writer) sample(name, labels, value string) {
	e.b.WriteString(name)
	e.b.WriteString(labels)
	e.b.WriteByte(' ')
	e.b.WriteString(value)
	e.b.WriteByte('\n')
}

// labels formats name/value pairs as {a="x",b="y"}.
func labels(kv ...string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i])
		b.WriteString(`="`)
		b.WriteString(labelEscaper.Replace(kv[i+1]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)
