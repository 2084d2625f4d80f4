# wgpanel: build, test and package.
#
#   make build              the binary for this machine, in bin/wgpanel
#   make ipk [ARCH=...]     a static router build (see TAGS) packed as an OpenWrt .ipk in dist/
#                           ARCH: arm_cortex-a9_vfpv3-d16 (default, WRT3200ACM),
#                           aarch64_cortex-a53, mipsel_24kc, mips_24kc, x86_64
#   make ipk-all            the .ipk for every ARCH above
#   make apk [ARCH=...]     the same as an apk-tools 3 package for OpenWrt 25.12,
#                           dist/ARCH/wgpanel-VERSION.apk
#   make apk-all            the .apk for every ARCH
#   make print-version      the package version, e.g. 0.0.0_p120-r1
#   make test               go test -count=1 ./...
#   make clean
#
# No OpenWrt SDK is needed: the .ipk is packed by packaging/nfpm, a module of
# its own so that the packager's dependencies stay out of wgpanel's go.mod.
# openwrt/Makefile is the package for an OpenWrt SDK or packages feed.

GO      ?= go
MAIN    ?= ./cmd/wgpanel
ARCH    ?= arm_cortex-a9_vfpv3-d16
RELEASE ?= 1
DIST    ?= dist
BUILD   ?= build

ARCHS := arm_cortex-a9_vfpv3-d16 aarch64_cortex-a53 mipsel_24kc mips_24kc x86_64

# The Go target for each OpenWrt package architecture. The 24kc cores have
# no FPU, so MIPS builds use software floating point.
GOENV_arm_cortex-a9_vfpv3-d16 := GOARCH=arm GOARM=7
GOENV_aarch64_cortex-a53      := GOARCH=arm64
GOENV_mipsel_24kc             := GOARCH=mipsle GOMIPS=softfloat
GOENV_mips_24kc               := GOARCH=mips GOMIPS=softfloat
GOENV_x86_64                  := GOARCH=amd64 GOAMD64=v1

# VERSION is what `wgpanel version` prints, and PKG_VERSION the version of
# both packages: one scheme that opkg and apk both accept and order alike
# (see packaging/ipkcheck/version_test.go), ordered in time by the number of
# commits, not by the commit hash:
#   tag v1.2.3                          1.2.3
#   5 commits after v1.2.3              1.2.3_p5
#   before the first tag, 120 commits   0.0.0_p120
#   uncommitted changes                 ..._git (after the commit's own
#                                       build, before the next commit's)
#   outside git                         0.0.0
# apk orders _p after the plain version, and so does opkg ('_' sorts after
# the end of a version); pre-release tags (v1.3.0-rc1) are refused, as apk
# orders 1.3.0_rc1 before 1.3.0 and opkg after it. The package adds
# OpenWrt's release, -r1. `make VERSION=...` overrides it.
ifneq ($(origin VERSION),command line)
VERSION := $(shell \
	if ! git rev-parse --git-dir >/dev/null 2>&1; then echo 0.0.0; exit; fi; \
	if d=$$(git describe --tags --long --match 'v[0-9]*' 2>/dev/null); then \
		n=$$(echo "$$d" | sed -E 's/.*-([0-9]+)-g[0-9a-f]+$$/\1/'); \
		t=$$(echo "$$d" | sed -E 's/^v(.*)-[0-9]+-g[0-9a-f]+$$/\1/'); \
	else \
		t=0.0.0; n=$$(git rev-list --count HEAD 2>/dev/null || echo 0); \
	fi; \
	case "$$t" in (*[!0-9.]*|.*|*.|*..*) echo "bad-tag-v$$t"; exit;; esac; \
	v=$$t; [ "$$n" = 0 ] || v="$${v}_p$$n"; \
	[ -z "$$(git --no-optional-locks status --porcelain 2>/dev/null)" ] || v="$${v}_git"; \
	echo "$$v")
endif
PKG_VERSION := $(VERSION)-r$(RELEASE)

# File times inside the packages: the last commit's, so that a rebuild of the
# same commit gives the same package.
ifeq ($(origin SOURCE_DATE_EPOCH),undefined)
SOURCE_DATE_EPOCH := $(shell git log -1 --format=%ct 2>/dev/null)
endif

