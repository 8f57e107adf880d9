# mailtier: build, demo and test.
#
# `make test` is what CI runs (.ci/run): it installs the Debian packages the
# tests need when they are missing, then runs every test.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH   ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w \
	-X github.com/prometheus/common/version.Version=$(VERSION) \
	-X github.com/prometheus/common/version.Revision=$(REVISION) \
	-X github.com/prometheus/common/version.Branch=$(BRANCH) \
	-X github.com/prometheus/common/version.BuildUser=mailtier \
	-X github.com/prometheus/common/version.BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)

# Debian packages the tests run for real: promtool and amtool, Alertmanager,
# the mail daemons whose own checkers validate docker/mail/, and
# VictoriaMetrics with vmagent and vmalert (the rules and dashboards on it).
DEB_PACKAGES := prometheus prometheus-alertmanager \
	dovecot-core dovecot-imapd dovecot-lmtpd dovecot-submissiond fail2ban opendkim opendkim-tools opendmarc \
	dnsmasq-base iproute2 openssl sendmail-base \
	rsyslog logrotate m4 sendmail-cf victoria-metrics \
	libdb5.3 libldap-2.5-0 liblockfile1 libnsl2 libsasl2-2 libssl3 libwrap0

# Debian's sendmail-bin, unpacked rather than installed (it conflicts with
# every other MTA and its package starts a daemon on port 25), for the tests
# that run sendmail itself; its libraries are in DEB_PACKAGES.
SENDMAIL_ROOT ?= $(HOME)/.cache/mailtier/sendmail-bin

# terraform fmt, validate and plan (terraform/check.sh and terraform/'s
# tests): the last MPL-2.0 release, built from the Go module proxy (no
# distribution packages it).
TERRAFORM_VERSION := v1.5.7
TERRAFORM := $(shell $(GO) env GOPATH)/bin/terraform

# The AWS Lambda Runtime Interface Emulator, which alert_sink's integration
# test runs the shipped binary under. Built from the Go module proxy (the
# module has no tags the proxy serves, so a pseudo-version pins it); the
# version is also in lambda/alert_sink/rie_test.go.
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
RIE_DIR := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/mailtier/aws-lambda-rie-$(RIE_VERSION)
RIE := $(RIE_DIR)/aws-lambda-rie

DEMO_ADDR ?= :9469

.PHONY: all build demo pgo test test-fast test-nobody deps bench-deps sendmail-bin vet lint unit fmt-check terraform-check mail-check e2e cross bench fuzz clean docker-context

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/mailtier_exporter ./exporters/mailtier_exporter

# The exporter on the bundled real logs (sendmail 8.17, Dovecot 2.3, OpenDKIM 2.11,
# fail2ban 1.0 on loopback), read from their start and then followed.
demo: build
	@echo "metrics on http://localhost$(DEMO_ADDR)/metrics (Ctrl-C stops)"
	./bin/mailtier_exporter --web.listen-address=$(DEMO_ADDR) --tail.from-start \
		--tail.path=testdata/corpus/maillog \
		--tail.path=testdata/corpus/dovecot.log \
		--tail.path=testdata/corpus/fail2ban.log \
		--no-collector.mqueue

test: deps fmt-check vet lint unit terraform-check mail-check

# The fast tier alone: no root, no Debian packages, no daemons.
test-fast:
	$(GO) test -count=1 ./...

# The fast tier as user nobody with the integration tier's programs hidden
# (root: it sets up a mount namespace); see README.md.
test-nobody:
	sh scripts/fast-tier-as-nobody.sh -count=1 ./...

# apt-install installs the Debian packages of $(1) that are missing.
define apt-install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "installing Debian packages:$$missing"; \
		$$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call apt-install,$(DEB_PACKAGES))

# The benchmarks' peer: mtail runs an equivalent program on the same file.
BENCH_PACKAGES := mtail

bench-deps:
	$(call apt-install,$(BENCH_PACKAGES))

