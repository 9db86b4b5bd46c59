# Makefile of the handbook "Wie kommunales E-Government gelingt".
# On a fresh clone, `make serve` and `make test` are all a person types:
# every target installs what it needs first.

PYTHON      ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
SPHINXBUILD := $(VENV)/bin/sphinx-build
SPHINXOPTS  ?= --fail-on-warning --keep-going -c .
JOBS        ?= auto
SOURCEDIR   ?= docs
BUILDDIR    ?= build
PDFNAME     := kochbuch-egovernment
TESTOPTS    ?=
HOST        ?= 127.0.0.1
PORT        ?= 8000

.PHONY: help install test-data html pdf live site release release-notes serve sync test bench clean

help:
	@echo "Wie kommunales E-Government gelingt – make targets:"
	@echo "  make serve    install, build the site and serve site + feedback API on http://$(HOST):$(PORT)/ (approvals published at once)"
	@echo "  make test     install and run the whole test suite"
	@echo "  make install  create $(VENV) and install the project (fast when nothing changed)"
	@echo "  make test-data  download what the tests build offline (Sphinx's sdist) into $(BUILDDIR)/cache/"
	@echo "  make html     build the working tree's HTML into $(BUILDDIR)/html/"
	@echo "  make pdf      build the working tree's PDF into $(BUILDDIR)/pdf/ and check it"
	@echo "  make live     live preview with sphinx-autobuild on http://$(HOST):8001/"
	@echo "  make site     build every edition in releases.toml into $(BUILDDIR)/site/"
	@echo "  make release VERSION=2.1 TITLE=\"…\"  publish a new edition: check, build, tag, record, build the site, print its notes"
	@echo "  make release-notes VERSION=2.1  print the release notes of a recorded edition again"
	@echo "  make sync     merge approved comments and rebuild what changed"
	@echo "  make bench    run the benchmarks and print them as tables"
	@echo "  make clean    remove $(BUILDDIR)/"

# The project's own modules compiled ahead: the environment may forbid Python to
# write bytecode (PYTHONDONTWRITEBYTECODE), and then every build, sync and
# service process would compile them anew (a quarter of a second each).
# compileall skips what is up to date.
install: $(VENV)/.installed
	@$(PY) -m compileall -q ext feedback_service bench > /dev/null

# Reinstall only when the project's metadata changed; the package itself is
# installed in editable mode, so code changes need no reinstall. setuptools
# warns of every editable install whose packages live in more than one folder
# (ext/ and the top) that a folder of the same name in the working directory
# could shadow them: here that folder is the package itself, so the warning is
# left out.
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	PYTHONWARNINGS='ignore:Editable installation' \
	  $(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,dev]'
	@touch $@

# Sphinx's own documentation, which tests/ext/test_any_project.py builds with the
# extension: the sdist of the installed Sphinx, fetched once.
test-data: install
	@version=$$($(PY) -c 'import sphinx; print(sphinx.__version__)'); \
	test -f $(BUILDDIR)/cache/sphinx-$$version.tar.gz || \
	  $(PY) -m pip download --quiet --disable-pip-version-check --no-binary :all: --no-deps \
	    "sphinx==$$version" -d $(BUILDDIR)/cache

html: install
	$(SPHINXBUILD) -b html -j $(JOBS) $(SPHINXOPTS) $(SOURCEDIR) $(BUILDDIR)/html

# rst2pdf reports a failed PDF and still exits 0 with an empty file: the builder
# in sphinx_handbook.pdf raises, and the result is checked here once more.
pdf: install
	$(SPHINXBUILD) -b pdf $(SPHINXOPTS) $(SOURCEDIR) $(BUILDDIR)/pdf
	@head -c 5 $(BUILDDIR)/pdf/$(PDFNAME).pdf 2>/dev/null | grep -q '%PDF-' \
	  || { echo "FEHLER: $(BUILDDIR)/pdf/$(PDFNAME).pdf ist kein gültiges PDF." >&2; exit 1; }
	@echo "PDF: $(BUILDDIR)/pdf/$(PDFNAME).pdf"

live: install
	$(VENV)/bin/sphinx-autobuild -b html $(SPHINXOPTS) --host $(HOST) --port 8001 $(SOURCEDIR) $(BUILDDIR)/live

site: install
	$(PY) -m handbook_editions build --out $(BUILDDIR)/site

# The logic (refusals, builds, tag, the one commit, notes) is in handbook_editions.release.
release: install
	@test -n "$(VERSION)" && test -n "$(TITLE)" \
	  || { echo 'Aufruf: make release VERSION=2.1 TITLE="Titel der Ausgabe"' >&2; exit 2; }
	$(PY) -m handbook_editions release --version "$(VERSION)" --title "$(TITLE)" --out $(BUILDDIR)/site

release-notes: install
	@test -n "$(VERSION)" || { echo 'Aufruf: make release-notes VERSION=2.1' >&2; exit 2; }
	@$(PY) -m handbook_editions release-notes --version "$(VERSION)" --out $(BUILDDIR)/site

# --sync-every: the sync runs at once on every approval and every 30 s as a safety net.
serve: site
	$(PY) -m feedback_service serve --host $(HOST) --port $(PORT) --site-dir $(BUILDDIR)/site --sync-every 30

sync: install
	$(PY) -m feedback_service sync

test: install test-data
	$(PY) -m pytest $(TESTOPTS)

bench: install
	$(PY) -m bench

clean:
	rm -rf $(BUILDDIR)
