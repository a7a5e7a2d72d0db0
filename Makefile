# The two set-up commands: `make run` (service on its embedded default) and `make test`.
# Both install exactly what uv.lock pins, into .venv, when needed.
UV ?= uv
export UV_FROZEN := 1

.PHONY: run test install lint openapi bench clean

install:
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet "uv>=0.5"
	$(UV) sync --frozen

run: install
	$(UV) run --frozen torrent-streamer serve

test: install
	bash scripts/test.sh

lint: install
	bash scripts/lint.sh

openapi: install
	$(UV) run --frozen python -m torrent_streamer.openapi > openapi.json

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
