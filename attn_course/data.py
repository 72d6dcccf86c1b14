"""Toy data for the application chapter (6), generated from a seed or shipped with scikit-learn.

Every generator knows the truth the attention pictures are compared with:

    date_split      ISO dates "2023-07-14" and their translation "1 4 JUL 2 0 2 3", with the true
                    alignment (which source characters each target token comes from)
    sentiment_split short film reviews from templates, a negative, neutral or positive label, and
                    the words that carry it
    digits_split    scikit-learn's 8x8 handwritten digits (they ship inside scikit-learn: no download)
    dtmf_split      telephone key tones (DTMF) in noise, their spectrograms, the keys pressed, and the
                    frames in which each key sounds

Token sequences are arrays of integer ids into a vocabulary (a tuple of strings); `encode` and
`decode` translate, and refuse tokens the vocabulary does not have. Only NumPy is needed here
(scikit-learn for the digits); the models that learn from these data are in attn_course.models.
"""
import datetime
from collections import namedtuple

import numpy as np

from ._checks import nonnegative_int, positive_int

# ---------------------------------------------------------------------------------------------------
# Vocabularies and encoding

PAD = "<pad>"   # fills short sentences up to the length of the longest

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DIGITS = tuple("0123456789")
DATE_SOURCE_VOCAB = DIGITS + ("-",)
DATE_TARGET_VOCAB = DIGITS + MONTHS


def encode(tokens, vocab, name="tokens"):
    """Token strings -> (n,) int64 ids into `vocab`; an unknown token is a ValueError that names it."""
    if isinstance(tokens, str):
        raise TypeError(f"{name} must be a sequence of token strings, e.g. list('2023-07-14'), got the string "
                        f"{tokens!r}")
    tokens = list(tokens)
    if not tokens:
        raise ValueError(f"{name} must hold at least one token, got an empty sequence")
    index = {token: i for i, token in enumerate(vocab)}
    unknown = [t for t in tokens if t not in index]
    if unknown:
        raise ValueError(f"{name} holds tokens that are not in the vocabulary: {unknown[:5]}; "
                         f"the vocabulary is {list(vocab)}")
    return np.array([index[t] for t in tokens], dtype=np.int64)


def decode(ids, vocab, name="ids"):
    """(n,) integer ids -> list of token strings of `vocab`."""
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu" or ids.ndim != 1:
        raise TypeError(f"{name} must be a 1-D array of integer ids, got dtype {ids.dtype} and shape {ids.shape}")
    if ids.size and (ids.min() < 0 or ids.max() >= len(vocab)):
        raise ValueError(f"{name} must lie in [0, {len(vocab)}) for a vocabulary of {len(vocab)} tokens, "
                         f"got ids from {ids.min()} to {ids.max()}")
    return [vocab[i] for i in ids]


# ---------------------------------------------------------------------------------------------------
# Dates: a translation task whose correct alignment is known

Translation = namedtuple("Translation", "source target alignment")
"""source: (n, 10) ids of "YYYY-MM-DD" characters;  target: (n, 7) ids of "D D MON Y Y Y Y";
alignment: (n, 7, 10) bool, True where target token i comes from source character j."""

FIRST_DAY, LAST_DAY = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)

# Where each target token comes from: day digits are source characters 8, 9; the month word is both
# month digits 5, 6; the year digits are characters 0-3. The order is reversed: the last source
# characters are translated first, which is what makes the alignment worth drawing.
_DATE_SOURCES = ((8,), (9,), (5, 6), (0,), (1,), (2,), (3,))


def date_tokens(date):
    """A datetime.date -> (source tokens, target tokens, alignment (7, 10) bool)."""
    if not isinstance(date, datetime.date):
        raise TypeError(f"date must be a datetime.date, got {type(date).__name__}")
    source = list(date.isoformat())                                    # 2023-07-14 -> 10 characters
    target = [*f"{date.day:02d}", MONTHS[date.month - 1], *f"{date.year:04d}"]  # 1 4 JUL 2 0 2 3
    alignment = np.zeros((len(target), len(source)), dtype=bool)
    for i, js in enumerate(_DATE_SOURCES):
        alignment[i, list(js)] = True
    return source, target, alignment


def date_split(n_train=4000, n_test=500, seed=0):
    """Two disjoint sets of random dates from 1950-01-01 to 2049-12-31: (train, test) Translations.

    No date of the test set is in the training set: the test accuracy measures translation of
    unseen dates."""
    n_train, n_test = positive_int(n_train, "n_train"), positive_int(n_test, "n_test")
    n_days = (LAST_DAY - FIRST_DAY).days + 1
    if n_train + n_test > n_days:
        raise ValueError(f"n_train + n_test must be at most {n_days} (the days from {FIRST_DAY} to {LAST_DAY}), "
                         f"got {n_train} + {n_test}")
    offsets = np.random.default_rng(nonnegative_int(seed, "seed")).choice(n_days, n_train + n_test, replace=False)
    dates = [FIRST_DAY + datetime.timedelta(days=int(k)) for k in offsets]
    return _translations(dates[:n_train]), _translations(dates[n_train:])


