# Folio: `make dev` runs the service locally, `make test` runs every test.
.PHONY: dev dev-aws test lint fmt bench install deploy-tools package

dev:
	scripts/dev.sh

# The AWS adapters against the local emulator.
dev-aws:
	scripts/dev-aws.sh

test:
	scripts/test.sh

lint:
	scripts/system-deps.sh
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	scripts/venv.sh && .venv/bin/cfn-lint template.yaml

fmt:
	cargo fmt --all

bench:
	scripts/bench.sh

# `folio` into ~/.cargo/bin (a release build).
install:
	scripts/system-deps.sh
	cargo install --locked --path cli

# cargo-lambda, zig and the SAM CLI (PyPI) into .folio/tools, for `make package` and `sam`.
deploy-tools:
	scripts/deploy-tools.sh

# Every function built for Lambda as `sam build` does it: ARCHS="x86_64 arm64" by default.
package:
	scripts/package.sh
