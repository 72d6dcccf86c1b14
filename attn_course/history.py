"""Where attention comes from: the events of chapter 1, as data (attn_course.viz.timeline draws them).

Every event names its work, the year it first appeared, where it was published and its key in the
course's bibliography (book/references.bib), so the picture can be checked against the sources.
The source article's history (its §1.1) is corrected in chapter 1 and in the errata.

    EVENTS                   the events, oldest first
    FIELDS                   the field each event belongs to
"""
from collections import namedtuple

Event = namedtuple("Event", "year field who what venue key")
# year: when the work first appeared (a preprint counts); venue: where it was published, with that year

EVENTS = (
    Event(1953, "psychology", "Cherry", "the cocktail party: following one voice among two",
          "J. Acoust. Soc. Am. 25(5), 1953", "cherry1953some"),
    Event(1956, "psychology", "Miller", "limits of absolute judgement and immediate memory",
          "Psychological Review 63(2), 1956", "miller1956magical"),
    Event(1958, "psychology", "Broadbent", "filter theory: one channel selected",
          "Perception and Communication, Pergamon, 1958", "broadbent1958perception"),
    Event(1960, "psychology", "Treisman", "meaning gets through the rejected ear",
          "Q. J. Exp. Psychol. 12(4), 1960", "treisman1960contextual"),
    Event(1964, "psychology", "Treisman", "attenuation: weaken, do not block",
          "British Medical Bulletin 20(1), 1964", "treisman1964selective"),
    Event(1964, "statistics", "Nadaraya; Watson", "kernel regression: average by similarity",
          "Theory Probab. Appl. 9(1); Sankhyā A 26(4), 1964", "nadaraya1964estimating watson1964smooth"),
    Event(1967, "psychology", "Neisser", "Cognitive Psychology: preattentive vs focal",
          "Cognitive Psychology, Appleton-Century-Crofts, 1967", "neisser1967cognitive"),
    Event(1997, "neural networks", "Hochreiter & Schmidhuber", "LSTM: gated memory (not attention)",
          "Neural Computation 9(8), 1997", "hochreiter1997long"),
    Event(2013, "neural networks", "Graves", "a soft window over the text to write",
          "arXiv:1308.0850, 2013", "graves2013generating"),
    Event(2014, "neural networks", "Bahdanau, Cho & Bengio", "learned alignment for translation",
          "ICLR 2015 (arXiv:1409.0473, 2014)", "bahdanau2015neural"),
    Event(2015, "neural networks", "Xu et al.", "attention over image regions",
          "ICML 2015", "xu2015show"),
    Event(2015, "neural networks", "Luong, Pham & Manning", "global/local attention, multiplicative scores",
          "EMNLP 2015", "luong2015effective"),
    Event(2017, "neural networks", "Vaswani et al.", "the Transformer: attention only",
          "NIPS 2017", "vaswani2017attention"),
    Event(2020, "neural networks", "Dosovitskiy et al.", "ViT: attention over image patches",
          "ICLR 2021 (arXiv:2010.11929, 2020)", "dosovitskiy2021image"),
)
FIELDS = ("psychology", "statistics", "neural networks")  # the field of each event; viz.timeline colours them
