# Two commands for a newcomer: `make run` and `make test`. Both build the
# virtual environment from the pinned requirements first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app app
PORT   ?= 5000
STAMP  := $(VENV)/.installed

.PHONY: run serve migrate test lint install clean bench bench-pages bench-spike translations catalogs

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# The worker (emails, webhook events, expiring holds) runs beside the server on the
# embedded queue (instance/queue.db): a process of its own, as in production, that
# stops with the server.
# Links in emails, QR codes and signed passports name the address the store serves at.
run: export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
run: $(STAMP) catalogs
	$(FLASK) db upgrade
	$(FLASK) seed-demo
	$(FLASK) worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

# The schema brought up to this release: once per deploy, before the new web processes
# start. Safe to run on several machines at once: on PostgreSQL they take turns (an
# advisory lock, migrations/env.py) and the later ones find nothing left to do.
migrate: $(STAMP)
	$(FLASK) db upgrade

# The production server: gunicorn with the settings in gunicorn.conf.py (GUNICORN_BIND,
# WEB_CONCURRENCY, ...). It migrates first (a no-op when `make migrate` has run), so a
# fresh clone serves at once. The demo data is loaded only into a development store.
serve: migrate
	if [ "$${SHOP_ENV:-development}" = development ]; then $(FLASK) seed-demo; fi
	exec $(BIN)/gunicorn --config gunicorn.conf.py app:app

test: $(STAMP) catalogs
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Scale benchmarks, reported as ratios measured in one run (not part of `make test`).
BENCH_TRANSFERS ?= 1000000
bench: $(STAMP)
	$(BIN)/python bench/staff_balances.py --transfers $(BENCH_TRANSFERS)
	$(BIN)/python bench/log_proofs.py --transfers $(BENCH_TRANSFERS)
	$(BIN)/python bench/catalog_pages.py

# The public pages as a share of /healthz on one gunicorn, cold and warm (wrk if installed).
bench-pages: $(STAMP)
	$(BIN)/python bench/catalog_pages.py

# A crowd on the production stack (locust; PostgreSQL and Redis on 127.0.0.1): some 5 minutes,
# so not part of `make bench`. SPIKE_ARGS="--users 200 --duration 60" for a shorter run.
SPIKE_ARGS ?=
bench-spike: $(STAMP)
	$(BIN)/python bench/spike.py $(SPIKE_ARGS)

# Translations (Khmer, Hindi, Bengali; English is the source). `make translations`
# extracts every marked string into translations/messages.pot, merges it into each
# language's catalog (new messages empty, none guessed) and compiles them. The compiled
# .mo files are built by `make run` and `make test` (catalogs), never committed.
LANGUAGES := km hi bn
BABEL_KEYWORDS := -k _ -k gettext -k ngettext:1,2 -k lazy_gettext -k lazy_ngettext:1,2 -k _l -k _n:1,2 \
	-k pgettext:1c,2 -k npgettext:1c,2,3 -k lazy_pgettext:1c,2
translations: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg $(BABEL_KEYWORDS) --no-wrap --sort-by-file \
		--project "Made Known" --copyright-holder "Made Known" -o translations/messages.pot .
	for lang in $(LANGUAGES); do \
		if [ -f translations/$$lang/LC_MESSAGES/messages.po ]; then \
			$(BIN)/pybabel -q update -i translations/messages.pot -d translations -l $$lang \
				--no-fuzzy-matching --ignore-obsolete --no-wrap; \
		else \
			$(BIN)/pybabel -q init -i translations/messages.pot -d translations -l $$lang --no-wrap; \
		fi; \
	done
	$(BIN)/python -m shop.catalogs

catalogs: $(STAMP)
	$(BIN)/python -m shop.catalogs

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
