.PHONY: test lint bench
test:
	.venv/bin/python -m pytest
lint:
	.venv/bin/ruff check tiered_agents tests graphs examples bench docs
	.venv/bin/mypy tiered_agents
bench:
	.venv/bin/python bench/overhead.py
	.venv/bin/python bench/scaling.py
	.venv/bin/python bench/latency.py
	.venv/bin/python bench/limiter.py
