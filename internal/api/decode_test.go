package api

import (
	"net/http"
	"strings"
	"testing"
)

// TestDecodeMessages checks the answers to malformed request bodies: each
// names what is wrong in plain words, without Go's type names.
func TestDecodeMessages(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, method, path, body string
		status                   int
		field                    string
		want                     string // a part of the message
	}{
		{"array body", "POST", "/api/peers", `[]`, http.StatusBadRequest, "", "must be a JSON object"},
		{"string body", "POST", "/api/peers", `"phone"`, http.StatusBadRequest, "", "must be a JSON object"},
		{"ids not a list", "POST", "/api/doctor/fix", `{"ids":"x"}`, http.StatusBadRequest, "ids", "ids must be a JSON array"},
		{"name a number", "POST", "/api/peers", `{"name":5}`, http.StatusBadRequest, "name", "name must be a JSON string"},
		{"invalid UTF-8 in a name", "POST", "/api/peers", "{\"name\":\"ph\xffone\"}", http.StatusBadRequest, "", "UTF-8"},
		{"exactly one byte too large", "POST", "/api/peers", `{"name":"phone"}` + strings.Repeat(" ", maxBody+1-len(`{"name":"phone"}`)), http.StatusRequestEntityTooLarge, "", "larger than 64 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do(tt.method, tt.path, tt.body)
			b := wantError(t, w, tt.status, tt.field)
			if !strings.Contains(b.Error, tt.want) || strings.HasPrefix(b.Error, " ") {
				t.Errorf("message = %q; want it to contain %q", b.Error, tt.want)
			}
			for _, goWord := range []string{"slice", "float64", "int", "struct", "map["} {
				if strings.Contains(b.Error, goWord) {
					t.Errorf("message %q contains the Go word %q", b.Error, goWord)
				}
			}
		})
	}
	if n := len(e.storedPeers()); n != 0 {
		t.Errorf("%d peers were created by malformed requests; want 0", n)
	}
	// A body of exactly the limit is read.
	body := `{"name":"phone"}` + strings.Repeat(" ", maxBody-len(`{"name":"phone"}`))
	if w := e.do("POST", "/api/peers", body); w.Code != http.StatusCreated {
		t.Errorf("a body of exactly %d bytes: status %d; want 201 (%q)", maxBody, w.Code, w.Body)
	}
}
