package wgdev

// Reachable reports whether WireGuard can be reached at all, without
// reading any device: it opens the connection to WireGuard, or reuses the
// open one. The error wraps vpn.ErrDeviceUnreachable. It is what a change
// checks before it writes anything; reading the device instead (State)
// would dump every peer, which with hundreds of peers costs more than the
// change itself.
func (c *Client) Reachable() error {
	_, err := c.backend()
	return err
}
