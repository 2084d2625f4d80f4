// Package browsertest drives Debian's chromium for wgpanel's page tests,
// through github.com/chromedp/chromedp. The page test against fakes in
// internal/api and the end-to-end tests against the real binary in e2e share
// it.
//
// Start launches one headless chromium with the flags TESTING.md lists for
// running as root, records every script exception, console error or
// warning and log error (a Content Security Policy violation above all) that
// any of its tabs reports, and fails the test with them when it ends. Step,
// Eval and WaitFor run the test's actions and fail it on an error; ReadQR
// decodes a QR code on screen with zbarimg.
//
// Only tests import this package, so chromedp never reaches the binary.
// Without chromium (or zbarimg for ReadQR) a test skips, or fails when the
// environment variable CI is "true"; see package testutil. What is special
// to one test, such as a phone-sized viewport, the login flow or a network
// namespace, stays in that test.
package browsertest