def _translations(dates):
    examples = [date_tokens(d) for d in dates]
    return Translation(np.stack([encode(s, DATE_SOURCE_VOCAB) for s, _, _ in examples]),
                       np.stack([encode(t, DATE_TARGET_VOCAB) for _, t, _ in examples]),
                       np.stack([a for _, _, a in examples]))


# ---------------------------------------------------------------------------------------------------
# Sentiment: short reviews built from templates; the words that carry the sentiment are known

Sentiment = namedtuple("Sentiment", "ids mask labels carriers")
"""ids: (n, max_len) word ids, padded with PAD;  mask: (n, max_len) True for real words;
labels: (n,) 0 negative, 1 neutral, 2 positive;  carriers: (n, max_len) True for the words that carry the
sentiment (none in a neutral sentence)."""

SENTIMENT_LABELS = ("negative", "neutral", "positive")

POSITIVE = ("great", "superb", "wonderful", "moving", "brilliant", "charming", "funny", "gripping")
NEGATIVE = ("awful", "boring", "dull", "clumsy", "terrible", "tedious", "bland", "painful")
PLAIN = ("long", "short", "new", "unusual", "familiar", "typical", "modern", "simple")  # adjectives with no sentiment
FILMS = ("film", "movie")
COUNTABLE = ("plot", "story", "cast", "ending", "script", "director", "soundtrack")  # parts that take "a"
PARTS = COUNTABLE + ("acting", "music", "dialogue")
INTENSIFIERS = ("really", "truly")

# Every review is one of these templates with its slots filled: {F} a film word, {N} a part of a film
# ({C} one that can follow "a"), {I} an intensifier, {A} an adjective with no sentiment, and {S} the
# adjective that decides the label: a positive word in a positive review, a negative one in a negative
# review, an adjective of PLAIN in a neutral one. So a neutral review has the same shape as the others:
# only the words in the {S} slots tell the label, and attention has to find them.
SENTIMENT_TEMPLATES = (
    "the {N} was {S}",
    "this {F} is {S}",
    "a {S} {F}",
    "the {N} is {I} {S}",
    "the {A} {N} is {S}",
    "its {N} was {I} {S}",
    "the {N} of this {F} was {S}",
    "the {N} of this {F} is {I} {S}",
    "it is a {S} {F} with a {A} {C}",
    "the {N} is {S} and the {N} is {A}",
    "the {N} was {S} and the {N} was {S}",
    "this {F} has a {S} {C} and a {S} {C}",
)
NEUTRAL = ("the", "a", "an", "this", "its", "it", "is", "was", "has", "of", "with", "and") + FILMS + PARTS \
    + INTENSIFIERS + PLAIN
SENTIMENT_VOCAB = (PAD,) + NEUTRAL + POSITIVE + NEGATIVE
SENTIMENT_MAX_LEN = max(len(t.split()) for t in SENTIMENT_TEMPLATES)


def sentiment_split(n_train=2000, n_test=500, seed=0):
    """Random reviews, a third each negative, neutral and positive, each a template of
    SENTIMENT_TEMPLATES with its slots filled at random (one or two sentiment words, all of the label's
    polarity, or none in a neutral review). Returns (train, test) Sentiments, padded to SENTIMENT_MAX_LEN."""
    n_train, n_test = positive_int(n_train, "n_train"), positive_int(n_test, "n_test")
    rng = np.random.default_rng(nonnegative_int(seed, "seed"))
    sentences = [_sentence(rng) for _ in range(n_train + n_test)]
    data = sentences_to_arrays([s for s, _ in sentences], [y for _, y in sentences], SENTIMENT_MAX_LEN)
    return tuple(Sentiment(*(a[part] for a in data)) for part in (slice(0, n_train), slice(n_train, None)))


def _sentence(rng):
    label = int(rng.integers(3))
    slots = {"F": FILMS, "N": PARTS, "C": COUNTABLE, "I": INTENSIFIERS, "A": PLAIN,
             "S": (NEGATIVE, PLAIN, POSITIVE)[label]}
    template = SENTIMENT_TEMPLATES[int(rng.integers(len(SENTIMENT_TEMPLATES)))]
    words = [str(rng.choice(slots[w[1]])) if w.startswith("{") else w for w in template.split()]
    for i in range(len(words) - 1):  # "a" before a vowel is "an": an awful film, an old movie
        if words[i] == "a" and words[i + 1][0] in "aeiou":
            words[i] = "an"
    return words, label


