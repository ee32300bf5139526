# Steel Notes Sync: the commands. Every target installs what it needs into .tools/ first.
.PHONY: test soak dev migrate tools services-start services-stop build-arm64 fmt lint

# The whole check, as CI runs it: formatting, lints, every test against real local services.
test: tools
	scripts/with-services.sh scripts/test.sh

# The sync client's seeded model test under injected faults, SEEDS seeds (default 1000), then
# the deterministic simulation for SIM_OPS simulated operations (default 20,000,000).
soak: tools
	SEEDS=$(or $(SEEDS),1000) scripts/soak.sh
	cargo run --quiet --locked --bin steel-sim -- --ops $(or $(SIM_OPS),20000000) --first-seed $(or $(SIM_FIRST_SEED),1000000)

# Only the deterministic simulation, SIM_OPS operations (default 1,000,000, as `make test`).
.PHONY: sim
sim:
	cargo run --quiet --locked --bin steel-sim -- --ops $(or $(SIM_OPS),1000000)

# Runs the backend locally: services, migrations, then every function behind
# `cargo lambda watch` on http://127.0.0.1:9000 (routes as in API Gateway).
dev: tools
	scripts/dev.sh

# Applies the migrations to $$DATABASE_URL.
migrate:
	cargo run --quiet --bin migrate

tools:
	scripts/install-tools.sh

services-start: tools
	scripts/services.sh start

services-stop:
	scripts/services.sh stop

# Release binaries for Lambda (Graviton), as `sam build` makes them.
build-arm64: tools
	PATH="$(CURDIR)/.tools/venv/bin:$$PATH" cargo lambda build --release --arm64

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# Offline deployment check: SAM CLI + cfn-lint into .tools/venv, `sam validate --lint`,
# `sam build` (arm64 release binaries) and their sizes. Needs no AWS account.
.PHONY: check-deploy
check-deploy: tools
	scripts/check-deploy.sh

# Benchmarks (issue 8), not part of `make test`: handler cost vs vault size, binary size and
# cold start, concurrency. Prints a report, writes BENCHMARKS.md and the README's performance
# section. Builds the arm64 release binaries first (BENCH_ARM64=skip measures existing ones).
.PHONY: bench
bench: tools
	scripts/bench.sh
