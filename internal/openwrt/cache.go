package openwrt

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"syscall"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// racyWindow is how long ago a file's content must have last changed
// (its mtime) before Load caches what it read from it. Every commit (ours,
// uci's, LuCI's) renames a new file into place, which changes the inode,
// but an editor may rewrite the file in place: then only size and
// timestamps tell, and timestamps come from a coarse clock (jffs2 on a
// router's flash keeps whole seconds), so a second write within the same
// tick leaves them as they were. Any write after a file's mtime has fallen
// this far behind the clock gets a later mtime, so the cache notices it.
// Two seconds covers a one-second granularity with room to spare; the cost
// is that the reads in the first two seconds after a change are not cached.
const racyWindow = 2 * time.Second

// fileKey identifies one version of a file by what stat says about it.
// The ctime also catches an in-place write whose mtime was set back
// afterwards (touch -r, tar), since nothing can set the ctime.
type fileKey struct {
	path         string
	exists       bool
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // nanoseconds since the epoch
}

// statKey stats path. A missing file is a valid key (exists false); any
// other error means the file cannot be identified and Load must not use
// the cache.
func statKey(path string) (fileKey, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileKey{path: path}, nil
	}
	if err != nil {
		return fileKey{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, errors.New("openwrt: stat without inode")
	}
	return fileKey{
		path:   path,
		exists: true,
		dev:    uint64(st.Dev),
		ino:    uint64(st.Ino),
		size:   fi.Size(),
		mtime:  fi.ModTime().UnixNano(),
		ctime:  st.Ctim.Nano(),
	}, nil
}

// settled reports whether the file's content last changed at least
// racyWindow before now (see there). An mtime in the future, as after the
// clock was set back, is not settled.
func (k fileKey) settled(now time.Time) bool {
	return !k.exists || now.UnixNano()-k.mtime >= int64(racyWindow)
}

// loadKey is everything Load's result depends on: both files it reads and
// the store fields that apply on top of them.
type loadKey struct {
	settings, network fileKey
	iface, auth       string
}

// loadCache is Load's result for one loadKey. cfg is never handed out:
// Load returns clones of it.
type loadCache struct {
	key loadKey
	cfg *vpn.Config
}

// currentKey stats the files Load reads, before it reads them: a file
// replaced between the stat and the read is then cached under the older
// key, which the next Load does not match, so it reads again. ok is false
// when a file cannot be identified.
func (s *Store) currentKey() (key loadKey, ok bool) {
	var err error
	key.iface, key.auth = s.Interface, s.DefaultAuth
	if key.settings, err = statKey(s.dir.Path(pkgSettings)); err != nil {
		return key, false
	}
	if key.network, err = statKey(s.dir.Path(pkgNetwork)); err != nil {
		return key, false
	}
	return key, true
}

// cached returns a clone of the cached configuration when key matches it.
func (s *Store) cached(key loadKey) *vpn.Config {
	if c := s.cache.Load(); c != nil && c.key == key {
		return cloneConfig(c.cfg)
	}
	return nil
}

// remember caches cfg under key when both files have settled (see
// racyWindow), and reports whether it did. A cached cfg must not be handed
// out afterwards, only clones of it.
func (s *Store) remember(key loadKey, cfg *vpn.Config) bool {
	now := time.Now()
	if !key.settings.settled(now) || !key.network.settled(now) {
		return false
	}
	s.cache.Store(&loadCache{key: key, cfg: cfg})
	return true
}

// cloneConfig returns a deep copy of c: nothing a caller changes in the
// copy, through any slice or pointer, shows in c.
func cloneConfig(c *vpn.Config) *vpn.Config {
	out := &vpn.Config{Settings: c.Settings, Network: c.Network}
	out.Settings.DNS = slices.Clone(c.Settings.DNS)
	out.Network.LANs = slices.Clone(c.Network.LANs)
	out.Server = cloneServer(c.Server)
	return out
}

// cloneServer returns a deep copy of s (nil for nil). The peers' addresses
// and keys are copied into one backing array each, capacity-limited per
// peer, so that a clone of 250 peers costs a handful of allocations.
func cloneServer(s *vpn.Server) *vpn.Server {
	if s == nil {
		return nil
	}
	srv := *s
	srv.Addresses = slices.Clone(s.Addresses)
	if s.Peers != nil {
		srv.Peers = make([]vpn.Peer, len(s.Peers))
		var nPrefixes, nKeys int
		for i := range s.Peers {
			p := &s.Peers[i]
			nPrefixes += len(p.AllowedIPs)
			if p.PresharedKey != nil {
				nKeys++
			}
			if p.PrivateKey != nil {
				nKeys++
			}
		}
		prefixes := make([]netip.Prefix, 0, nPrefixes)
		keys := make([]wgtypes.Key, 0, nKeys)
		key := func(k *wgtypes.Key) *wgtypes.Key {
			if k == nil {
				return nil
			}
			keys = append(keys, *k) // within capacity: earlier pointers stay valid
			return &keys[len(keys)-1]
		}
		for i := range s.Peers {
			p := s.Peers[i]
			if p.AllowedIPs != nil {
				n := len(prefixes)
				prefixes = append(prefixes, p.AllowedIPs...)
				p.AllowedIPs = prefixes[n:len(prefixes):len(prefixes)]
			}
			p.PresharedKey = key(p.PresharedKey)
			p.PrivateKey = key(p.PrivateKey)
			p.Hosts = slices.Clone(p.Hosts)
			srv.Peers[i] = p
		}
	}
	if s.Odd != nil {
		srv.Odd = slices.Clone(s.Odd)
		for i := range srv.Odd {
			srv.Odd[i].AllowedIPs = slices.Clone(srv.Odd[i].AllowedIPs)
		}
	}
	return &srv
}
