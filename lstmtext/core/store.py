"""The user's model store: named models in the user data folder (platformdirs), the default model, listing; and the
built-in model, shipped inside the package, which every store has under one name and nobody can overwrite.

`LSTMTEXT_HOME` moves the whole store (and the token cache) elsewhere, e.g. for tests.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from ..errors import BadInput, ModelNotFound, OptionError
from .files import atomic_write, check_output_file
from .textfile import is_pipe

MODEL_SUFFIX = ".lstm"
BUILTIN_NAME = "english"
BUILTIN_PATH = Path(__file__).resolve().parent.parent / "builtin" / f"{BUILTIN_NAME}{MODEL_SUFFIX}"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class StoredModel:
    name: str
    path: Path
    size: int
    modified: float
    is_default: bool
    is_builtin: bool = False


def _is_usable_name(name: str) -> bool:
    return bool(_NAME.match(name)) and not name.endswith(MODEL_SUFFIX) and len(name) <= MAX_NAME_LENGTH


def check_name(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH:
        raise BadInput(f"the model name is {len(name)} characters long", f"use at most {MAX_NAME_LENGTH}")
    if not _is_usable_name(name):
        raise BadInput(f"'{name}' is not a usable model name", f"use up to {MAX_NAME_LENGTH} letters, digits, '.', "
                       "'_' and '-', starting with a letter or digit")
    return name


def default_model_name(corpus: str | os.PathLike) -> str:
    """The corpus file's stem, made a usable name; "piped" for text from a pipe (its name is a number)."""
    if is_pipe(corpus):
        return "piped"
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(corpus).stem).strip("-._")[:MAX_NAME_LENGTH]
    return name or "model"


class ModelStore:
    def __init__(self, root: Path | None = None, builtin: Path | None | str = "package") -> None:
        """`builtin`: the built-in model's file ("package": the one shipped in the package, None: none)."""
        home = os.environ.get("LSTMTEXT_HOME")
        self.root = root or (Path(home) if home else platformdirs.user_data_path("lstmtext"))
        self.cache_dir = (self.root / "cache" if root or home
                          else platformdirs.user_cache_path("lstmtext"))
        builtin = BUILTIN_PATH if builtin == "package" else builtin
        self.builtin = Path(builtin) if builtin is not None and Path(builtin).is_file() else None

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
        """Where the model called `name` is: the built-in model's file for its name, else in the store."""
        if name == BUILTIN_NAME and self.builtin is not None:
            return self.builtin
        return self._stored_path(name)

    def destination_for(self, name: str) -> Path:
        """Where a model saved under `name` goes; never the built-in model."""
        if name == BUILTIN_NAME:
            raise BadInput(f"'{BUILTIN_NAME}' is the built-in model's name, and it cannot be overwritten",
                           "save under another name, e.g. --name my-english")
        return self._stored_path(name)

    def _stored_path(self, name: str) -> Path:
        return self.models_dir / f"{check_name(name)}{MODEL_SUFFIX}"

    def training_destination(self, corpus: str | os.PathLike, name: str | None, out: str | os.PathLike | None
                             ) -> tuple[Path, str | None]:
        """Where a model trained on `corpus` goes, and the name it gets in the store (None with `out`): checked
        before any work, so that a run never fails at its end for where it saves."""
        if name is not None and out is not None:
            raise OptionError("name", "{name} and {names[out]} both given",
                              "use {name} to save into the store, or {names[out]} for a file")
        if out is None:
            name = check_name(name) if name is not None else default_model_name(corpus)
        destination = Path(out) if out is not None else self.destination_for(name)
        self.check_writable(destination)
        check_output_file(destination, "out" if out is not None else None)
        return destination, name

    def check_writable(self, destination: Path) -> None:
        """Refuse a path that is the built-in model's file."""
        if self.builtin is not None and destination.resolve() == self.builtin.resolve():
            raise BadInput(f"{destination} is the built-in model, and it cannot be overwritten",
                           "save to another file")

    def default_name(self) -> str | None:
        """The default model's name, if there is one and its file is there: the one chosen or last trained, else
        the built-in model."""
        try:
            name = self._recorded_default()
        except BadInput:
            return None
        if name and self.path_for(name).is_file():
            return name
        return BUILTIN_NAME if name is None and self.builtin is not None else None

    def _recorded_default(self) -> str | None:
        """The name the default-model file records (None: no file); BadInput where it holds no usable name."""
        try:
            name = self._default_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError):
            name = ""
        if not _is_usable_name(name):
            raise BadInput(f"the default-model file {self._default_file} is damaged",
                           "choose a model with `lstmtext models --default NAME`, or delete that file")
        return name

    def set_default(self, name: str) -> None:
        atomic_write(self._default_file, f"{check_name(name)}\n".encode())

    def list(self) -> list[StoredModel]:
        """The built-in model first, then the stored ones by name."""
        default = self.default_name()
        found = []
        if self.builtin is not None:
            stat = self.builtin.stat()
            found.append(StoredModel(BUILTIN_NAME, self.builtin, stat.st_size, stat.st_mtime,
                                     default == BUILTIN_NAME, is_builtin=True))
        if not self.models_dir.is_dir():
            return found
        for path in sorted(self.models_dir.glob(f"*{MODEL_SUFFIX}")):
            try:
                stat = path.stat()
            except OSError:  # a dangling link, or a file removed meanwhile: not a model to list
                continue
            name = path.name[: -len(MODEL_SUFFIX)]
            if name == BUILTIN_NAME and self.builtin is not None:
                continue  # shadowed: the name reaches the built-in model
            found.append(StoredModel(name, path, stat.st_size, stat.st_mtime, name == default))
        return found

    def resolve(self, spec: str | None = None) -> Path:
        """A model file from a name in the store, a path, $LSTMTEXT_MODEL, or else the default model."""
        spec = spec or os.environ.get("LSTMTEXT_MODEL") or self._default_spec()
        as_path = Path(spec).expanduser()
        if spec.endswith(MODEL_SUFFIX) or os.sep in spec or as_path.is_file():
            if not as_path.is_file():
                raise ModelNotFound(f"model file not found: {spec}", "check the path, or run `lstmtext models`")
            return as_path
        if _NAME.match(spec) and self.path_for(spec).is_file():
            return self.path_for(spec)
        known = self._known_names()
        raise ModelNotFound(f"no model named '{spec}' (stored models: {known})",
                            "run `lstmtext models` to list them, or pass a path to a .lstm file")

    def _default_spec(self) -> str:
        recorded = self._recorded_default()
        if recorded is None:
            if self.builtin is not None:
                return BUILTIN_NAME
            raise ModelNotFound("no model yet", "train one with `lstmtext train corpus.txt`, or pass {name} PATH",
                                field="model")
        if not self.path_for(recorded).is_file():
            raise ModelNotFound("the default model '{recorded}' is gone ({path} was removed)",
                                "pick another with `lstmtext models --default NAME` (stored: {known}), or pass {name}",
                                field="model", recorded=recorded, path=self.path_for(recorded),
                                known=self._known_names())
        return recorded

    def _known_names(self) -> str:
        return ", ".join(m.name for m in self.list()) or "none yet"
