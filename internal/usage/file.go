package usage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// magic starts a snapshot; its last byte is the format version.
const magic = "wgpanel-usage\x01"

// maxSnapshot bounds what load reads: 250 devices with full histories take
// about 1 MB.
const maxSnapshot = 16 << 20

// encode writes the snapshot: magic, the time it was taken, the devices in
// key order, each with its counters and buckets as varints, and a
// CRC-32 of everything before it.
func encode(devs map[string]*device, now time.Time) []byte {
	b := []byte(magic)
	b = binary.AppendVarint(b, now.Unix())
	b = binary.AppendUvarint(b, uint64(len(devs)))
	keys := make([]string, 0, len(devs))
	for k := range devs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		d := devs[k]
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		for _, v := range []uint64{d.lastRx, d.lastTx, d.totalRx, d.totalTx} {
			b = binary.AppendUvarint(b, v)
		}
		for _, bs := range [][]bucket{d.fine, d.daily} {
			b = binary.AppendUvarint(b, uint64(len(bs)))
			var prev int64
			for _, x := range bs {
				// Periods are stored as the difference to the previous
				// one: one byte for consecutive 5-minute slots.
				b = binary.AppendVarint(b, x.at-prev)
				prev = x.at
				b = binary.AppendUvarint(b, x.rx)
				b = binary.AppendUvarint(b, x.tx)
			}
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// load reads a snapshot. A missing file is no error and no devices.
func load(path string) (map[string]*device, time.Time, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	devs, saved, err := decode(data)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%s is damaged (%v); the history starts anew", path, err)
	}
	return devs, saved, nil
}

func decode(data []byte) (map[string]*device, time.Time, error) {
	if len(data) > maxSnapshot {
		return nil, time.Time{}, errors.New("too large")
	}
	if len(data) < len(magic)+4 || string(data[:len(magic)]) != magic {
		return nil, time.Time{}, errors.New("not a wgpanel usage file of this version")
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, time.Time{}, errors.New("checksum mismatch")
	}
	r := reader{b: body[len(magic):]}
	saved := time.Unix(r.varint(), 0)
	n := r.count()
	devs := make(map[string]*device, n)
	for i := 0; i < n && r.err == nil; i++ {
		k := r.bytes(r.count())
		d := &device{}
		for _, p := range []*uint64{&d.lastRx, &d.lastTx, &d.totalRx, &d.totalTx} {
			*p = r.uvarint()
		}
		for _, bs := range []*[]bucket{&d.fine, &d.daily} {
			m := r.count()
			var at int64
			for j := 0; j < m && r.err == nil; j++ {
				at += r.varint()
				*bs = append(*bs, bucket{at: at, rx: r.uvarint(), tx: r.uvarint()})
			}
		}
		devs[string(k)] = d
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("trailing data")
	}
	return devs, saved, r.err
}

// reader decodes varints, keeping the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 { return next(r, binary.Uvarint) }
func (r *reader) varint() int64   { return next(r, binary.Varint) }

// next decodes one value with f unless an error came first.
func next[T any](r *reader, f func([]byte) (T, int)) T {
	var zero T
	if r.err != nil {
		return zero
	}
	v, n := f(r.b)
	if n <= 0 {
		r.err = errors.New("truncated")
		return zero
	}
	r.b = r.b[n:]
	return v
}

// count reads a length, which cannot exceed the bytes left.
func (r *reader) count() int {
	v := r.uvarint()
	if v > uint64(len(r.b)) {
		r.err = errors.New("bad length")
		return 0
	}
	return int(v)
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n > len(r.b) {
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// writeAtomic replaces path with data: a temporary file in the same
// directory, fsync, rename, fsync of the directory. A reader sees the old
// file or the new one, never a part; a power cut leaves one of the two.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
