package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/reach"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// SettingsStore is wgpanel's own options (/etc/config/wgpanel);
// *openwrt.Store is one. SetSettings checks every value before it writes
// any and answers a bad one with a *vpn.Error (EINVALID) naming it.
type SettingsStore interface {
	Settings(ctx context.Context) (vpn.Settings, error)
	SetSettings(ctx context.Context, changes ...openwrt.SettingChange) error
}

// settingsJSON is GET /api/settings and the answer of PATCH.
type settingsJSON struct {
	Endpoint        string   `json:"endpoint"`
	DNS             []string `json:"dns"`
	MTU             int      `json:"mtu"`
	KeepPrivateKeys bool     `json:"keep_private_keys"`
	// ClientToClient lets devices reach each other through the tunnel.
	ClientToClient bool `json:"client_to_client"`
	// Warnings holds, by field, why a saved value will not work for
	// phones on the internet (a private endpoint); empty when none.
	Warnings map[string]string `json:"warnings"`
}

func (s *server) settingsStore(w http.ResponseWriter) SettingsStore {
	if s.settings == nil {
		writeError(w, http.StatusServiceUnavailable, "Settings cannot be changed in this wgpanel server; use 'wgpanel settings' on the router.", "")
	}
	return s.settings
}

func (s *server) writeSettings(w http.ResponseWriter, r *http.Request, st SettingsStore) {
	v, err := st.Settings(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := settingsJSON{Endpoint: v.Endpoint, DNS: []string{}, MTU: v.MTU, KeepPrivateKeys: v.KeepPrivateKeys,
		ClientToClient: v.ClientToClient, Warnings: map[string]string{}}
	for _, a := range v.DNS {
		out.DNS = append(out.DNS, a.String())
	}
	if msg := reach.EndpointWarning(v.Endpoint); msg != "" {
		out.Warnings["endpoint"] = msg
	}
	writeJSON(w, http.StatusOK, out)
}

// handleSettingsGet answers wgpanel's settings.
func (s *server) handleSettingsGet(w http.ResponseWriter, r *http.Request) {
	if st := s.settingsStore(w); st != nil {
		s.writeSettings(w, r, st)
	}
}

// handleSettingsPatch changes the fields present in the body, all or none:
// {"endpoint"?, "dns"?, "mtu"?, "keep_private_keys"?, "client_to_client"?}.
// An empty endpoint or
// dns list, or mtu 0, removes the option.
func (s *server) handleSettingsPatch(w http.ResponseWriter, r *http.Request) {
	st := s.settingsStore(w)
	if st == nil {
		return
	}
	var req struct {
		Endpoint        *string   `json:"endpoint"`
		DNS             *[]string `json:"dns"`
		MTU             *int      `json:"mtu"`
		KeepPrivateKeys *bool     `json:"keep_private_keys"`
		ClientToClient  *bool     `json:"client_to_client"`
	}
	if !decode(w, r, &req) {
		return
	}
	var ch []openwrt.SettingChange
	if req.Endpoint != nil {
		ch = append(ch, openwrt.SettingChange{Name: "endpoint", Value: *req.Endpoint})
	}
	if req.DNS != nil {
		for _, d := range *req.DNS {
			if strings.TrimSpace(d) == "" || strings.ContainsAny(strings.TrimSpace(d), " \t") {
				writeError(w, http.StatusBadRequest, "dns: give each DNS server as one IP address, such as 192.168.1.1.", "dns")
				return
			}
		}
		ch = append(ch, openwrt.SettingChange{Name: "dns", Value: strings.Join(*req.DNS, " ")})
	}
	if req.MTU != nil {
		v := ""
		if *req.MTU != 0 {
			v = strconv.Itoa(*req.MTU)
		}
		ch = append(ch, openwrt.SettingChange{Name: "mtu", Value: v})
	}
	if req.KeepPrivateKeys != nil {
		ch = append(ch, openwrt.SettingChange{Name: "keep_private_keys", Value: map[bool]string{true: "1", false: "0"}[*req.KeepPrivateKeys]})
	}
	if req.ClientToClient != nil {
		ch = append(ch, openwrt.SettingChange{Name: "client_to_client", Value: map[bool]string{true: "1", false: "0"}[*req.ClientToClient]})
	}
	if len(ch) == 0 {
		writeError(w, http.StatusBadRequest, "Nothing to change: give endpoint, dns, mtu, keep_private_keys or client_to_client.", "")
		return
	}
	if err := st.SetSettings(r.Context(), ch...); err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeSettings(w, r, st)
}
