# wgpanel: build, test and package.
#
#   make build              the binary for this machine, in bin/wgpanel
#   make ipk [ARCH=...]     a static router build (see TAGS) packed as an OpenWrt .ipk in dist/
#                           ARCH: arm_cortex-a9_vfpv3-d16 (default, WRT3200ACM),
#                           aarch64_cortex-a53, mipsel_24kc, mips_24kc, x86_64
#   make ipk-all            the .ipk for every ARCH above
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

# VERSION is what `wgpanel version` prints, taken from git describe and made
# a valid opkg version: tag v1.2.3 gives 1.2.3, three commits later
# 1.2.3+3.gabc1234, a pre-release tag v1.3.0-rc1 gives 1.3.0~rc1 (sorts
# before 1.3.0); before the first tag (git describe prints a bare commit
# hash, which has no dot) it is 0.1.0~gabc1234, outside git 0.1.0.
# Uncommitted changes add .dirty. `make VERSION=...` overrides it.
BASE_VERSION := 0.1.0
ifneq ($(origin VERSION),command line)
VERSION := $(shell \
	d=$$(git describe --tags --always --dirty 2>/dev/null); \
	case "$$d" in \
	("") echo "$(BASE_VERSION)" ;; \
	(v[0-9]*|[0-9]*.*) echo "$$d" ;; \
	(*) echo "$(BASE_VERSION)~g$$d" ;; \
	esac | sed -E \
		-e 's/^v//' \
		-e 's/-(alpha|beta|rc)/~\1/' \
		-e 's/-([0-9]+)-g([0-9a-f]+)/+\1.g\2/' \
		-e 's/-dirty$$/.dirty/' \
		-e 's/[^A-Za-z0-9.+~]/./g')
endif
# The package version adds OpenWrt's package release: 0.1.0-r1.
IPK_VERSION := $(VERSION)-r$(RELEASE)

# File times inside the .ipk: the last commit's, so that a rebuild of the
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
# Recursive (=), so that the TAGS of the target being built are used.
GOBUILD  = $(GO) build -trimpath -buildvcs=false $(if $(TAGS),-tags '$(TAGS)') -ldflags '$(LDFLAGS)'

BIN := $(BUILD)/$(ARCH)/wgpanel
IPK := $(DIST)/wgpanel_$(IPK_VERSION)_$(ARCH).ipk

.PHONY: all build ipk ipk-all test clean print-version FORCE

all: build

build:
	CGO_ENABLED=0 $(GOBUILD) -o bin/wgpanel $(MAIN)

# Always rebuilt: go's build cache makes that cheap, and make cannot see
# which Go files the binary depends on.
$(BIN): TAGS ?= nouserspace
$(BIN): LDFLAGS += $(LDFLAGS_$(ARCH))
$(BIN): FORCE
	@test -n "$(GOENV_$(ARCH))" || { echo "make: unknown ARCH '$(ARCH)'; use one of: $(ARCHS)" >&2; exit 1; }
	@mkdir -p $(@D)
	env CGO_ENABLED=0 GOOS=linux $(GOENV_$(ARCH)) $(GOBUILD) -o $@ $(MAIN)

ipk: $(BIN)
	cd packaging/nfpm && $(if $(SOURCE_DATE_EPOCH),SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) )$(GO) run . \
		-binary '$(abspath $(BIN))' -arch '$(ARCH)' -version '$(IPK_VERSION)' \
		-root '$(CURDIR)' -out '$(abspath $(DIST))'
	@wc -c $(BIN) $(IPK) | sed '$$d'

ipk-all:
	@for a in $(ARCHS); do $(MAKE) --no-print-directory ipk ARCH=$$a || exit 1; done

test:
	$(GO) test -count=1 ./...

print-version:
	@echo $(IPK_VERSION)

clean:
	rm -rf bin $(BUILD) $(DIST)

FORCE:
