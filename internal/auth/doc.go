// Package auth checks the password of wgpanel's one user and keeps the
// sessions of the people who logged in.
//
// Two modes exist. "shadow" checks the router's root password in /etc/shadow
// the way LuCI does (md5-crypt $1$, sha256-crypt $5$ and sha512-crypt $6$).
// "password" checks wgpanel's own crypt(3) hash, which HashPassword makes.
// Sessions are random tokens held in memory: they end after an idle time, after
// an absolute maximum age, on logout and when the process restarts. Login
// attempts are rate limited per client address.
//
// The package does not speak HTTP: internal/api sets the cookie and maps the
// errors returned here to statuses. It knows no user but root and keeps no
// state on disk.
package auth
