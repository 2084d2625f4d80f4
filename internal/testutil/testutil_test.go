package testutil

import (
	"slices"
	"testing"
)

func TestParseBench(t *testing.T) {
	out := []byte(`goos: linux
BenchmarkOther-2   	     10	       100 ns/op
BenchmarkState250Peers-2   	    1098	    968795 ns/op	  443947 B/op	    8563 allocs/op
PASS
`)
	line, ms, err := parseBench(out, "BenchmarkState250Peers")
	if err != nil {
		t.Fatal(err)
	}
	if want := "BenchmarkState250Peers-2   \t    1098\t    968795 ns/op\t  443947 B/op\t    8563 allocs/op"; line != want {
		t.Errorf("line: got %q; want %q", line, want)
	}
	want := []benchMetric{{968795, "ns/op"}, {443947, "B/op"}, {8563, "allocs/op"}}
	if !slices.Equal(ms, want) {
		t.Errorf("metrics: got %v; want %v", ms, want)
	}
	if _, _, err := parseBench(out, "BenchmarkMissing"); err == nil {
		t.Error("parseBench of a missing benchmark: got no error")
	}
}