# gofmt, and the project's one rule beyond it: each import is a declaration
# of its own (import "os"), never a parenthesised group, so that every tool
# that reads the source line by line sees an import line as one.
fmt-check:
	@files=$$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'); \
	out=$$(gofmt -l $$files); \
	if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi; \
	out=$$(grep -l '^import ($$' $$files); \
	if [ -n "$$out" ]; then echo "grouped imports (write one import declaration a line):"; echo "$$out"; exit 1; fi

# tools/ is a module of its own (test-only dependencies on Prometheus'
# packages): vetted and tested with the rest.
vet:
	$(GO) vet ./...
	cd tools && $(GO) vet ./...

# staticcheck from the Go module proxy, pinned; its checks are in
# staticcheck.conf.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	$(GO) run $(STATICCHECK) ./...
	cd tools && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

sendmail-bin:
	@[ -x "$(SENDMAIL_ROOT)/usr/libexec/sendmail/sendmail" ] || { \
		tmp=$$(mktemp -d) && (cd "$$tmp" && { apt-get download -qq -o APT::Sandbox::User=root sendmail-bin || \
			{ apt-get update -qq && apt-get download -qq -o APT::Sandbox::User=root sendmail-bin; }; }) && \
		mkdir -p "$(SENDMAIL_ROOT)" && dpkg-deb -x "$$tmp"/sendmail-bin_*.deb "$(SENDMAIL_ROOT)" && rm -rf "$$tmp"; }

# Both tiers, then the tools module (tools/: Prometheus' own PromQL parser,
# relabeling and configuration loader, kept out of the main go.mod).
# terraform/'s tests run the terraform binary (TERRAFORM); the sendmail
# tests run Debian's sendmail-bin, unpacked (SENDMAIL_ROOT); alert_sink's
# run the Lambda Runtime Interface Emulator (RIE).
unit: sendmail-bin $(TERRAFORM) $(RIE)
	TERRAFORM=$(TERRAFORM) MAILTIER_INTEGRATION=1 MAILTIER_SENDMAIL_ROOT=$(SENDMAIL_ROOT) MAILTIER_RIE=$(RIE) $(GO) test -race -count=1 ./...
	cd tools && TERRAFORM=$(TERRAFORM) MAILTIER_INTEGRATION=1 MAILTIER_SENDMAIL_ROOT=$(SENDMAIL_ROOT) MAILTIER_RIE=$(RIE) $(GO) test -race -count=1 ./...

$(RIE):
	GOBIN=$(RIE_DIR) CGO_ENABLED=0 GOFLAGS=-mod=mod $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

$(TERRAFORM):
	$(GO) install github.com/hashicorp/terraform@$(TERRAFORM_VERSION)

terraform-check: $(TERRAFORM)
	TERRAFORM=$(TERRAFORM) sh terraform/check.sh

mail-check:
	sh docker/mail/check.sh

# The copies of rules/ and dashboards/ under docker/, the build context of
# the images (as cabal-infra builds them).
docker-context:
	sh docker/sync.sh

# The end-to-end suite on real daemons (root: it installs Debian packages and
# starts sendmail, Dovecot, OpenDKIM, fail2ban and rsyslog in namespaces of
# their own, loopback only): see docs/e2e.md.
e2e:
	e2e/run.sh

# The module must build for the cluster (Graviton, arm64) and for amd64.
cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build ./...
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build ./...

# Throughput and memory: the per-line path; whole-process --once runs over
# 1 M and 10 M generated lines against a line-count floor and mtail in the
# same run; and the live exporter: idle CPU, catching up a backlog against
# --once, write-to-/metrics delay, 200 concurrent scrapes (see
# docs/performance.md). MAILTIER_BENCH_PEER=<another build> measures it
# too, in the same run. alert_sink: its cold start and peak RSS, and its CPU
# on a 1 MiB Alertmanager group (docs/alert_sink.md).
bench: bench-deps
	$(GO) test -run '^$$' -bench . -benchmem ./collectors/... ./internal/...
	MAILTIER_INTEGRATION=1 $(GO) test -run '^$$' -bench 'OnceVsPeers|Once1M|Once10M|Soak|Idle|CatchUp|Scrapes200' -benchtime 1x -timeout 30m ./exporters/mailtier_exporter/
	$(GO) test -run '^$$' -bench 'ColdStart' -benchtime 50x ./lambda/alert_sink/
	$(GO) test -run '^$$' -bench 'DecodeLargeGroup' -cpu 1 -benchtime 20x -benchmem ./lambda/alert_sink/payload/

# The CPU profile `go build` optimises the exporter with: --once over 10 M
# generated lines, in process (BenchmarkOnceInProcess). Refresh it after the
# per-line path changes shape.
pgo:
	$(GO) test -run '^$$' -bench OnceInProcess -benchtime 1x -cpuprofile exporters/mailtier_exporter/default.pgo ./exporters/mailtier_exporter/
	rm -f mailtier_exporter.test

# Every fuzz target of the module, found by `go test -list`, each run for
# FUZZTIME (CI: 30 s). `make test` runs their seed corpora as plain tests.
# FUZZMINIMIZETIME 0 turns off minimizing: the fuzzer minimizes every new
# interesting input, for up to 60 s by default, during which no input runs,
# and a run whose time ends in the middle of it fails with "context deadline
# exceeded" though nothing failed. A crasher is kept unminimized under
# testdata/fuzz; minimize it by hand with -fuzzminimizetime.
FUZZTIME ?= 30s
FUZZMINIMIZETIME ?= 0
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg; \
		done; \
	done

clean:
	rm -rf bin