def sentences_to_arrays(sentences, labels, max_len=None):
    """Sentences (lists of words) and labels -> a Sentiment, padded to max_len (default: the longest)."""
    sentences = [list(s) for s in sentences]
    if not sentences:
        raise ValueError("sentences must hold at least one sentence, got none")
    for i, s in enumerate(sentences):
        if not s:
            raise ValueError(f"sentences[{i}] is empty; every sentence needs at least one word")
    labels = np.asarray(labels)
    if labels.shape != (len(sentences),) or not np.isin(labels, (0, 1, 2)).all():
        raise ValueError(f"labels must be one 0 (negative), 1 (neutral) or 2 (positive) per sentence "
                         f"({len(sentences)}), got {labels.tolist()}")
    longest = max(len(s) for s in sentences)
    max_len = longest if max_len is None else positive_int(max_len, "max_len")
    if longest > max_len:
        raise ValueError(f"max_len must be at least the longest sentence ({longest} words), got {max_len}")
    ids = np.zeros((len(sentences), max_len), dtype=np.int64)  # 0 is PAD
    for i, s in enumerate(sentences):
        ids[i, :len(s)] = encode(s, SENTIMENT_VOCAB, name=f"sentences[{i}]")
    carriers = np.isin(ids, [SENTIMENT_VOCAB.index(w) for w in POSITIVE + NEGATIVE])
    return Sentiment(ids, ids != 0, labels.astype(np.int64), carriers)


# ---------------------------------------------------------------------------------------------------
# Handwritten digits, 8x8 (scikit-learn ships them: UCI's optical digits, 1797 images)

Digits = namedtuple("Digits", "images labels")
"""images: (n, 8, 8) float32 in [0, 1];  labels: (n,) int64 digits 0-9."""


def digits_split(n_test=450, seed=0):
    """scikit-learn's 1797 digits, shuffled with `seed` and split: (train, test) Digits."""
    from sklearn.datasets import load_digits  # imported here: only this function needs scikit-learn

    n_test = positive_int(n_test, "n_test")
    digits = load_digits()
    n = len(digits.target)
    if n_test >= n:
        raise ValueError(f"n_test must leave some of the {n} images for training, got {n_test}")
    order = np.random.default_rng(nonnegative_int(seed, "seed")).permutation(n)
    images = (digits.images / 16.0).astype(np.float32)  # the pixels are counts 0..16
    labels = digits.target.astype(np.int64)
    test, train = order[:n_test], order[n_test:]
    return Digits(images[train], labels[train]), Digits(images[test], labels[test])


# ---------------------------------------------------------------------------------------------------
# Speech: telephone key tones (DTMF), each key the sum of a low and a high sine (ITU-T Q.23)

DTMF_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#")
DTMF_LOW = (697.0, 770.0, 852.0, 941.0)    # Hz, one per keypad row
DTMF_HIGH = (1209.0, 1336.0, 1477.0)       # Hz, one per keypad column
SAMPLE_RATE = 8000                          # Hz, as on a telephone line
FRAME = 256                                 # samples per spectrogram frame: 32 ms, bins 31.25 Hz apart
N_SAMPLES = 32 * FRAME                      # 1.024 s per recording: 32 frames
FREQ_BINS = slice(19, 51)                   # 594 Hz .. 1563 Hz: the band DTMF lives in, 32 bins
FRAME_SECONDS = FRAME / SAMPLE_RATE
BIN_HZ = SAMPLE_RATE / FRAME

Speech = namedtuple("Speech", "spectrograms keys alignment")
"""spectrograms: (n, frames, bins) float32;  keys: (n, n_keys) ids into DTMF_KEYS;
alignment: (n, n_keys, frames) bool, True in the frames where key i sounds."""


def dtmf_frequencies(key):
    """(low, high) in Hz of a key of the telephone keypad."""
    if key not in DTMF_KEYS:
        raise ValueError(f"key must be one of {''.join(DTMF_KEYS)!r}, got {key!r}")
    row, column = divmod(DTMF_KEYS.index(key), 3)
    return DTMF_LOW[row], DTMF_HIGH[column]


def dtmf_signal(keys, starts, durations, noise=0.0, rng=None):
    """A recording of N_SAMPLES samples: key i sounds from starts[i] for durations[i] seconds, plus noise."""
    keys = list(keys)
    if not keys:
        raise ValueError("keys must hold at least one key, got an empty sequence")
    if not (len(starts) == len(durations) == len(keys)):
        raise ValueError(f"starts and durations need one entry per key ({len(keys)}), "
                         f"got {len(starts)} and {len(durations)}")
    t = np.arange(N_SAMPLES) / SAMPLE_RATE
    signal = np.zeros(N_SAMPLES)
    for key, start, duration in zip(keys, starts, durations):
        on = (t >= start) & (t < start + duration)
        if not on.any():
            raise ValueError(f"key {key!r} at {start:.3f} s for {duration:.3f} s falls outside the "
                             f"{N_SAMPLES / SAMPLE_RATE:.3f} s recording")
        signal[on] += _key_wave(key, t)[on]
    if noise:
        signal += noise * (rng if rng is not None else np.random.default_rng(0)).standard_normal(N_SAMPLES)
    return signal


