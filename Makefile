# The project's verbs. Each is a one-liner over a script; nothing lives only here.
.PHONY: env lock run test test-fast bench lint format token clean docs supergraph router

env:
	@scripts/bootstrap.sh

lock:
	scripts/lock.sh

run: env
	.venv/bin/python deploy/local_stack.py

# Most of a test's time is waiting (processes starting, a broker's group settling), so the suite
# runs in more workers than the machine has cores; a module's tests stay in one worker, and the
# modules start in the order collected (the end-to-end ones, which wait longest, first).
TEST_WORKERS ?= 6

test: env
	@scripts/ensure-postgres.sh
	@scripts/ensure-chromium.sh
	.venv/bin/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

test-fast: env
	.venv/bin/python -m pytest -m unit

bench: env
	@scripts/ensure-postgres.sh
	.venv/bin/python -m benchmarks

lint: env
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format: env
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

docs: env
	.venv/bin/python -m setka_contracts.asyncapi docs/asyncapi.json

supergraph: env
	.venv/bin/python -m gateway supergraph

token: env
	.venv/bin/setka token issue --role regional_admin --region "*"

clean:
	rm -rf var .venv .tools

router: env
	.venv/bin/python -m gateway router
