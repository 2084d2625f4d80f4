package uci

import (
	"strings"
	"testing"
)

// TestParseErrorsQuoteNoValue checks that no parse error repeats a value
// from the file: a hand-edited line can hold a private key, and parse
// errors reach logs and, through the API, clients. The errors name the line
// and, where it is a valid name, the option instead.
func TestParseErrorsQuoteNoValue(t *testing.T) {
	const key = "mDTq5BP/Xbwgq74qAO0OJO40Q/MTAtxGwCsBxo3sw0Q="
	tests := []struct {
		name, text string
		want       string // a part of the message
	}{
		{"equals sign", "config interface 'wg0'\n\toption private_key = '" + key + "'\n", "option private_key"},
		{"key alone", "config interface 'wg0'\n" + key + "\n", "network:2: invalid statement"},
		{"key as option name", "config interface 'wg0'\n\toption " + key + " '1'\n", "invalid option name"},
		{"key as list name", "config interface 'wg0'\n\tlist " + key + " '1'\n", "invalid list name"},
		{"key as section name", "config interface '" + key + "'\n", "invalid section name"},
		{"key as section type", "config '" + key + " x'\n", "section type"},
		{"key in a section type again", "config a 'n'\nconfig '" + key + "' 'n'\n", "section n is defined again"},
		{"key as package", "package '" + key + "'\n", "package name"},
		{"config with too many arguments", "config interface 'wg0' '" + key + "'\n", "too many arguments for config"},
		{"list with too many arguments", "config interface 'wg0'\n\tlist addresses '10.0.0.1' '" + key + "'\n", "list addresses"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("/etc/config/network", []byte(tt.text))
			if err == nil {
				t.Fatal("Parse accepted the file; want an error")
			}
			msg := err.Error()
			for i := 0; i+6 <= len(key); i++ {
				if strings.Contains(msg, key[i:i+6]) {
					t.Fatalf("the error repeats a part of the key (%q at %d)", key[i:i+6], i)
				}
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error = %q; want it to contain %q", msg, tt.want)
			}
		})
	}
}
