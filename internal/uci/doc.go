// Package uci reads and writes OpenWrt UCI configuration files such as
// /etc/config/network.
//
// Its scope is the file format only. Parse reads a package the way libuci
// does: the keywords package, config, option and list and their one-letter
// forms p, c, o and l; single and double quotes; backslash escapes and line
// continuations; adjacent quoted and unquoted parts joined into one word;
// # comments; ; between statements; a repeated option replacing the earlier
// one; list appending; a repeated named section merging into the first.
// File.Bytes writes a package back in the layout `uci commit` produces, and
// Dir.Update commits a change with libuci's protocol: flock on the file,
// re-read under the lock, a temporary file in the same directory, fsync,
// the old file mode, rename, fsync of the directory. Because libuci
// releases its lock before it renames, Update also waits for such a commit
// in flight, removes the temporary files of dead commits, gives up after
// LockTimeout, and refuses a package path that is not a regular file (see
// Dir.UpdateContext and temp.go).
//
// The package knows no option names and no section types: what network,
// firewall or wgpanel options mean is internal/openwrt's business. Sections
// and options a caller does not touch are written back unchanged and in
// their order. Comments and the layout of a hand-written file are not kept
// once the file is changed, exactly as with `uci commit`.
//
// Where libuci itself would write a file it cannot read back (a section
// type containing a quote, #, ; or backslash), Bytes quotes the type so that
// the file reads back the same; for every type a real configuration uses the
// output is byte for byte what libuci writes.
package uci
