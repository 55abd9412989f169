.PHONY: test lint bench
test:
	.venv/bin/python -m pytest
lint:
	.venv/bin/ruff check tiered_agents tests graphs examples bench docs
bench:
	.venv/bin/python bench/tracing_overhead.py
