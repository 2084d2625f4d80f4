// Command fetchdebs fills the VM tests' package cache ($WGPANEL_VM_CACHE)
// for both architectures; .ci/run runs it before the tests.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/wgpanel/wgpanel/e2e/vm/internal/debs"
)

func main() {
	dir, err := debs.CacheDir()
	if err == nil {
		for _, a := range []debs.Arch{debs.AMD64, debs.ARMHF} {
			var s *debs.Set
			if s, err = debs.Fetch(context.Background(), dir, a, os.Stdout); err != nil {
				break
			}
			fmt.Printf("%s: %s and %d other packages in %s\n", a.Debian, s.Kernel, len(s.Roots)-1, dir)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fetchdebs: %v\n", err)
		os.Exit(1)
	}
}
