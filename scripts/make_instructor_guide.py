"""Write book/instructor_guide.md, the instructor guide, from the chapters and the exercise tests.

    .venv/bin/python scripts/make_instructor_guide.py

Run it again whenever a chapter's objectives, sections or exercises change (tests/test_instructor_guide.py
says when). What comes from where:

    learning objectives      each chapter's `Learning objectives` block, verbatim
    exercises                every cell tagged `solution`: its section heading, the checker called in the
                             first attempt before it (with that cell's stored, nbval-checked message), and
                             the checker's ✔ message stored after it
    typical wrong answers    every parametrized "rejects" test of tests/test_exercises_*.py, run with the
                             checker wrapped, so each message quoted is the one the checker really gives
    student edition          the stub scripts/make_student_edition.py leaves, run through the checker
    syllabus, prerequisites, hand-written below; every section they cite is checked to exist in its
    misconceptions           chapter, and chapters not in _toc.yml are named without a link

The page it writes is plain MyST markdown; nothing is generated at build time.
"""
import ast
import glob
import importlib.util
import inspect
import re
import sys
import warnings
from pathlib import Path

import nbformat
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
import attn_course.exercises as E  # noqa: E402

ORDER = ["01_background", "02_concepts", "03_algorithm", "04_mathematics", "05_practice", "05b_positions",
         "06_applications", "06b_transformer", "06c_language_model", "06d_masked_lm", "06e_kv_cache", "07_tools",
         "08_efficiency", "08b_gpu_kernel", "09_faq"]
TOC = set(re.findall(r"^\s*- file: notebooks/(\S+)", (ROOT / "_toc.yml").read_text(), flags=re.M))
PRESENT = [s for s in ORDER if (ROOT / "notebooks" / f"{s}.ipynb").exists()]
PRESENT += sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb") if p.stem not in ORDER)
EXPLORERS = ["SoftmaxExplorer", "WeightedSumExplorer", "ScalingExplorer", "MaskExplorer",
             "KernelRegressionExplorer", "MultiHeadExplorer", "ExampleExplorer", "RotaryExplorer"]
TODO = "exercise: write your solution here, then run the checker below"
problems = []


# -------------------------------------------------------------------------------------------------
# Typical wrong answers: the exercise tests, run with the checkers wrapped

def _param_sources(source, test_name):
    """The source text of each entry of `test_name`'s parametrize list: [[(text, is_a_name), ...], ...]."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == test_name:
            for dec in node.decorator_list:
                if isinstance(dec, ast.Call) and getattr(dec.func, "attr", "") == "parametrize":
                    entries = []
                    for elt in getattr(dec.args[1], "elts", []):
                        if isinstance(elt, ast.Call) and getattr(elt.func, "attr", "") == "param":
                            elt = ast.Tuple(elts=elt.args)
                        parts = elt.elts if isinstance(elt, ast.Tuple) else [elt]
                        entries.append([(" ".join(ast.get_source_segment(source, p).split()), isinstance(p, ast.Name))
                                        for p in parts])
                    return entries
    return []


def _describe(value, text, is_name):
    """How the answer key names one wrong answer: the test's own source text, or a function's name and note."""
    if isinstance(value, np.ndarray):
        return "weights " + code(str(np.round(value, 3).tolist()))
    if is_name and callable(value):
        note = (value.__doc__ or "").strip().split("\n")[0]
        try:
            first = inspect.getsource(value).split("\n")[0]
            note = note or (first.split("#", 1)[1].strip() if "#" in first else "")
        except (OSError, TypeError):
            pass
        return code(value.__name__) + (f" ({esc(note)})" if note else "")
    if text.startswith("dict(") and text.endswith(")"):
        return "the test's reference, changed by " + code(text[len("dict("):-1])
    return code(text)


def wrong_answers():
    """checker name -> [(test file, description, message)], from every parametrized rejection test."""
    out = {}
    for path in sorted(glob.glob(str(ROOT / "tests" / "test_exercises*.py"))):
        name = Path(path).stem
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # a test module that does not import (a missing optional package) is skipped
            problems.append(f"{name}: not imported ({type(e).__name__}: {e})")
            continue
        record = []
        for attr in dir(module):
            if attr.startswith("check_"):
                def wrapped(*args, _checker=getattr(module, attr), _name=attr, **kwargs):
                    feedback = _checker(*args, **kwargs)
                    record.append((_name, feedback))
                    return feedback
                setattr(module, attr, wrapped)
        source = Path(path).read_text()
        for test_name, test in list(vars(module).items()):
            marks = [m for m in getattr(test, "pytestmark", []) if m.name == "parametrize"]
            if not (test_name.startswith("test_") and marks and re.search(r"reject|wrong|mistake|named", test_name)):
                continue
            argnames = marks[0].args[0]
            argnames = [a.strip() for a in (argnames.split(",") if isinstance(argnames, str) else argnames)]
            sources = _param_sources(source, test_name)
            for i, values in enumerate(marks[0].args[1]):
                values = getattr(values, "values", values)
                values = (values,) if len(argnames) == 1 else values
                kwargs = dict(zip(argnames, values))
                record.clear()
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        test(**kwargs)
                except BaseException:  # noqa: BLE001 - a failing test still recorded its checker's answer
                    pass
                parts = sources[i] if i < len(sources) else [(repr(v), False) for v in values]
                if "merge" in argnames:
                    what = ("split " + _describe(kwargs["split"], *parts[0]) + ", merge "
                            + _describe(kwargs["merge"], *parts[1]))
                else:
                    what = _describe(values[0], *parts[0])
                for checker, feedback in record:
                    if not feedback:
                        out.setdefault(checker, []).append((name, what, feedback.message))
    return out


def esc(text):
    """Markdown-escape a message for a table cell or a paragraph."""
    text = text.replace("\\", "\\\\")
    for ch in "`*_[]<>|$#~":
        text = text.replace(ch, "\\" + ch)
    return text.replace("\n", " ")


def code(text):
    """An inline code span for a table cell (pipes escaped for the table)."""
    text = text.replace("\n", " ").replace("|", "\\|")
    ticks = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


class Chapter:
    """One notebook: its title, objectives, headings, exercises and explorers."""

    def __init__(self, stem):
        self.stem = stem
        self.nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
        first_md = next(c for c in self.nb.cells if c.cell_type == "markdown")
        self.title = first_md.source.split("\n", 1)[0].lstrip("# ").strip()
        self.number = self.title.split(".", 1)[0]
        self.short = self.title.split(".", 1)[1].strip() if "." in self.title else self.title
        m = re.search(r":::\{admonition\} Learning objectives\n:class: tip\n(.*?)\n:::", first_md.source, re.S)
        self.objectives = m.group(1).strip() if m else ""
        if not m:
            problems.append(f"{stem}: no learning objectives block")
        self.headings, self.sections = [], []   # sections[i] = the heading in force at cell i
        current = self.title
        for cell in self.nb.cells:
            if cell.cell_type == "markdown":
                for line in cell.source.split("\n"):
                    if line.startswith("#"):
                        current = line.lstrip("#").strip()
                        self.headings.append(current)
            self.sections.append(current)
        self.exercises = self._exercises()
        self.explorers = self._explorers()

    def _exercises(self):
        """Per solution cell: its section, the checker of the first attempt before it, and the cell after it."""
        out = []
        cells = self.nb.cells
        for i, cell in enumerate(cells):
            if "solution" not in cell.metadata.get("tags", []):
                continue
            heading = self.sections[i]
            first = next((j for j in range(i - 1, -1, -1) if cells[j].cell_type == "code"
                          and re.search(r"check_\w+\(", cells[j].source)), None)
            after = next((j for j in range(i + 1, len(cells)) if cells[j].cell_type == "code"
                          and re.search(r"check_\w+\(", cells[j].source)), None)
            checker = re.findall(r"(check_\w+)\(", cells[first].source)[-1] if first is not None else None
            if first is None or self.sections[first] != heading:
                problems.append(f"{self.stem}: solution cell {i} has no checker call before it in its section")
            out.append(dict(heading=heading, checker=checker, first=cells[first] if first is not None else None,
                            solution=cell, after=cells[after] if after is not None else None))
        return out

    def _explorers(self):
        """(explorer class, section) for every cell that builds an explorer (comments ignored)."""
        found = []
        for i, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code":
                continue
            code_only = "\n".join(line.split("#", 1)[0] for line in cell.source.split("\n"))
            for name in EXPLORERS:
                if re.search(rf"\b{name}\(", code_only):
                    found.append((name, self.sections[i]))
        return found

    def link(self, text=None):
        text = text or f"Chapter {self.number}"
        if self.stem in TOC:
            return f"{{doc}}`{text} <../notebooks/{self.stem}>`"
        return f"{text} (`notebooks/{self.stem}.ipynb`)"

    def sec(self, heading, text=None):
        """A reference to a section: the chapter link and the heading's name, checked to exist."""
        heading = self.heading(heading)
        return f"{self.link(text)}, *{heading}*"

    def heading(self, heading):
        """The chapter's heading that is, or else uniquely contains, `heading`."""
        if heading in self.headings:
            return heading
        matches = [h for h in self.headings if heading in h]
        if len(set(matches)) == 1:
            return matches[0]
        problems.append(f"{self.stem}: no unique section {heading!r} ({matches})")
        return heading

    def exercise_numbers(self):
        """"1.2", "8b.3", ... of the chapter's exercises, in order."""
        found = (re.search(r"Exercise (\d+[a-z]?\.\d+)", e["heading"]) for e in self.exercises)
        return [m.group(1) for m in found if m]


