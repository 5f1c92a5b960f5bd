# SPDX-License-Identifier: GPL-2.0-or-later
# Two commands on a fresh Debian 12 machine: `make demo` and `make test`.
# Both set everything up on first run (scripts/setup.sh).
VENV := .venv/bin

.PHONY: setup demo test lint bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/python -m cti demo

test: setup
	$(VENV)/python -m pytest -q -p no:cacheprovider

lint: setup
	$(VENV)/ruff check .

bench: setup
	$(VENV)/python -m bench.ctbus
	$(VENV)/python -m bench.dsp
	$(VENV)/python -m bench.e2e
	$(VENV)/python -m bench.acd
	$(VENV)/python -m bench.fuzz
	$(VENV)/python -m bench.logins
	$(VENV)/python -m bench.faults
	$(VENV)/python -m bench.drivers
	$(VENV)/python -m bench.lines
	$(VENV)/python -m bench.console
	$(VENV)/python -m bench.shell
	$(VENV)/python -m bench.lines

clean:
	rm -rf build .venv *.egg-info drivers/_r4*.so drivers/_r4*.c drivers/_r4*.o drivers/_pri*.so drivers/_pri.c drivers/_r2*.so drivers/_r2.c drivers/_dahdi*.so drivers/_dahdi.c drivers/libctisim.so
