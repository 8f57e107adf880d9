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
# and the mail daemons whose own checkers validate docker/mail/.
DEB_PACKAGES := prometheus prometheus-alertmanager \
	dovecot-core dovecot-imapd fail2ban opendkim opendkim-tools dnsmasq-base iproute2 \
	rsyslog logrotate m4 sendmail-cf

# terraform fmt and validate: the last MPL-2.0 release, built from the Go
# module proxy (no distribution packages it).
TERRAFORM_VERSION := v1.5.7
TERRAFORM := $(shell $(GO) env GOPATH)/bin/terraform

DEMO_ADDR ?= :9469

.PHONY: all build demo test test-fast test-nobody deps vet lint unit fmt-check terraform-check mail-check e2e cross bench clean

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

deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "installing Debian packages:$$missing"; \
		$$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# staticcheck from the Go module proxy, pinned; its checks are in
# staticcheck.conf.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	$(GO) run $(STATICCHECK) ./...
	cd tools && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

# Both tiers, then the tools module (tools/: Prometheus' own PromQL parser,
# relabeling and configuration loader, kept out of the main go.mod).
unit:
	MAILTIER_INTEGRATION=1 $(GO) test -race -count=1 ./...
	cd tools && MAILTIER_INTEGRATION=1 $(GO) test -race -count=1 ./...

$(TERRAFORM):
	$(GO) install github.com/hashicorp/terraform@$(TERRAFORM_VERSION)

terraform-check: $(TERRAFORM)
	TERRAFORM=$(TERRAFORM) sh terraform/check.sh

mail-check:
	sh docker/mail/check.sh

# The end-to-end suite on real daemons (root: it installs Debian packages and
# starts sendmail, Dovecot, OpenDKIM, fail2ban and rsyslog in namespaces of
# their own, loopback only): see docs/e2e.md.
e2e:
	e2e/run.sh

# The module must build for the cluster (Graviton, arm64) and for amd64.
cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build ./...
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build ./...

# Throughput and memory: the per-line path, and whole-process --once runs
# over 1 M and 10 M generated lines (see docs/performance.md).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./collectors/...
	$(GO) test -run '^$$' -bench 'Once|Soak' -benchtime 1x ./exporters/mailtier_exporter/
	$(GO) test -run '^$$' -bench 'ColdStart' -benchtime 50x ./lambda/alert_sink/

clean:
	rm -rf bin