CH = {s: Chapter(s) for s in PRESENT}
WRONG = wrong_answers()


def ch(stem):
    """The chapter, or None where its notebook does not exist (yet)."""
    return CH.get(stem)


def outputs_text(cell):
    """The stored text outputs of a code cell, joined."""
    if cell is None:
        return ""
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        elif "data" in o and "text/plain" in o["data"]:
            parts.append(o["data"]["text/plain"])
        elif o.get("output_type") == "error":
            parts.append(f"{o.get('ename')}: {o.get('evalue')}")
    return "\n".join(p.rstrip("\n") for p in parts)


def verdict(cell, mark):
    """The first stored output line of `cell` that starts with ✔ or ✘, without the mark."""
    lines = [line for line in outputs_text(cell).split("\n") if line.startswith(mark)]
    return lines[0][2:].strip() if lines else ""


# -------------------------------------------------------------------------------------------------
# Hand-written parts

PREREQUISITES = {
    "01_background": "School algebra (sums, the exponential function), the idea of an average, and NumPy arrays "
                     "(indexing, broadcasting with `[:, None]`). No machine learning is assumed.",
    "02_concepts": "Chapter 1 (softmax weights, attention pooling); vectors and dot products; matrix products and "
                   "their shapes; Python dictionaries. One section uses `torch.nn.MultiheadAttention` and can be "
                   "shown rather than run.",
    "03_algorithm": "Chapter 2 (query, key, value; self- and cross-attention); NumPy matrix products and `axis=`; "
                    "exponentials and logarithms; reading a log–log plot.",
    "04_mathematics": "Chapter 3; expectation and variance of a sum of independent variables; partial "
                      "derivatives, the chain rule and the idea of a Jacobian; boolean arrays.",
    "05_practice": "Chapters 3 and 4 (the formula, masks); PyTorch tensors, `reshape`/`transpose`, "
                   "`nn.Module` and `nn.Linear`; what layer normalisation and a residual connection are.",
    "05b_positions": "Chapter 3's attention and chapter 4's shapes; sines, cosines and the angle-addition formulas; "
                     "a 2-D rotation matrix; chapter 6's Vision Transformer helps for the learned table.",
    "06_applications": "Chapters 2 to 5 (cross-attention with the roles right, masks, multi-head attention, the "
                       "encoder block); training versus held-out data; a recurrent network (GRU) as a black box.",
    "06b_transformer": "Chapter 5 (multi-head attention in PyTorch, the pre-norm encoder block, masks); chapter 2's "
                       "encoder–decoder roles; training versus held-out data.",
    "06c_language_model": "Chapter 6b (the decoder, teacher forcing, the causal mask); log-probabilities and a "
                          "stable log-softmax (chapter 4); sampling from a probability distribution.",
    "06d_masked_lm": "Chapter 6c (the causal language model, its roles of the tales, induction heads); "
                     "cross-entropy over a subset of positions.",
    "06e_kv_cache": "Chapter 6c (the causal language model and greedy generation); chapter 7's causal mask for "
                    "decoding with a cache helps; counting the FLOPs of a matrix product.",
    "07_tools": "Chapter 4's masks and chapter 5's `nn.MultiheadAttention`; chapter 6's Vision Transformer; "
                "PyTorch modules (hooks are introduced here).",
    "08_efficiency": "Chapter 3's cost section and chapter 4's softmax properties (shift invariance, a stable "
                     "softmax); chapter 6's sentiment model and Vision Transformer, and attention rollout; "
                     "big-O notation.",
    "08b_gpu_kernel": "Chapter 8 (the online softmax and tiled attention). Knowing what a GPU thread block and "
                      "its on-chip memory are helps; Triton is used through its CPU interpreter, so no GPU is needed "
                      "(Triton has wheels for Linux only: on other systems its cells say so and are skipped).",
    "09_faq": "The whole course: it reviews chapters 2 (attention and recurrence), 4 (the $\\sqrt{d_k}$), "
              "6 (the models) and 8 (cost); it works best as the last session's review.",
}


