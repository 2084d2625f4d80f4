package api

import (
	"net/http"
	"net/netip"
)

// statusJSON is GET /api/status.
type statusJSON struct {
	Interface  string `json:"interface"`
	Configured bool   `json:"configured"`
	// PublicKey is the server's key, "" when no interface is configured.
	PublicKey  string         `json:"public_key"`
	ListenPort int            `json:"listen_port"`
	Addresses  []netip.Prefix `json:"addresses"`
	Endpoint   string         `json:"endpoint"`
	// DeviceUp is true when the running interface can be read; otherwise
	// DeviceError says why it cannot.
	DeviceUp    bool     `json:"device_up"`
	DeviceError string   `json:"device_error"`
	Warnings    []string `json:"warnings"`
}

// handleStatus describes the server and its device. A device that cannot be
// reached is part of the answer, not an error.
func (s *server) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.svc.Status(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := statusJSON{
		Interface:   st.Interface,
		Configured:  st.Configured,
		ListenPort:  st.ListenPort,
		Addresses:   nonNil(st.Addresses),
		Endpoint:    st.Endpoint,
		DeviceUp:    st.DeviceUp,
		DeviceError: st.DeviceError,
		Warnings:    nonNil(st.Warnings),
	}
	if st.Configured {
		out.PublicKey = st.PublicKey.String()
	}
	writeJSON(w, http.StatusOK, out)
}

// handleHealthz answers 200 while the server runs. It needs no session and
// touches neither the store nor the device.
func (s *server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// nonNil turns a nil slice into an empty one, so JSON has [] and not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
