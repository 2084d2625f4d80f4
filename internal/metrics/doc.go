// Package metrics writes wgpanel's state in the Prometheus text exposition
// format (version 0.0.4), for GET /metrics.
//
// The format is written by hand, without a client library, to keep the
// router binary small: a Snapshot of the interface and its devices goes in,
// the text comes out, with label values escaped as the format requires
// (backslash, double quote, newline). Nothing is registered or kept between
// scrapes; the caller reads the device and UCI when a scraper asks.
//
// The package does not serve HTTP, check the bearer token or read the
// device; internal/api does that and passes a Snapshot.
package metrics