def sessions():
    """The six sessions: (title, chapters, intro, rows, homework); rows are (minutes, segment, explorer/ask)."""
    c1, c2, c3, c4, c5 = ch("01_background"), ch("02_concepts"), ch("03_algorithm"), ch("04_mathematics"), ch("05_practice")
    c6, c7, c8, c8b, c9 = ch("06_applications"), ch("07_tools"), ch("08_efficiency"), ch("08b_gpu_kernel"), ch("09_faq")
    out = []
    out.append(("Session 1: what attention is", [c1, c2],
                "Chapters 1 and 2 in one session is brisk: lecture the ideas and leave the exercises but 1.1 as "
                "homework.",
                [("0–10", f"History and its corrections: {c1.sec('A short history, from the sources')} and "
                          f"*What the source says, and what is right*.",
                  "Ask: *who introduced the LSTM, and when?* (The source article says Stanford, 2014; it is Hochreiter and Schmidhuber, 1997.)"),
                 ("10–30", f"Kernel regression as attention: {c1.sec('Attention before neural networks: Nadaraya–Watson kernel regression')}, "
                           f"*Why the softmax, and why a stable one*, *The bandwidth*.",
                  "`KernelRegressionExplorer`, in *Explore: the bandwidth*. Before moving it ask: *what will the "
                  "prediction look like at the smallest $h$? at the largest?* Then move it to both ends (copies the "
                  "noise; the plain average) and ask *why the bright band lies on the diagonal of the heatmap* (both "
                  "axes are sorted by $x$: each query listens to its neighbours)."),
                 ("30–35", f"{c1.sec('What attention buys, and what it costs')}.",
                  "Ask: *at $n = d = 512$, which layer does more arithmetic, attention or the RNN?* (The same; the "
                  "table prints it.)"),
                 ("35–42", f"{c1.sec('Exercise 1.1 (easy): three weights by hand')} in class.",
                  "Run the first attempt together and read the checker's message aloud."),
                 ("42–55", f"{c2.sec('A dictionary lookup, made soft')}, *The hard lookup is the limit $T \\to 0$*.",
                  "Ask: *what does the soft lookup return as $T \\to \\infty$?* (The average price.)"),
                 ("55–70", c2.sec("The source's diagrams, and what they leave out") + ", "
                           f"*The corrected diagram, box by box*, *Who asks and who answers*.",
                  "Think–pair–share: *when the decoder is about to write target word $t$, which sentence exists in "
                  "full?* The answer fixes the roles: the decoder asks, the encoder answers."),
                 ("70–80", f"{c2.sec('Attention, recurrence and convolution')}: *Sequential steps*, *Path length*.",
                  "Ask: *how many layers of width-3 convolution until output 7 sees input 0?* before running the cell."),
                 ("80–88", f"{c2.sec('Self-attention, cross-attention and many heads')}, *Multi-head attention*.",
                  "`MultiHeadExplorer`, at the end of *Multi-head attention*. Step through the four heads and ask: "
                  "*these heads are untrained; why do their patterns differ, and what would make two heads "
                  "identical?* (Only their random projections differ: two heads with the same projections would be identical.)"),
                 ("88–90", "Questions; homework (below).", "")],
                ["1.1"]))
    out.append(("Session 2: the algorithm", [c3],
                "The session where students first compute attention themselves; both explorers belong to it.",
                [("0–5", f"Warm-up quiz: {c3.sec('Exercise 3.1 (easy): read the shapes')} on paper.",
                  "Ask for the shape of the output when $d_v \\ne d_k$."),
                 ("5–15", f"{c3.sec('The idea in one picture')}, *A small example*, *Step 1: scores*.", ""),
                 ("15–35", f"{c3.sec('Step 2: weights, by softmax')}, *Why subtract the maximum?*, *Temperature*.",
                  "`SoftmaxExplorer`, in *Explore: softmax and temperature*. Ask: *raise the logit of \"cat\" by 1: "
                  "which bars lose weight, and in what proportion?* (all others, by the same factor); *can a bar "
                  "reach exactly 0?*; *move the temperature to its smallest value: which function is this now?* "
                  "(argmax); *add 1 to every logit: what changes?* (nothing: shift invariance)."),
                 ("35–40", f"{c3.sec('Softmax once, not twice')}.",
                  "Ask the class to predict the largest weight after a second softmax before running the cell."),
                 ("40–55", f"{c3.sec('Step 3: the weighted sum of the values')}.",
                  "`WeightedSumExplorer`, in *Explore: the weighted sum*. Ask: *can you turn the query so that the "
                  "output leaves the region spanned by the values?* (no: a convex combination); *point the query "
                  "between two keys: where does the output go?*; *lengthen the query: which slider of the softmax "
                  "explorer does that imitate?* (a lower temperature)."),
                 ("55–60", f"{c3.sec('All three steps in one call')}, *The same computation on the GPU*.", ""),
                 ("60–72", f"{c3.sec('Score functions compared')}, *Properties*.",
                  "Ask: *which score keeps its spread as $d$ grows?* before showing the table."),
                 ("72–80", f"{c3.sec('What attention costs')}, *The source's pros and cons, checked one by one*.",
                  "Ask for a show of hands: *is attention cheaper than an RNN?* Then show the $n^2$ memory."),
                 ("80–90", f"{c3.sec('Exercise 3.2 (implement): write attention yourself')}, started in class.", "")],
                ["3.1"]))
    out.append(("Session 3: the mathematics", [c4],
                "Derivations at the board, each followed by the cell that checks it.",
                [("0–10", f"{c4.sec('The formula, step by step')}.", "Ask for every shape before it is printed."),
                 ("10–30", c4.sec("Why divide by $\\sqrt{d_k}$?") + ", then "
                           f"*Exercise 4.1: the variance of a score* in class.",
                  "`ScalingExplorer`, in *Explore: the width $d_k$*. Before moving it ask: *at $d_k = 256$, how wide "
                  "will the grey histogram be?* (a standard deviation of 16). Move $d_k$ up and ask *which panel "
                  "shows the vanishing gradient?* (the right: the raw row turns one-hot) and *why not divide by "
                  "$d_k$?* (variance $1/d_k$: every row uniform)."),
                 ("30–45", f"{c4.sec('Softmax: three properties and a Jacobian')}: *Shift invariance*, "
                           f"*Temperature*, *Saturation: the Jacobian of softmax*.", ""),
                 ("45–65", f"{c4.sec('Masks')}, *What can go wrong with a mask*, *Two conventions in PyTorch*.",
                  "`MaskExplorer`, in *Explore: switch keys off*. Ask: *switch off \"cat\": where does its weight "
                  "go?* (to the other allowed keys of each row, in proportion); *tick causal: which row is "
                  "one-hot, and why?* (the first query sees only itself); *switch off every key a query may see: "
                  "what should its row be, and what would a naive softmax give?* (zeros; NaN)."),
                 ("65–70", c4.sec("Softmax twice: the source's formula, measured") + ".",
                  "Ask: *what is the largest weight a second softmax can leave over 10 keys?*"),
                 ("70–85", f"{c4.sec('Gradients from scratch')}: derive $dV$, $dS$, $dQ$, $dK$ at the board.", ""),
                 ("85–90", f"Reading: {c4.sec('Case study 1: translation, done for real')} and "
                           f"*Case study 2: attention over an image's patches*.", "")],
                ["4.1"]))
    c6b, c6c = ch("06b_transformer"), ch("06c_language_model")
    if c5:
        rows, chapters = [], [c5]
        rows += [("0–8", c5.sec("Setting up") + ", *The source's listing, run as it is*.",
                  "Check that every student has a running kernel (Colab or the class hub: {doc}`class_deployment`). "
                  "Ask the class to predict the first error of the listing before running it."),
                 ("8–18", c5.sec("Attention in PyTorch, from the NumPy version") + ".",
                  "Ask: *why does float32 agree only to about $10^{-6}$?*"),
                 ("18–35", c5.sec("Multi-head attention, from the NumPy version") + ", then "
                           "*Exercise 5.1: split and merge heads (medium)* in class.",
                  "Ask: *merge(split(x)) gives x back: does that prove the split right?* (No; the first attempt of "
                  "exercise 5.1 shows why.)"),
                 ("35–45", c5.sec("Masks: two conventions, side by side") + ".",
                  "Ask: *which APIs read True as \"may attend\"?*"),
                 ("45–52", c5.sec("A Transformer encoder block") + "; *The source's listing, fixed* and *The same "
                           "code on the CPU and on a GPU* as reading.",
                  "Ask: *where is the LayerNorm in pre-norm, and why does the residual stream grow with depth?*")]
        if c6b:
            chapters.append(c6b)
            rows += [("52–62", c6b.sec("The architecture") + ", *The task: reverse a string of digits*, *The trained "
                               "model*, *Teacher forcing and greedy decoding*.",
                      "Ask: *in training the decoder is shown the whole target: what stops position $i$ from reading "
                      "$y_i$?* (the causal mask)"),
                     ("62–75", c6b.sec("Where does the decoder look?") + ".",
                      "Ask: *do the four heads of the last layer attend to different things?* (Here they do the same "
                      "job: heads may specialise, nothing forces them to.)"),
                     ("75–85", c6b.sec("Why positions? Remove them and see what fails") + ".",
                      "Ask the class to predict the accuracy of the model trained without positional encoding before "
                      "running the cell."),
                     ("85–90", c6b.sec("Masks for a padded batch") + ".", "")]
        else:
            rows += [("52–90", "Exercises 5.2 and 5.3 in class.", "")]
        out.append(("Session 4: attention in PyTorch" + (", and a whole Transformer" if c6b else ""), chapters,
                    "No explorer in this session: it is a coding session. Chapter 5 carries attention over to "
                    "PyTorch" + ("; chapter 6b assembles the pieces into an encoder–decoder that trains in "
                                 "seconds." if c6b else "."), rows, ["5.1"]))
    rows5, chapters5 = [], []
    if c6:
        chapters5.append(c6)
        rows5 += [("0–5", c6.sec("Four tiny models") + ".", "Ask: *what truth can each model's attention be scored against?*"),
                  ("5–17", c6.sec("1. Translation: where does the decoder look?") + ", "
                           "*Where the attention leaves the \"true\" alignment*.",
                   "`models.ExampleExplorer` (an explorer like those of `attn_course.widgets`) on the translation "
                   "model. Ask: *why does the diagonal run backwards?*; *where does JUL look?*; *the first year digits "
                   "look at the next digit: is the model wrong?* (No: that digit holds the same information.)"),
                  ("17–25", c6.sec("2. Sentiment: which words decided?") + ".",
                   "`models.ExampleExplorer` on the sentiment model: it opens on a neutral sentence. Ask: *where "
                   "should the weight go when there is no sentiment word?*"),
                  ("25–35", c6.sec("3. Vision: attention over the patches of a digit") + ", "
                            "*Do the maps show what the model uses?*",
                   "`models.ExampleExplorer` on the ViT. Ask: *is the brightest patch on the ink?* Count a few digits "
                   "together before showing the measured rates."),
                  ("35–42", c6.sec("4. Speech: decoding telephone tones") + ", "
                            "*What the source says about applications, checked*.",
                   "`models.ExampleExplorer` on the tone decoder, opened on its first error. Ask: *which key is "
                   "wrong, and where did its attention go?*")]
    if c6c:
        chapters5.append(c6c)
        rows5 += [("42–50", c6c.sec("The model: the decoder, alone") + ", *The text: parrot tales*, *The trained model*.",
                   "Ask: *which words of a tale can any model predict, and which can it not?*"),
                  ("50–58", c6c.sec("Perplexity") + ", *Generating text*.",
                   "Ask: *what perplexity does a uniform guess get?* (the size of the vocabulary); *why does greedy "
                   "decoding loop?*"),
                  ("58–75", c6c.sec("The causal mask, seen in the weights") + ", "
                            "*Heads that copy: the induction probe*.",
                   "`widgets.MultiHeadExplorer` on the induction probe. Step through the heads and ask: *which head "
                   "looks at the previous token?*; *where does the induction stripe run, relative to the diagonal?*; "
                   "*why can an induction head not sit in the first layer?*"),
                  ("75–90", c6c.sec("Break the causal mask, and watch the model cheat") + ", then "
                            "*Exercise 6c.3 (easy): the causal mask* in class.",
                   "Ask: *the model trained without the mask has the lower perplexity: is it the better model?*")]
    if chapters5:
        out.append(("Session 5: trained models at work", chapters5,
                    "Trained models make the weights worth reading: four small applications"
                    + (", then a language model whose heads can be caught copying." if c6c else "."),
                    rows5, ["6c.3"]))
    rows6, chapters6 = [], []
    if c7:
        chapters6.append(c7)
        rows6 += [("0–8", c7.sec("One function, several kernels") + ", *Backends: which kernel ran?*", ""),
                  ("8–20", c7.sec("Two mask conventions") + ", *`is_causal`: where does the diagonal start?*",
                   "Ask: *one new token, five cached keys: which keys should it see, and which does "
                   "`is_causal=True` give it?* (All six; only the first.)"),
                  ("20–32", c7.sec("Getting the weights out: forward hooks") + ", *Pictures: what each tool shows*; "
                            "*What to read* as reading.",
                   "`widgets.MultiHeadExplorer` on the ViT's weights, in *Pictures: what each tool shows*. Ask the "
                   "class to find a head in which every token looks at the same few patches, and one in which each "
                   "patch looks at itself.")]
    if c8:
        chapters6.append(c8)
        rows6 += [("32–40", c8.sec("What attention costs, measured") + ".",
                   "Ask: *double the length: by how much do time and memory grow?*"),
                  ("40–58", c8.sec("FlashAttention's idea: never store the $n \\times n$ matrix") + ", "
                            "*The online softmax, on one row*, *From one row to tiles*, with exercise 8.2 in class.",
                   "Ask: *when the running maximum rises, what must happen to the sums so far?*"),
                  ("58–66", c8.sec("Cheaper, but approximate: sliding windows and linear attention") + ".",
                   "Ask: *which of the three methods is exact?*"),
                  ("66–78", c8.sec("Is attention an explanation?") + ".",
                   "A short debate: half the room argues Jain and Wallace, half Wiegreffe and Pinter; then run the "
                   "cells.")]
    if c8b:
        chapters6.append(c8b)
        rows6 += [("78–86", "Demonstration: " + c8b.sec("From a loop to a grid of programs") + ", "
                            "*Which tiles does a program compute?*, *Measured on a GPU*.",
                   "Ask: *why is a causal attention counted as half the flops?*")]
    if c9:
        chapters6.append(c9)
        rows6 += [("86–90", "Assign " + c9.link() + " as the course's review.",
                   "For each of its five questions, students note whether the source's answer is right, half right "
                   "or wrong before they run the evidence cell; discuss the votes at the start of the exam review.")]
    if chapters6:
        out.append(("Session 6: tools, cost and a review", chapters6,
                    "The densest session: the tools chapter, what attention costs and how the kernels avoid the "
                    "$n^2$ memory, and the FAQ as a take-home review. With a seventh session, split it before "
                    "chapter 8.", rows6, ["8.2"]))
    return out


