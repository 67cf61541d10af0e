"""The clinical note (text): notes.csv, a WordPiece tokenizer trained on the training notes,
a transformer encoder."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from amff.data.tables import (
    ID,
    TEXT,
    check_ids,
    check_known,
    column_list,
    near_name,
    read_bytes,
    read_table,
    write_csv,
)
from amff.errors import InputError
from amff.modalities.spec import ModalitySpec

if TYPE_CHECKING:
    from torch import Tensor, nn

    from amff.config import ModelConfig
    from amff.data.cohort import Cohort, Patient

log = logging.getLogger(__name__)

_HEDGES = re.compile(r"\b(limited|unable to|declined|incomplete|suboptimal)\b", re.IGNORECASE)


def parse_notes(data: bytes, name: str, known: set[str] | None) -> dict[str, str]:
    """notes.csv bytes -> {patient_id: text}, text verbatim; empty texts are dropped."""
    frame = read_table(data, name)
    if TEXT not in frame.columns:
        hint = near_name(frame.columns, TEXT, ("note", "notes", "text"))
        raise InputError(
            f"{name}: no 'text' column (columns are {column_list(frame)}); "
            + (f"rename column {hint!r} to 'text'" if hint else "notes.csv needs patient_id, text")
        )
    ids = check_ids(frame, name)
    if known is not None:
        check_known(ids, frame.index, known, name)
    return {pid: text for pid, text in zip(ids, frame[TEXT]) if text.strip()}


MAX_NOTE_CHARS = 20_000  # longer notes are cut before tokenising (the model reads 128 tokens)


SPECIAL_TOKENS = ["[PAD]", "[UNK]"]


@dataclass
class TextPreprocessor:
    tokenizer_json: str
    max_len: int = 128

    def __post_init__(self) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_str(self.tokenizer_json)
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()

    @classmethod
    def fit(cls, notes: list[str], vocab_size: int = 2000, max_len: int = 128) -> TextPreprocessor:
        """A WordPiece tokenizer for the training notes.

        The vocabulary is built deterministically (the `tokenizers` trainer breaks ties
        differently from run to run): every character seen, as a word start and as a
        '##' continuation, then the most frequent whole words (ties alphabetical) up to
        vocab_size. Unseen words fall back to the greedy longest-match pieces.
        """
        from collections import Counter

        from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

        normalizer = normalizers.BertNormalizer(lowercase=True)
        pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        words: Counter[str] = Counter()
        for note in notes:
            if note and note.strip():
                text = normalizer.normalize_str(note[:MAX_NOTE_CHARS])
                words.update(w for w, _ in pre_tokenizer.pre_tokenize_str(text))
        chars = sorted({c for w in words for c in w})
        pieces = SPECIAL_TOKENS + chars + [f"##{c}" for c in chars]
        budget = max(0, vocab_size - len(pieces))
        frequent = sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))
        chosen = [w for w, n in frequent if n >= 2 and len(w) > 1][:budget]
        vocab = {t: i for i, t in enumerate(dict.fromkeys(pieces + chosen))}
        tokenizer = Tokenizer(
            models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=50)
        )
        tokenizer.normalizer = normalizer
        tokenizer.pre_tokenizer = pre_tokenizer
        return cls(tokenizer.to_str(), max_len)

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size()

    def encode(self, note: str) -> Any:
        """The tokenizers Encoding of one note (ids, tokens, word ids, offsets), truncated."""
        if len(note) > MAX_NOTE_CHARS:
            note = note[:MAX_NOTE_CHARS]
        encoding = self._tokenizer.encode(note)
        encoding.truncate(self.max_len)
        return encoding

    def transform(self, notes: list[str | None]) -> np.ndarray:
        ids = np.zeros((len(notes), self.max_len), dtype=np.int64)
        todo = [(i, n[:MAX_NOTE_CHARS]) for i, n in enumerate(notes) if n and n.strip()]
        cut = sum(1 for n in notes if n and len(n) > MAX_NOTE_CHARS)
        if cut:  # a count only: no ids, no text in logs
            log.warning(
                "%d note(s) longer than %s characters were cut for the model",
                cut,
                f"{MAX_NOTE_CHARS:,}",
            )
        if todo:
            encodings = self._tokenizer.encode_batch([n for _, n in todo])
            for (i, _), enc in zip(todo, encodings):
                row = enc.ids[: self.max_len]
                ids[i, : len(row)] = row
        return ids

    # -- the ModalityPreprocessor protocol -------------------------------------------------
    def check_cohort(self, cohort: Cohort) -> None:
        return None

    def inputs(self, cohort: Cohort) -> tuple[np.ndarray]:
        return (self.transform([cohort.notes.get(i) for i in cohort.ids]),)

    def usable(self) -> bool:
        return True

    def schema(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "text_max_len": self.max_len}

    def to_dict(self) -> dict[str, Any]:
        return {"max_len": self.max_len}

    def problem(self) -> tuple[str, str] | None:
        vocab = self._tokenizer.get_vocab(with_added_tokens=True)
        if any(not 0 <= i < self.vocab_size for i in vocab.values()):
            return "tokenizer.json", "a token id is outside the vocabulary"
        return None


@dataclass
class _Notes:
    """notes.csv, parsed whole on opening (notes are small next to images and counts)."""

    notes: dict[str, str]

    def load(self, keep: set[str]) -> dict[str, str]:
        return {i: t for i, t in self.notes.items() if i in keep}


class TextModality(ModalitySpec):
    name = "text"
    label = "clinical note"
    files = "notes.csv (patient_id, text)"
    attribution = "text"
    quality_signals = ("n_words", "hedges")
    checkpoint_files = ("tokenizer.json",)

    def open(self, folder: Path, known: set[str], stream: bool = False) -> _Notes | None:
        path = folder / "notes.csv"
        if not path.is_file():
            return None
        return _Notes(parse_notes(read_bytes(path), str(path), known))

    def write(self, data: dict[str, str], folder: Path) -> None:
        if data:
            notes = pd.DataFrame({TEXT: list(data.values())}, index=list(data))
            write_csv(notes.rename_axis(ID), folder / "notes.csv")

    def data(self, cohort: Cohort) -> dict[str, str]:
        return cohort.notes

    def with_data(self, cohort: Cohort, data: Any) -> dict[str, Any]:
        return {"notes": data or {}}

    def present(self, cohort: Cohort) -> np.ndarray:
        ids = cohort.clinical.index
        return np.array([bool((cohort.notes.get(i) or "").strip()) for i in ids], dtype=bool)

    def value(self, cohort: Cohort, patient_id: str) -> str | None:
        note = cohort.notes.get(patient_id)
        return note if note and note.strip() else None

    def patient_value(self, patient: Patient) -> str | None:
        return patient.note

    def has(self, value: Any) -> bool:
        return bool(value and value.strip())

    def collect(self, patients: Any, **schema: Any) -> dict[str, str]:
        return {str(p.patient_id): p.note for p in patients if p.note}

    def fit(self, cohort: Cohort, **options: Any) -> TextPreprocessor:
        vocab_size = options.get("vocab_size", 2000)
        max_len = options.get("max_len", 128)
        return TextPreprocessor.fit(list(cohort.notes.values()), vocab_size, max_len)

    def preprocessor_from_dict(self, data: dict[str, Any], files: dict[str, str]) -> Any:
        return TextPreprocessor(files["tokenizer.json"], **data)

    def extra_files(self, preprocessor: Any) -> dict[str, str]:
        return {"tokenizer.json": preprocessor.tokenizer_json}

    def build_encoder(self, config: ModelConfig, schema: dict[str, Any]) -> nn.Module:
        from amff.nn.encoders import TextEncoder

        return TextEncoder(
            vocab_size=schema["vocab_size"],
            max_len=schema["text_max_len"],
            dim=config.dim,
            heads=config.heads,
            layers=config.text_layers,
            dropout=config.dropout,
        )

    def trim(self, inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        (ids,) = inputs  # (B, L)
        used = int((ids != 0).sum(dim=1).max().item()) if len(ids) else 0
        return (ids[:, : max(used, 1)],)

    def quality(self, cohort: Cohort) -> pd.DataFrame:
        """n_words: the note's length in words; hedges: phrases that say the exam or history
        was limited ("limited exam", "unable to", "declined", "incomplete", "suboptimal")."""
        ids = [i for i, ok in zip(cohort.ids, self.present(cohort)) if ok]
        notes = [cohort.notes[i] for i in ids]
        return pd.DataFrame(
            {
                "n_words": [len(n.split()) for n in notes],
                "hedges": [len(_HEDGES.findall(n)) for n in notes],
            },
            index=pd.Index(ids, name=ID),
        )
