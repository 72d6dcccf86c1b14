# The two commands of the README, and the steps they are made of.
#   make site   set everything up and build the website into _build/html
#   make test   set everything up and run the whole test suite (package, notebooks, website in Chromium)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: site site-student grading translations test test-quick test-other-cpu lint text execute student dist setup chromium clean

# Both editions, side by side: English in _build/html/, Chinese (built from the same sources and the
# catalogues of locales/zh_CN, scripts/i18n.py) in _build/html/zh_CN/; then every chapter's slides in each.
site: $(VENV)/.installed _vendor/.stamp
	$(BIN)/jupyter-book build . -W --keep-going --all
	$(BIN)/python scripts/i18n.py config
	$(BIN)/jupyter-book build . -W --keep-going --all --config _build/zh_CN-config/_config.yml --path-output _build/zh_CN
	rm -rf _build/html/zh_CN && cp -r _build/zh_CN/_build/html _build/html/zh_CN
	$(BIN)/python scripts/make_slides.py

# The Chinese edition's sources, after a chapter or page changed: its messages extracted and the catalogues
# updated (new messages untranslated, changed ones fuzzy: translate them), then the Chinese notebooks
# remade from the chapters and the catalogues (book/how_to_use.md; tests/test_i18n.py checks all three).
translations: $(VENV)/.installed
	$(BIN)/python scripts/i18n.py extract
	$(BIN)/python scripts/i18n.py notebooks
	$(BIN)/python scripts/i18n.py check

# Everything. The chapters under strict nbval and the retraining tests run once, in test-other-cpu, as another
# machine computes them (the stronger check: the stored outputs were made on this one), not again here.
test: lint site chromium test-other-cpu
	$(BIN)/python -m pytest -m "not retrain" tests

# Pyflakes and syntax errors (pyproject.toml's [tool.ruff]) in the package, scripts, tests, benchmarks and
# the chapters' code: a second or two.
lint: $(VENV)/.installed
	$(BIN)/ruff check attn_course scripts tests benchmarks notebooks

# The chapters' text twins (notebooks/md/*.md, paired in jupytext.toml), rewritten from the notebooks (one
# way: the .ipynb, executed, is the source of truth; tests/test_text_twins.py checks the twins).
text: $(VENV)/.installed
	mkdir -p notebooks/md
	for nb in notebooks/*.ipynb; do $(BIN)/jupytext --quiet --to md:myst --output notebooks/md/$$(basename $$nb .ipynb).md $$nb || exit 1; done

# The chapters under strict nbval, and the models retrained, as another machine computes them: OpenBLAS's
# Sandybridge kernels (NumPy), PyTorch's non-vectorised kernels and MKL's and oneDNN's AVX2 code paths, one
# thread. A stored output or a test that depends on the CPU's floating-point kernels fails here.
OTHER_CPU := OPENBLAS_CORETYPE=Sandybridge ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=AVX2 \
             ONEDNN_MAX_CPU_ISA=AVX2 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
test-other-cpu: $(VENV)/.installed
	$(OTHER_CPU) $(BIN)/python -m pytest notebooks tests/test_applications.py tests/test_transformer.py -p no:cacheprovider -q

# The inner loop while editing (a few minutes): everything but the slow tests (retraining, the Colab-like
# install, the student edition run, JupyterLab) and the browser; add a chapter's path to narrow it.
test-quick: $(VENV)/.installed
	$(BIN)/python -m pytest -m "not slow and not browser" -q

# The release Colab installs by name (the install cell of every chapter pins attn_course.__version__):
# the sdist and the wheel in dist/, checked with twine. Publish with `twine upload dist/*`.
dist: $(VENV)/.installed
	rm -rf dist build
	$(BIN)/python -m build --no-isolation --sdist --wheel --outdir dist .
	rm -rf build attn_course.egg-info
	$(BIN)/twine check --strict dist/*

# Re-execute every chapter in place, deterministically, storing outputs and widget state.
execute: $(VENV)/.installed
	$(BIN)/python scripts/execute_notebooks.py
	$(MAKE) text

# The student edition: student/notebooks/ and the Chinese student/zh_CN/notebooks/, solutions removed and
# outputs cleared (see book/instructor_guide.md).
student: $(VENV)/.installed
	$(BIN)/python scripts/make_student_edition.py
	$(BIN)/python scripts/make_student_edition.py --out student/zh_CN zh_CN/notebooks/*.ipynb

# The class-grading export: an nbgrader course in grading/ (one assignment per chapter: solutions marked,
# autograded tests with points, hidden tests), made from the chapters and the exercise registry.
# Then, in grading/: nbgrader generate_assignment, autograde, generate_feedback (book/class_deployment.md).
grading: $(VENV)/.installed
	$(BIN)/python scripts/make_grading.py

# The student website, into _build/student/: launch buttons on the student edition (branch `student`),
# no solutions, no instructor guide.
site-student: $(VENV)/.installed _vendor/.stamp
	$(BIN)/python scripts/make_student_edition.py --site-config _build/student-config/_config.yml
	$(BIN)/jupyter-book build . -W --keep-going --all --config _build/student-config/_config.yml --toc _build/student-config/_toc.yml --path-output _build/student

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -r requirements.txt
	touch $@

_vendor/.stamp: vendor/package.json vendor/package-lock.json vendor/widgets-config.js scripts/vendor_assets.py
	$(BIN)/python scripts/vendor_assets.py
	touch $@

# The browser tests drive Debian's Chromium (Playwright's own browser download does not work offline).
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

clean:
	rm -rf _build _vendor