def misconceptions():
    """(misconception, what is true, where: list of section references)."""
    c = CH.get
    rows = []

    def add(wrong, right, refs):
        refs = [r for r in refs if r]
        if refs:
            rows.append((wrong, right, refs))

    def s(stem, heading):
        return c(stem).sec(heading) if c(stem) else None

    add("Softmax is applied twice: first to get \"scores\", then again to get the weights.",
        "Softmax is applied once, to the scaled scores. A second softmax of numbers in $[0, 1]$ lets no key get more "
        "than $e$ times the weight of another: the choice is blurred. The cell under *Softmax once, not twice* prints one query's weights after one and after two softmaxes, next to the uniform weight.",
        [s("03_algorithm", "Softmax once, not twice"), s("04_mathematics", "Softmax twice: the source's formula, measured")])
    add("In encoder–decoder attention the encoder (source) provides the queries and the decoder (target) the keys "
        "and values.",
        "The decoder asks: its state is the query; the encoder's states are the keys and the values. The target "
        "sentence is not written yet when it would be needed. The cells under *Who asks and who answers* run the source's roles: the weights come out (source × target), and at step $t$ only the target words already written exist.",
        [s("02_concepts", "Who asks and who answers"), s("02_concepts", "Exercise 2.2 (implement): cross-attention with the roles right"),
         s("04_mathematics", "Case study 1: translation, done for real"),
         s("06_applications", "1. Translation: where does the decoder look?"),
         s("06b_transformer", "The architecture")])
    add("Attention is cheaper or \"more efficient\" than a recurrent network.",
        "Attention costs $O(n^2 d)$ time and $n^2$ memory per head; what it buys is parallelism (no sequential steps) "
        "and one-step paths between positions. Chapter 3's cells print the memory of the $n \\times n$ weights and time attention against an $n^2$ line; chapter 8 measures both against a recurrent layer.",
        [s("01_background", "What attention buys, and what it costs"), s("03_algorithm", "What attention costs"),
         s("08_efficiency", "What attention costs, measured"),
         s("09_faq", "9.5 What are attention's advantages and disadvantages?")])
    add("Attention is an extension of recurrent networks.",
        "It began as an addition to a recurrent encoder–decoder, but the operation has no recurrence, and the "
        "Transformer has no recurrent layer; self-attention is permutation-equivariant, an RNN is not. Chapter 9's cells list the modules of `nn.Transformer` (none recurrent) and run the permutation test on a recurrent and a self-attention layer.",
        [s("02_concepts", "Attention, recurrence and convolution"),
         s("09_faq", "9.2 How does attention differ from an RNN?"), s("09_faq", "a permutation test")])
    add("Attention weights explain a prediction (\"the model looked here, so this is what mattered\"), or measure "
        "\"the importance of each input element\".",
        "A weight belongs to a (query, key) pair, not to an element. In a one-layer pooling model the weights are "
        "what the prediction flows through; in a deeper model raw attention and rollout can disagree with what "
        "occlusion shows. Test a map before reading it as an explanation: chapter 8's cells compare raw attention, rollout and gradient × input with occlusion on the trained ViT, and hand the sentiment model uniform and shuffled weights.",
        [s("06_applications", "Do the maps show what the model uses?"), s("08_efficiency", "Is attention an explanation?"),
         s("09_faq", "9.1 What is attention?")])
    add("A boolean mask means the same thing in every API.",
        "`True` = *may attend* in `attn_course` and `F.scaled_dot_product_attention`; `True` = *masked out* in "
        "`nn.MultiheadAttention` and PyTorch's Transformer layers. An inverted mask raises no error: it attends to "
        "exactly the wrong keys, or gives NaN. A 0/1 float mask masks nothing (float masks are added). The cell under *Masks: two conventions, side by side* hands `nn.MultiheadAttention` the mask in the wrong convention: the padded sequence attends only to its padding, the other gets NaN.",
        [s("04_mathematics", "Two conventions in PyTorch"), s("05_practice", "Masks: two conventions, side by side"),
         s("07_tools", "Two mask conventions")])
    add("The $\\sqrt{d_k}$ is optional, or dividing by $d_k$ is just as good.",
        "The raw score has variance $d_k$; without the scale the softmax saturates as the width grows and its "
        "gradient vanishes. Dividing by $d_k$ overshoots: every row becomes nearly uniform. The `ScalingExplorer` and the cell that prints the largest softmax weight, raw and scaled, for growing $d_k$ show it.",
        [s("04_mathematics", "Why divide by $\\sqrt{d_k}$?"), s("03_algorithm", "Properties"),
         s("09_faq", "9.4 How is attention implemented?")])
    add("Masking can be done after the softmax; and its opposite, \"a large negative fill such as $-10^9$ is a mistake\".",
        "Zeroing weights after the softmax leaves rows that do not sum to 1. A large negative fill is standard practice "
        "(the Annotated Transformer uses `masked_fill(mask == 0, -1e9)`) and gives the same weights as $-\\infty$ on "
        "every row with an allowed key. It differs only on a fully masked row (a uniform average over keys it may not "
        "see, where $-\\infty$ with a naive softmax gives NaN: handle such rows either way) and in float16, whose largest "
        "finite value is 65504 ($-10^9$ overflows to $-\\infty$; `torch.finfo(dtype).min` fits).",
        [s("04_mathematics", "What can go wrong with a mask"),
         s("06_applications", "Exercise 6.2 (medium): attention pooling with a padding mask")])
    add("`exp(scores) / sum(exp(scores))` is a fine softmax.",
        "It overflows once a score passes about 709 in float64 (88 in float32), which a wide model or a low temperature reaches, and underflows to 0/0 for very negative "
        "ones; subtract each row's maximum first (softmax is shift invariant).",
        [s("03_algorithm", "Why subtract the maximum?"), s("01_background", "Why the softmax, and why a stable one")])
    add("The output is a weighted sum of the inputs (or of the keys).",
        "It is a weighted sum of the values, a learned projection of the inputs different from the keys; it lies "
        "inside their convex hull.",
        [s("03_algorithm", "Step 3: the weighted sum of the values")])
    add("Splitting into heads is a single `reshape` to (batch, heads, n, d_head).",
        "Reshape to (batch, n, heads, d_head), then transpose; a reshape alone mixes positions inside every head, "
        "and `merge(split(x)) == x` does not catch it.",
        [s("05_practice", "Multi-head attention, from the NumPy version"),
         s("05_practice", "Exercise 5.1 (medium): split and merge heads")])
    add("`is_causal=True` is right whenever a decoder must not see the future.",
        "It aligns the diagonal to the top left; with a key–value cache the queries are the last positions and need "
        "the bottom-right alignment. With one new token, `is_causal=True` lets it see only the first key.",
        [s("07_tools", "`is_causal`: where does the diagonal start?"),
         s("07_tools", "Exercise 7.2 (medium): causal attention with a cache")])
    add("Attention knows the order of its inputs.",
        "Reorder the keys and values together and a query's output does not change; order must be added by "
        "positional encodings.",
        [s("03_algorithm", "The source's pros and cons, checked one by one"),
         s("06b_transformer", "Why positions? Remove them and see what fails"),
         s("09_faq", "9.2 How does attention differ from an RNN?")])
    add("FlashAttention approximates attention, or makes it $O(n)$ in time.",
        "Tiled attention is exact (the same output to rounding) and removes the $n^2$ memory, not the $n^2$ time; "
        "sliding-window and linear attention are the approximations.",
        [s("08_efficiency", "From one row to tiles"),
         s("08_efficiency", "Cheaper, but approximate: sliding windows and linear attention")])
    add("The decoder's input is the encoder's output.",
        "In a Transformer the decoder reads the target written so far; the encoder's output enters every decoder "
        "layer only as the keys and values of its cross-attention.",
        [s("06b_transformer", "The architecture")])
    add("Each head of multi-head attention attends to a different aspect of the input.",
        "Heads may specialise; nothing forces them to. In the trained Transformer of chapter 6b the heads of the last "
        "layer do the same job, and the untrained heads of chapter 2 differ only because their random projections do.",
        [s("06b_transformer", "Where does the decoder look?"), s("02_concepts", "Multi-head attention")])
    add("A lower perplexity always means a better language model.",
        "Only if the causal mask holds: a model trained without it reads the next token, reaches a perplexity that "
        "looks excellent, and cannot write; measured with the future hidden it is worse than a uniform guess.",
        [s("06c_language_model", "Break the causal mask, and watch the model cheat")])
    add("`nn.MultiheadAttention`'s weights show what each head does.",
        "By default they are averaged over the heads, which can show a pattern no head computes; pass "
        "`average_attn_weights=False`.",
        [s("05_practice", "Multi-head attention, from the NumPy version"),
         s("07_tools", "What `nn.MultiheadAttention` returns")])
    add("The LSTM is an attention mechanism (the source dates it to \"Stanford, 2014\"); YOLO and U-Net use attention.",
        "The LSTM is Hochreiter and Schmidhuber's (1997) gated recurrent network; the original YOLO and U-Net are "
        "convolutional. Attention came to them later (Attention U-Net in 2018; YOLOv12, an attention-centric YOLO, in 2025), "
        "and to CNNs as added modules (squeeze-and-excitation, CBAM, non-local blocks).",
        [s("01_background", "What the source says, and what is right"),
         s("06_applications", "What the source says about applications, checked")])
    return rows


