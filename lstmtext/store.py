"""The user's model store: named models in the user data folder (platformdirs), the default model, listing.

`LSTMTEXT_HOME` moves the whole store (and the token cache) elsewhere, e.g. for tests.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .files import atomic_write
from .errors import BadInput, ModelNotFound

MODEL_SUFFIX = ".lstm"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class StoredModel:
    name: str
    path: Path
    size: int
    modified: float
    is_default: bool


def check_name(name: str) -> str:
    if not _NAME.match(name) or name.endswith(MODEL_SUFFIX):
        raise BadInput(f"'{name}' is not a usable model name",
                       "use letters, digits, '.', '_' and '-', starting with a letter or digit")
    return name


class ModelStore:
    def __init__(self, root: Path | None = None) -> None:
        home = os.environ.get("LSTMTEXT_HOME")
        self.root = root or (Path(home) if home else platformdirs.user_data_path("lstmtext"))
        self.cache_dir = (self.root / "cache" if root or home
                          else platformdirs.user_cache_path("lstmtext"))

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def token_cache_dir(self) -> Path:
        return self.cache_dir / "tokens"

    @property
    def _default_file(self) -> Path:
        return self.root / "default-model"

    def path_for(self, name: str) -> Path:
        return self.models_dir / f"{check_name(name)}{MODEL_SUFFIX}"

    def default_name(self) -> str | None:
        try:
            name = self._default_file.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return name if name and self.path_for(name).exists() else None

    def set_default(self, name: str) -> None:
        atomic_write(self._default_file, f"{check_name(name)}\n".encode())

    def list(self) -> list[StoredModel]:
        default = self.default_name()
        if not self.models_dir.is_dir():
            return []
        found = []
        for path in sorted(self.models_dir.glob(f"*{MODEL_SUFFIX}")):
            stat = path.stat()
            name = path.name[: -len(MODEL_SUFFIX)]
            found.append(StoredModel(name, path, stat.st_size, stat.st_mtime, name == default))
        return found

    def resolve(self, spec: str | None = None) -> Path:
        """A model file from a name in the store, a path, $LSTMTEXT_MODEL, or else the default model."""
        spec = spec or os.environ.get("LSTMTEXT_MODEL") or self.default_name()
        if not spec:
            raise ModelNotFound("no model yet", "train one with `lstmtext train corpus.txt`, or pass --model PATH")
        as_path = Path(spec).expanduser()
        if spec.endswith(MODEL_SUFFIX) or os.sep in spec or as_path.is_file():
            if not as_path.is_file():
                raise ModelNotFound(f"model file not found: {spec}", "check the path, or run `lstmtext models`")
            return as_path
        if _NAME.match(spec) and self.path_for(spec).is_file():
            return self.path_for(spec)
        known = ", ".join(m.name for m in self.list()) or "none yet"
        raise ModelNotFound(f"no model named '{spec}' (stored models: {known})",
                            "run `lstmtext models` to list them, or pass a path to a .lstm file")
