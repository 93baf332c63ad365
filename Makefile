# lsqbridge — see README.md. Every target works on a fresh machine with Go
# and (for run/test) a local Postgres, which .ci/ensure-postgres starts.

SQLC_VERSION := v1.30.0
GO           ?= go
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lsqbridge?sslmode=disable
# A fixed key for the local sandbox only; production sets its own.
DEV_MASTER_KEY := $(shell printf %s lsqbridge-sandbox-key-not-secret | od -An -tx1 | tr -d " \n")

.PHONY: run uat test lint generate build image check-image check-generated check-alerts postgres chromium

## run: the sandbox — lsqbridge against built-in fakes of LeadSquared and LimeChat
run: postgres
	@psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='lsqbridge'" | grep -q 1 || \
		psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE lsqbridge" >/dev/null
	DATABASE_URL='$(DATABASE_URL)' LSQBRIDGE_MASTER_KEY=$${LSQBRIDGE_MASTER_KEY:-$(DEV_MASTER_KEY)} \
		$(GO) run ./cmd/lsqbridge sandbox

## uat: the acceptance checklist against the running sandbox (`make run` in another terminal),
## whose fakes listen on loopback
uat:
	DATABASE_URL='$(DATABASE_URL)' LSQBRIDGE_MASTER_KEY=$${LSQBRIDGE_MASTER_KEY:-$(DEV_MASTER_KEY)} LSQBRIDGE_ALLOW_LOOPBACK=true \
		$(GO) run ./cmd/lsqbridge uat

## test: every test, against real Postgres (each test in its own database),
## then a short fuzz of the webhook routes' HTTP handlers. -parallel 6: the
## end-to-end tests mostly wait on Postgres and HTTP, so more of them at once
## than the two cores finishes sooner (cmd/lsqbridge 150 s -> 125 s here)
test: postgres chromium
	$(GO) test -count=1 -v -parallel 6 -timeout 40m ./...
	$(GO) test ./cmd/lsqbridge -run '^$$' -fuzz '^FuzzWebhookRoutes$$' -fuzztime 15s

## lint: go vet and gofmt
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## generate: regenerate db/ from migrations/ and queries/ with the pinned sqlc, and
## docs/integration.schema.json from the integration config types
generate:
	$(GO) run github.com/sqlc-dev/sqlc/cmd/sqlc@$(SQLC_VERSION) generate
	$(GO) test ./service -run '^TestIntegrationSchemaIsGenerated$$' -count=1 -update-schema >/dev/null

## check-generated: fail when db/ or the config schema differs from what the generators write
check-generated: generate
	git diff --exit-code -- db/ docs/integration.schema.json
	@test -z "$$(git status --porcelain -- db/)" || { echo "untracked generated files in db/"; git status --porcelain -- db/; exit 1; }

# -buildvcs=auto: the commit goes into the binary (`lsqbridge version`) even
# where GOFLAGS turns VCS stamping off.
build:
	$(GO) build -buildvcs=auto -o bin/lsqbridge ./cmd/lsqbridge

## image: the container image as an OCI tarball, built without a container engine (docs/deploy.md)
IMAGE   ?= bin/lsqbridge-image.tar
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
image:
	CGO_ENABLED=0 GOOS=linux $(GO) build -buildvcs=auto -trimpath -ldflags='-s -w' -o bin/image/lsqbridge ./cmd/lsqbridge
	$(GO) run ./cmd/ociimage -binary bin/image/lsqbridge -version '$(VERSION)' -o $(IMAGE)

## check-image: the image test, on the tarball `make image` wrote
check-image:
	LSQBRIDGE_IMAGE='$(abspath $(IMAGE))' $(GO) test -count=1 -run '^TestImage' -v ./cmd/ociimage

## check-alerts: promtool (Debian's prometheus package) checks the Prometheus alert rules
check-alerts:
	@bash .ci/ensure-promtool
	promtool check rules docs/deploy/prometheus-alerts.yaml

postgres:
	@bash .ci/ensure-postgres

# The agent page's browser test drives Debian's Chromium through chromedriver.
chromium:
	@bash .ci/ensure-chromium