def _key_wave(key, t):
    low, high = dtmf_frequencies(key)
    return 0.5 * np.sin(2 * np.pi * low * t) + 0.5 * np.sin(2 * np.pi * high * t)


def _spectrograms(signals):
    """(..., samples) -> (..., frames, bins): see spectrogram."""
    frames = signals[..., :signals.shape[-1] // FRAME * FRAME].reshape(*signals.shape[:-1], -1, FRAME)
    magnitude = np.abs(np.fft.rfft(frames * np.hanning(FRAME), axis=-1))[..., FREQ_BINS]
    return np.log1p(magnitude).astype(np.float32)


def spectrogram(signal):
    """(frames, bins) log-magnitude spectrogram of a recording: Hann-windowed frames of FRAME samples,
    no overlap, the bins of FREQ_BINS. The features a speech model reads."""
    signal = np.asarray(signal, dtype=np.float64)
    if signal.ndim != 1 or len(signal) < FRAME:
        raise ValueError(f"signal must be 1-D with at least {FRAME} samples, got shape {signal.shape}")
    return _spectrograms(signal)


def dtmf_split(n_train=2000, n_test=300, seed=0, n_keys=4, noise=0.5):
    """Recordings of `n_keys` key presses, each 64-160 ms long, separated by 40-120 ms pauses at random
    places in 1.024 s, with Gaussian noise of standard deviation `noise` (each tone has amplitude 0.5 per
    sine). Returns (train, test) Speech; a frame belongs to a key when at least half of it sounds."""
    n_train, n_test = positive_int(n_train, "n_train"), positive_int(n_test, "n_test")
    n_keys = positive_int(n_keys, "n_keys")
    if n_keys > 5:
        raise ValueError(f"n_keys must be at most 5 (so the tones fit in {N_SAMPLES / SAMPLE_RATE:.3f} s), got {n_keys}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise >= 0:
        raise ValueError(f"noise must be a non-negative number (a standard deviation), got {noise!r}")
    rng = np.random.default_rng(nonnegative_int(seed, "seed"))
    n = n_train + n_test
    keys = rng.integers(len(DTMF_KEYS), size=(n, n_keys))
    durations = rng.uniform(0.064, 0.160, (n, n_keys))
    pauses = rng.uniform(0.040, 0.120, (n, n_keys - 1))
    total = durations.sum(axis=1) + pauses.sum(axis=1)
    first = rng.uniform(0.0, 1.0, n) * (N_SAMPLES / SAMPLE_RATE - total)
    starts = first[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(durations[:, :-1] + pauses, axis=1)], axis=1)
    noise_seed = int(rng.integers(2 ** 63))

    t = np.arange(N_SAMPLES) / SAMPLE_RATE
    waves = np.array([_key_wave(key, t) for key in DTMF_KEYS], dtype=np.float32)  # (12, N_SAMPLES): each key, sounding all along
    spectrograms = np.zeros((n, N_SAMPLES // FRAME, FREQ_BINS.stop - FREQ_BINS.start), dtype=np.float32)
    noise_rng = np.random.default_rng(noise_seed)
    for lo in range(0, n, 256):  # in chunks: a chunk of signals is 256 x 8192 floats
        hi = min(lo + 256, n)
        signals = np.zeros((hi - lo, N_SAMPLES), dtype=np.float32)
        for k in range(n_keys):
            on = (t >= starts[lo:hi, k, None]) & (t < starts[lo:hi, k, None] + durations[lo:hi, k, None])
            signals += on * waves[keys[lo:hi, k]]
        signals += noise * noise_rng.standard_normal(signals.shape, dtype=np.float32)
        spectrograms[lo:hi] = _spectrograms(signals)

    frame_starts = np.arange(N_SAMPLES // FRAME) * FRAME_SECONDS
    overlap = (np.minimum(frame_starts + FRAME_SECONDS, (starts + durations)[..., None])
               - np.maximum(frame_starts, starts[..., None]))             # (n, n_keys, frames) seconds
    alignment = overlap >= FRAME_SECONDS / 2
    part = (slice(0, n_train), slice(n_train, None))
    return tuple(Speech(spectrograms[p], keys[p].astype(np.int64), alignment[p]) for p in part)