# TAGS: Go build tags. Unless TAGS is given, the router packages (make ipk)
# are built with nouserspace, which leaves the embedded wireguard-go of the
# standalone mode (serve --dev) out: on OpenWrt netifd runs WireGuard in the
# kernel, and the tag saves about 0.5 MB of flash. make build keeps the full
# binary. `make ipk TAGS=` builds a package with wireguard-go included.
LDFLAGS := -s -w -X main.version=$(VERSION)
# Go's linker pads each ELF segment to 64 KiB on 32-bit ARM, for kernels with
# 64 KiB pages, which 32-bit ARM kernels never have (4 KiB pages only): a
# 4 KiB quantum loads the same and keeps up to about 120 KB of padding out
# of the router's flash.
LDFLAGS_arm_cortex-a9_vfpv3-d16 := -R 0x1000
# ROUTER_GCFLAGS: router builds do not inline calls, except in the runtime,
# the cryptography, math and sync packages, where inlining is what makes the
# hot paths fast. Elsewhere (HTTP, JSON, UCI, netlink) a call costs a few
# nanoseconds more per request and the binary is about 0.5 MB smaller: the
# WRT3200ACM's package must stay under 8 MB. `make ipk ROUTER_GCFLAGS=`
# builds with Go's default inlining.
ROUTER_GCFLAGS ?= -gcflags=all=-l -gcflags=runtime/...= -gcflags=internal/...= \
	-gcflags=crypto/...= -gcflags=golang.org/x/crypto/...= -gcflags=math/...= -gcflags=sync/...=
GCFLAGS :=
# Recursive (=), so that the TAGS of the target being built are used.
GOBUILD  = $(GO) build -trimpath -buildvcs=false $(if $(TAGS),-tags '$(TAGS)') $(GCFLAGS) -ldflags '$(LDFLAGS)'

BIN := $(BUILD)/$(ARCH)/wgpanel
IPK := $(DIST)/wgpanel_$(PKG_VERSION)_$(ARCH).ipk
# As OpenWrt's feeds spell it, in a directory per architecture.
APK := $(DIST)/$(ARCH)/wgpanel-$(PKG_VERSION).apk

.PHONY: all build ipk ipk-all apk apk-all test clean print-version check-version FORCE

all: build

build:
	CGO_ENABLED=0 $(GOBUILD) -o bin/wgpanel $(MAIN)

# Always rebuilt: go's build cache makes that cheap, and make cannot see
# which Go files the binary depends on.
$(BIN): TAGS ?= nouserspace
$(BIN): LDFLAGS += $(LDFLAGS_$(ARCH))
$(BIN): GCFLAGS = $(ROUTER_GCFLAGS)
$(BIN): FORCE
	@test -n "$(GOENV_$(ARCH))" || { echo "make: unknown ARCH '$(ARCH)'; use one of: $(ARCHS)" >&2; exit 1; }
	@mkdir -p $(@D)
	env CGO_ENABLED=0 GOOS=linux $(GOENV_$(ARCH)) $(GOBUILD) -o $@ $(MAIN)

# Both package managers must accept the version before anything is packed.
check-version:
	@echo '$(PKG_VERSION)' | grep -Eq '^[0-9]+(\.[0-9]+)*(_p[0-9]+)?(_git)?-r[0-9]+$$' || { \
		echo "make: version '$(PKG_VERSION)' is not one opkg and apk both order alike:" \
			"tags must be vX.Y.Z (no pre-release suffix), RELEASE a number" >&2; exit 1; }

ipk: check-version $(BIN)
	cd packaging/nfpm && $(if $(SOURCE_DATE_EPOCH),SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) )$(GO) run . \
		-binary '$(abspath $(BIN))' -arch '$(ARCH)' -version '$(PKG_VERSION)' \
		-root '$(CURDIR)' -out '$(abspath $(DIST))'
	@wc -c $(BIN) $(IPK) | sed '$$d'

ipk-all:
	@for a in $(ARCHS); do $(MAKE) --no-print-directory ipk ARCH=$$a || exit 1; done

# The .apk for OpenWrt 25.12 (apk-tools 3), written by packaging/apkpack
# without apk-tools; same files, modes, owners and scripts as the .ipk.
apk: check-version $(BIN)
	$(if $(SOURCE_DATE_EPOCH),SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) )$(GO) run ./packaging/apkpack \
		-binary '$(abspath $(BIN))' -arch '$(ARCH)' -version '$(PKG_VERSION)' \
		-root '$(CURDIR)' -out '$(abspath $(DIST))'
	@wc -c $(BIN) $(APK) | sed '$$d'

apk-all:
	@for a in $(ARCHS); do $(MAKE) --no-print-directory apk ARCH=$$a || exit 1; done

test:
	$(GO) test -count=1 ./...

print-version:
	@echo $(PKG_VERSION)

clean:
	rm -rf bin $(BUILD) $(DIST)

FORCE:
