// Package access applies each device's access (vpn.Peer.Access, Hosts and
// the client_to_client setting) to the firewall: on OpenWrt as fw4 rules in
// /etc/config/firewall (Apply, then a firewall reload only when the file
// changed; Check for the doctor), and in standalone mode through
// fwpolicy.NFT with the Net that Standalone returns.
//
// It is the glue between the stored configuration (internal/openwrt) and
// the firewall schema (internal/fwpolicy), so that neither imports the
// other. It decides nothing about when to apply: the daemon calls it after
// every configuration change.
package access
