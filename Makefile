# churnctl — see README.md. Every target works on a fresh clone.
GO       ?= go
BIN      := bin/churnctl
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.revision=$(REVISION)
DEMO     ?= /tmp/churnctl-demo

.PHONY: equiv build minio test test-short test-race bench bench-bronze bench-etl bench-scale bench-features bench-train bench-load lint demo ci clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/churnctl

# The MinIO server the object-storage tests start (built once per machine into the Go cache).
minio:
	$(GO) run ./internal/miniotest/buildminio

# The whole suite, PostgreSQL integration tests included (they start their own server).
test:
	$(GO) test -count=1 -shuffle=on ./...

test-short:
	$(GO) test -short ./...

# The race detector over everything but the PostgreSQL server tests.
test-race:
	$(GO) test -race -short -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# End to end on the bundled sample, no services needed.
demo: build
	./scripts/demo.sh $(BIN) $(DEMO)

# Every benchmark, each side by side with its peer in the same run (see README "Benchmarks").
bench: bench-bronze bench-etl bench-features bench-train bench-load

# JSON -> bronze Parquet vs DuckDB on ~1 GB and ~3.4 GB (generated, deleted afterwards).
bench-bronze: build
	./scripts/bench_bronze.sh $(BIN)

# churnctl etl on ~1 GB, ~3.4 GB and ~11.8 GB generated logs: s/GB and peak RSS must not grow with the input
# (FULL_RUN=1: also the whole `churnctl run` on the largest; SIZES="40 80": a smoke run). Needs ~30 GB free.
bench-scale: build
	BIN=$(BIN) ./scripts/bench_scale.sh

# churnctl's random forest vs scikit-learn on the same table (FEATURES=path, default synthetic).
bench-train: build
	./scripts/bench_train.sh $(FEATURES)

# churnctl features (gold → snapshot) and etl+features vs DuckDB (duckpeer), same run (INPUT=json, default generated).
bench-features:
	./scripts/bench_features.sh $(INPUT)

# bronze+silver+gold vs DuckDB ingest on ~3.4 GB (generated, deleted afterwards).
bench-etl: build
	BIN=$(BIN) ./scripts/bench_etl.sh

# pgx binary COPY + upsert of 1,000,000 fact rows vs psql \copy, same private server.
bench-load:
	./scripts/bench_load.sh

# The whole pipeline (sample + a 1,000-user log, load into a private PostgreSQL) at two revisions gives the same
# lake, models, predictions and rows (REV_A default: the commit before issue 16's refactor; REV_B: the working tree).
equiv:
	./scripts/equiv.sh $(REV_A) $(REV_B)

ci: lint test

clean:
	rm -rf bin
