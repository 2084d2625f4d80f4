package doctor

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// Check statuses.
const (
	StatusOK   = "ok"
	StatusWarn = "warn"
	StatusFail = "fail"
)

// Check IDs. They are stable: the page and `doctor --fix` refer to them.
const (
	IDConfig          = "config"           // the UCI files can be read
	IDInterfaceExists = "interface.exists" // the WireGuard interface is configured
	IDInterfaceUp     = "interface.up"     // and running
	IDInterfaceKey    = "interface.key"    // with a private key
	IDInterfacePort   = "interface.port"   // and a fixed listen port
	IDFirewallRule    = "firewall.rule"    // a rule accepts the port from wan (fixable)
	IDFirewallZone    = "firewall.zone"    // the interface's zone reaches the LAN (fixable)
	IDWANNAT          = "wan.nat"          // double NAT or CGNAT in front of the router
	IDEndpoint        = "endpoint"         // phones are told a reachable address
	IDPeerHandshake   = "peers.handshake"  // every enabled peer completed a handshake
	IDPeerEndpoints   = "peers.endpoints"  // no key is used on two devices at once
	IDPeerSections    = "peers.sections"   // wgpanel can read every peer section
	IDDNS             = "dns"              // the DNS server handed to phones answers
	IDMTU             = "mtu"              // the tunnel MTU fits the WAN (PPPoE)
)

// Check is the result of one check.
type Check struct {
	ID      string `json:"id"`
	Status  string `json:"status"`  // StatusOK, StatusWarn or StatusFail
	Finding string `json:"finding"` // one sentence naming the actual addresses and port
	Fix     string `json:"fix"`     // what to do; "" when the check is ok
	// Fixable says that Fix (wgpanel doctor --fix, the page's button) can
	// apply the fix for this check.
	Fixable bool `json:"fixable,omitempty"`
}

// Report is the JSON form of a doctor run: {"checks": [...]}.
type Report struct {
	Checks []Check `json:"checks"`
}

// Input is everything the checks look at, gathered elsewhere (see Collect).
// A nil field with its error set means that fact could not be gathered.
type Input struct {
	Config    *vpn.Config // Store.Load: settings, server and peers
	ConfigErr error
	Facts     *openwrt.Facts // Store.Facts: interface, WAN, firewall and DNS facts
	FactsErr  error
	Device    *vpn.DeviceState // the running interface
	DeviceErr error
	// Runtime is the WAN's live state (openwrt.GatherRuntime on a router,
	// openwrt.HostRuntime standalone).
	Runtime    *openwrt.Runtime
	RuntimeErr error
	// SuggestedEndpoint and SuggestionReason come from
	// openwrt.SuggestEndpoint; they shape the endpoint check's advice.
	SuggestedEndpoint string
	SuggestionReason  string
	// Standalone is set in --dev mode: there is no netifd, fw4 or dnsmasq,
	// so the checks about them are left out or worded for that mode.
	Standalone bool
}

// Doctor runs the checks and remembers, across runs, where each peer's
// packets came from. The daemon keeps one and may call Observe between
// runs (every few seconds) so that alternating endpoints show up; a Doctor
// is safe for concurrent use.
type Doctor struct {
	mu      sync.Mutex
	history map[wgtypes.Key]*endpointHistory // guarded by mu
	samples int                              // Observe calls; guarded by mu
	first   time.Time                        // time of the first sample; guarded by mu

	// Now returns the current time; tests replace it.
	Now func() time.Time
	// Window is how far back endpoint changes count (default 10 minutes).
	Window time.Duration
}

// New returns a Doctor with an empty history.
func New() *Doctor {
	return &Doctor{history: make(map[wgtypes.Key]*endpointHistory), Now: time.Now, Window: defaultWindow}
}

// Run runs every check once, with no endpoint history: a one-shot doctor
// (the CLI) cannot see a peer alternate between endpoints.
func Run(ctx context.Context, in Input) []Check {
	return New().Run(ctx, in)
}

// Run records in.Device in the endpoint history and runs every check. The
// order is the issue's: interface, firewall, NAT, endpoint, peers, DNS, MTU.
// Checks that cannot apply (no interface yet, no device, standalone mode)
// are left out rather than reported twice. The checks only compute, so ctx
// is not consulted; it is there for symmetry with Collect and Fix.
func (d *Doctor) Run(_ context.Context, in Input) []Check {
	if in.Device != nil {
		d.Observe(in.Device)
	}
	c := &checker{in: in}
	var out []Check
	add := func(ch *Check) {
		if ch != nil {
			out = append(out, *ch)
		}
	}
	if ch := c.config(); ch != nil {
		add(ch)
		if in.Facts == nil {
			return out
		}
	}
	ch := c.interfaceExists()
	add(ch)
	if ch.Status != StatusOK {
		return out
	}
	add(c.interfaceUp())
	add(c.interfaceKey())
	add(c.interfacePort())
	add(c.firewallRule())
	add(c.firewallZone())
	add(c.wanNAT())
	add(c.endpoint())
	add(c.peerHandshakes())
	add(d.peerEndpoints(c))
	add(c.peerSections())
	add(c.dns())
	add(c.mtu())
	return out
}

// FixableIDs returns the IDs of the checks that are not ok and that Fix
// can repair, in order: what `wgpanel doctor --fix` applies.
func FixableIDs(checks []Check) []string {
	var ids []string
	for _, c := range checks {
		if c.Fixable && c.Status != StatusOK {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// Collect gathers the Input on a running system: the configuration and
// facts from st, the device state of the configured interface from dev,
// and the WAN's runtime state from runtime (openwrt.GatherRuntime, or
// openwrt.HostRuntime in standalone mode; nil skips it). Errors are kept in
// the Input for the checks to explain; Collect itself does not fail.
func Collect(ctx context.Context, st *openwrt.Store, dev vpn.Device,
	runtime func(context.Context) (openwrt.Runtime, error), standalone bool) Input {
	in := Input{Standalone: standalone}
	in.Config, in.ConfigErr = st.Load(ctx)
	in.Facts, in.FactsErr = st.Facts(ctx)
	ifname := ""
	switch {
	case in.Facts != nil:
		ifname = in.Facts.Interface
	case in.Config != nil:
		ifname = in.Config.Settings.Interface
	}
	if dev != nil && ifname != "" {
		in.Device, in.DeviceErr = dev.State(ifname)
	} else {
		in.DeviceErr = vpn.ErrDeviceUnreachable
	}
	if runtime != nil {
		rt, err := runtime(ctx)
		if err != nil {
			in.RuntimeErr = err
		} else {
			in.Runtime = &rt
		}
	} else {
		in.RuntimeErr = errors.New("not gathered")
	}
	wan, _ := in.wanAddr()
	in.SuggestedEndpoint, in.SuggestionReason = openwrt.SuggestEndpoint(st.Dir(), wan.Addr())
	return in
}