# -------------------------------------------------------------------------------------------------
# Writing

def stub_note(ex, fn):
    """What the student edition leaves of the solution, and the checker's real answer to it."""
    body = ast.parse(ex["solution"].source).body
    n_args = len(inspect.signature(fn).parameters) if fn else 1
    if any(isinstance(node, ast.FunctionDef) for node in body):
        def stub(*args, **kwargs):
            raise NotImplementedError(TODO)
        kind = "a stub that keeps the signature and raises `NotImplementedError`"
        args = [stub] * n_args
    elif body and all(isinstance(node, (ast.Assign, ast.AnnAssign)) for node in body):
        kind = "`name = ...` lines"
        args = [...] * n_args
    else:
        return ("The student edition empties the cell (its code is not a top-level function or assignment), "
                "so students write the whole solution there.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            answer = fn(*args)
    except Exception as e:  # a checker that crashes on the stub is itself worth knowing
        problems.append(f"{ex['heading']}: checker raised {type(e).__name__} on the stub")
        return f"The student edition replaces it by {kind}."
    return (f"The student edition replaces it by {kind}, on which the checker answers: "
            f"{'✔' if answer else '✘'} {esc(answer.message)}")


def answer_key(c, ex):
    lines = [f"#### {ex['heading']}", ""]
    checker = ex["checker"]
    fn = getattr(E, checker, None) if checker else None
    module = fn.__module__.replace("attn_course.exercises.", "") if fn else "?"
    lines += [f"Checker: `{checker}` (`attn_course/exercises/{module}.py`). Its contract:", ""]
    doc = inspect.cleandoc(fn.__doc__ or "") if fn else ""
    lines += ["```text", doc, "```", ""]
    first_src = ex["first"].source if ex["first"] is not None else ""
    first_msg = verdict(ex["first"], "✘")
    if not first_msg:
        problems.append(f"{ex['heading']}: the first attempt has no stored ✘ message (is the chapter executed?)")
    if first_src:
        lines += ["The chapter's first attempt, and what the checker answers (the stored output of the cell, "
                  "checked by nbval):", "", "```python", first_src.strip(), "```", ""]
        if first_msg:
            lines += ["> ✘ " + esc(first_msg), ""]
        else:
            out = outputs_text(ex["first"]).strip()
            if out:
                lines += ["```text", out, "```", ""]
    rows, seen = WRONG.get(checker, []), set()
    table = []
    for test_file, what, message in rows:
        if message in seen or message == first_msg:
            continue
        seen.add(message)
        table.append(f"| {what} | {esc(message)} |")
    if table:
        test_file = rows[0][0]
        lines += [f":::{{dropdown}} {len(table)} more typical wrong answers and the checker's messages", "",
                  f"Each row is a wrong answer from `tests/{test_file}.py`, run through `{checker}`; the "
                  f"message is the checker's own.", "",
                  "| wrong answer (as the test writes it) | the checker says ✘ |", "| --- | --- |", *table, "", ":::", ""]
    ok = verdict(ex["after"], "✔")
    if not ok:
        problems.append(f"{ex['heading']}: no stored ✔ message after the solution (is the chapter executed?)")
    if ok:
        lines += [f"A right answer gets: ✔ {esc(ok)}", ""]
    lines += [f"**Solution:** the cell tagged `solution` in {c.sec(ex['heading'])}, right after the first "
              f"attempt. On the website it is folded (*Show code cell source*). {stub_note(ex, fn)}", ""]
    return lines


def write():
    L = []
    add = L.extend
    add(["# Instructor guide", "",
         "This page is for teaching a class from the course: a syllabus of six 90-minute sessions, the learning "
         "objectives and prerequisites of every chapter, the misconceptions students bring (and the cell that "
         "dispels each), answer keys for every exercise, and how to present the chapters as slides, hand out the "
         "student edition and run the notebooks for a whole class.", "",
         "Every chapter follows the same rhythm: a question, the idea with its equation, code, a picture, an "
         "exercise. Each exercise shows a typical wrong first attempt, which its checker rejects with a message "
         "that says *what* is wrong; then the solution cell (folded on the website); then the checker accepting it. "
         "The live explorers are sliders that redraw a figure; on the website they are snapshots, so present from "
         "a running notebook (JupyterLab, Colab or the class hub; see {doc}`how_to_use`) whenever an explorer is on "
         "the plan.", ""])
    # ---------------------------------------------------------------- syllabus
    add(["## Syllabus: six sessions of 90 minutes", "",
         "Times are minutes from the start of the session. *Ask* lines are questions to put to the class while "
         "moving an explorer or before running a cell: have students predict first, then run.", "",
         "| session | chapters | homework |", "| --- | --- | --- |"])
    S = []
    for title, chapters, intro, rows, in_class in sessions():
        rest = [n for c in chapters for n in c.exercise_numbers() if n not in in_class]
        homework = (("exercise " if len(rest) == 1 else "exercises ") + ", ".join(rest) + ".") if rest else "none."
        S.append((title, chapters, intro, rows, homework))
    for i, (title, chapters, intro, rows, homework) in enumerate(S, 1):
        add([f"| {i}. {title.split(': ', 1)[1]} | " + ", ".join(c.link(f"{c.number}. {c.short}") for c in chapters)
             + f" | {homework[0].upper() + homework[1:]} |"])
    add([""])
    for title, chapters, intro, rows, homework in S:
        add([f"### {title}", "", intro, "",
             "| min | what (chapter, section) | explorer and what to ask |", "| --- | --- | --- |"])
        for t, what, ask in rows:
            add([f"| {t} | {what} | {ask} |"])
        add(["", f"Homework: {homework}", ""])
    # ---------------------------------------------------------------- chapters
    add(["## The chapters: objectives and prerequisites", "",
         "The objectives are each chapter's own (its first cell); prerequisites are what a student needs before "
         "the session.", ""])
    for stem in PRESENT:
        c = CH[stem]
        add([f"### {c.title}", ""])
        if stem in TOC:
            add([f"The chapter: {c.link(c.title)}.", ""])
        else:
            add([f"The chapter: `notebooks/{stem}.ipynb` (not yet in the book's table of contents).", ""])
        add([f"**Prerequisites.** {PREREQUISITES.get(stem, '')}", "", "**Learning objectives.** After this chapter "
             "a student can", "", c.objectives.split("\n", 1)[1].strip() if c.objectives.startswith("After") else c.objectives, ""])
        if c.explorers:
            seen, items = set(), []
            for name, section in c.explorers:
                key = (name, section)
                if key not in seen:
                    seen.add(key)
                    where = "models." if name == "ExampleExplorer" else "widgets."
                    items.append(f"`{where}{name}` in *{section}*")
            add([f"**Explorers.** " + "; ".join(items) + ".", ""])
        else:
            add(["**Explorers.** None: the chapter's pictures are static.", ""])
        add([f"**Exercises.** " + "; ".join(f"*{e['heading']}*" for e in c.exercises) + ".", ""])
    # ---------------------------------------------------------------- misconceptions
    add(["## Common misconceptions", "",
         "Each item names the chapter and the section whose cells dispel the misconception: run them in class "
         "rather than stating the answer. Several come from the source article the course corrects (see the "
         "{doc}`errata`).", ""])
    for i, (wrong, right, refs) in enumerate(misconceptions(), 1):
        add([f"{i}. **{wrong}**", "", f"   {right}", "", "   Dispelled in " + "; ".join(refs) + ".", ""])
    # ---------------------------------------------------------------- answer keys
    add(["## Answer keys", "",
         "For every exercise: the checker and its contract, the chapter's own wrong first attempt with the "
         "checker's message, more typical wrong answers with the messages the checker gives for them (produced by "
         "running the checker, as the tests in `tests/test_exercises_*.py` do), the checker's message for a right "
         "answer, and where the solution is. Every solution is a cell tagged `solution` (and `hide-input`): the "
         "website folds it, and the student edition (`make student`) removes it.", ""])
    for stem in PRESENT:
        c = CH[stem]
        add([f"### Chapter {c.number}: {c.short}", ""])
        if not c.exercises:
            add(["No exercises.", ""])
        for ex in c.exercises:
            add(answer_key(c, ex))
    # ---------------------------------------------------------------- slides, student edition, deployment
    add(["## Slides, the student edition and class deployment", "",
         "**Slides.** `make site` also runs `scripts/make_slides.py`, which turns every chapter into reveal.js "
         "slides served by the website itself, with no network: each `#` or `##` heading starts a slide, each "
         "`###` a sub-slide (down), and the install and solution cells are left out. A chapter's own slide "
         "metadata (*View → Cell Toolbar → Slideshow* in Jupyter) overrides this. The explorers appear as their "
         "snapshots; to move them, switch to the running notebook. The slides of each chapter (they exist once "
         "`make site` has run):", "", "| chapter | slides |", "| --- | --- |"])
    for stem in PRESENT:
        c = CH[stem]
        add([f"| {c.link(f'{c.number}. {c.short}')} | <a href=\"../slides/{stem}.slides.html\">slides</a> |"])
    add(["", "In the slides, press `Esc` for an overview of all slides and `S` for the speaker view.", "",
         "**Student edition.** `make student` writes `student/notebooks/`: every chapter with its solution cells "
         "replaced by stubs (a function keeps its signature and docstring and raises `NotImplementedError`), "
         "regions between `### BEGIN SOLUTION` and `### END SOLUTION` removed, and all outputs cleared. The "
         "checkers stay, so a student runs the first attempt, reads the ✘ message, writes an answer in the stub "
         "and runs the checker again. `tests/test_student_edition.py` proves that no solution line survives and "
         "that every checker rejects its stub.", "",
         "**Class deployment.** {doc}`class_deployment` describes both paths: a JupyterHub with nbgitpuller links "
         "that `scripts/class_links.py` generates from `repository.url` in `_config.yml`, and Colab, where each "
         "chapter's first cell installs the package; with `--student` the links open the student edition "
         "(published on the branch `student`), and `make site-student` builds a website whose launch buttons "
         "do the same. Note that the site also contains the chapters' folded solutions and this guide.", ""])
    return "\n".join(L).rstrip().replace("?*.", "?*") + "\n"   # no "look?." after a heading that asks


def main():
    text = write()
    (ROOT / "book" / "instructor_guide.md").write_text(text, encoding="utf-8")
    print(f"book/instructor_guide.md: {len(text.splitlines())} lines, chapters {', '.join(PRESENT)}")
    for p in problems:
        print("problem:", p)
    return 1 if any("no unique section" in p or "no checker" in p for p in problems) else 0


if __name__ == "__main__":
    sys.exit(main())
