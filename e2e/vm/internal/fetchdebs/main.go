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
	if err := fetch(); err != nil {
		fmt.Fprintf(os.Stderr, "fetchdebs: %v\n", err)
		os.Exit(1)
	}
}

func fetch() error {
	dir, err := debs.CacheDir()
	if err != nil {
		return err
	}
	sets, err := debs.Fetch(context.Background(), dir, debs.All, os.Stdout)
	if err != nil {
		return err
	}
	for _, a := range debs.All {
		fmt.Printf("%s: %s and %d other packages in %s\n", a.Debian, sets[a].Kernel, len(sets[a].Roots)-1, dir)
	}
	return nil
}
