package openwrt

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/uci"
)

// Starter values for a fresh --dev state directory.
const (
	starterListenPort = "51820"
	starterAddress    = "10.66.66.1/24"
	starterLANAddr    = "192.168.1.1"
	starterLANMask    = "255.255.255.0"
)

// WriteStarter writes a starter network file into dir for `serve --dev` on
// an empty state directory: loopback, a 'lan' interface 192.168.1.1/24
// (data only, nothing is configured on the host) and the WireGuard
// interface ifname with private key priv, listen_port 51820 and address
// 10.66.66.1/24. It creates dir when missing and does nothing when a
// network file already exists.
func WriteStarter(dir uci.Dir, ifname string, priv wgtypes.Key) error {
	if err := checkIfname(ifname); err != nil {
		return fmt.Errorf("openwrt: starter network: %w", err)
	}
	if priv == zeroKey {
		return errors.New("openwrt: starter network: no private key")
	}
	path := dir.Path(pkgNetwork)
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("openwrt: starter network: %w", err)
	}
	if err := os.MkdirAll(string(dir), 0o755); err != nil {
		return fmt.Errorf("openwrt: starter network: %w", err)
	}
	err := dir.Update(pkgNetwork, func(f *uci.File) error {
		if len(f.Sections) > 0 {
			// Another process wrote the file since the check above.
			return errUnchanged
		}
		addStarterBase(f)
		wg := f.AddSection(typeInterface, ifname)
		wg.Set(optProto, protoWG)
		wg.Set(optPrivateKey, priv.String())
		wg.Set(optListenPort, starterListenPort)
		wg.SetList(optAddresses, []string{starterAddress})
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return fmt.Errorf("openwrt: starter network %s: %w", path, err)
	}
	return nil
}

// addStarterBase appends the starter file's loopback and 'lan' interfaces
// (192.168.1.1/24) to f. Setup in standalone mode starts from them too.
func addStarterBase(f *uci.File) {
	lo := f.AddSection(typeInterface, "loopback")
	lo.Set("device", "lo")
	lo.Set(optProto, "static")
	lo.Set(optIPAddr, "127.0.0.1")
	lo.Set(optNetmask, "255.0.0.0")

	lan := f.AddSection(typeInterface, "lan")
	lan.Set("device", "br-lan")
	lan.Set(optProto, "static")
	lan.Set(optIPAddr, starterLANAddr)
	lan.Set(optNetmask, starterLANMask)
}
