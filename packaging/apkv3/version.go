package apkv3

import "regexp"

// apkVersion is apk's version grammar (apk-package(5)):
// number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}.
var apkVersion = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]*)*(~[0-9a-f]+)?(-r[0-9]+)?$`)

// ValidVersion reports whether apk accepts v as a package version.
func ValidVersion(v string) bool { return apkVersion.MatchString(v) }
