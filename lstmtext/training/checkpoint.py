"""Training checkpoints: everything a run needs to continue exactly where it stopped, in one safetensors file.

A checkpoint holds the model and best-so-far weights, the optimizer's state (its tensors as tensors, the rest
as JSON), the recurrent state carried between BPTT windows, the random number generators' states, the
tokenizer's bytes, and a JSON header with the run's settings and progress (step, epoch, position in the data).
Nothing is pickled. Files are written atomically (see `bundle.atomic_write`), so a crash or SIGKILL at any
moment leaves the previous checkpoint whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..core.bundle import FileKind, blob_tensor, read_tensors_file, write_tensors_file
from ..core.model import State
from ..errors import BadInput, BadModelFile, CorpusError
from . import distributed

CHECKPOINT_FILE = FileKind("lstmtext-checkpoint", 1, "checkpoint",
                           "pass a checkpoint written by `lstmtext train`, or start the run again without resuming")
_MODEL, _BEST, _OPTIMIZER, _STATE, _RNG, _TOKENIZER = "model.", "best.", "optimizer.", "state.", "rng.", "tokenizer."


@dataclass
class Checkpoint:
    model: dict[str, torch.Tensor]  # weights as `RecurrentLM.weights_for_saving` gives them
    best: dict[str, torch.Tensor]  # the best weights so far, the same way
    optimizer: dict  # `optimizer.state_dict()`
    recurrent_state: State  # carried into the next BPTT window
    rng: dict[str, torch.Tensor]  # see `capture_rng`
    tokenizer_blobs: dict[str, bytes]
    header: dict  # the run's settings and progress, JSON-serializable


def capture_rng() -> dict[str, torch.Tensor]:
    """The states of torch's generators (CPU, and each CUDA device if there is one)."""
    states = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states.update({f"cuda{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    return states


def restore_rng(states: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(states["cpu"])
    cuda = [states[f"cuda{i}"] for i in range(len(states) - 1) if f"cuda{i}" in states]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    tensors = {_MODEL + k: v.detach().cpu().contiguous() for k, v in checkpoint.model.items()}
    # A copy: the best weights may be the live ones (safetensors refuses tensors that share memory).
    tensors.update({_BEST + k: v.detach().to("cpu", copy=True).contiguous() for k, v in checkpoint.best.items()})
    optimizer_tensors, optimizer_json = _split_optimizer_state(checkpoint.optimizer)
    tensors.update({_OPTIMIZER + k: v for k, v in optimizer_tensors.items()})
    tensors.update({_STATE + k: v for k, v in _state_tensors(checkpoint.recurrent_state).items()})
    tensors.update({_RNG + k: v for k, v in checkpoint.rng.items()})
    tensors.update({_TOKENIZER + k: blob_tensor(v) for k, v in checkpoint.tokenizer_blobs.items()})
    write_tensors_file(path, CHECKPOINT_FILE, tensors, {**checkpoint.header, "optimizer": optimizer_json})


def load_checkpoint(path: Path) -> Checkpoint:
    tensors, header = read_tensors_file(path, CHECKPOINT_FILE)
    groups = {prefix: {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
              for prefix in (_MODEL, _BEST, _OPTIMIZER, _STATE, _RNG, _TOKENIZER)}
    try:
        optimizer = _join_optimizer_state(groups[_OPTIMIZER], header.pop("optimizer"))
        if "cpu" not in groups[_RNG]:
            raise KeyError("rng.cpu")
    except (KeyError, TypeError, ValueError) as error:
        raise BadModelFile(f"{path} is an incomplete checkpoint ({error})", CHECKPOINT_FILE.fix) from None
    return Checkpoint(groups[_MODEL], groups[_BEST], optimizer, _state_from_tensors(groups[_STATE]), groups[_RNG],
                      {k: v.numpy().tobytes() for k, v in groups[_TOKENIZER].items()}, header)


def _split_optimizer_state(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """A torch optimizer's state dict as tensors named `<param>.<key>` plus the JSON-able rest."""
    tensors, scalars = {}, {}
    for param, values in state_dict["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{param}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{param}.{key}"] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _join_optimizer_state(tensors: dict[str, torch.Tensor], rest: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in [*tensors.items(), *rest["scalars"].items()]:
        param, key = name.split(".", 1)
        state.setdefault(int(param), {})[key] = value
    groups = [{**group, "betas": tuple(group["betas"])} if "betas" in group else group
              for group in rest["param_groups"]]
    return {"state": state, "param_groups": groups}


def _state_tensors(state: State) -> dict[str, torch.Tensor]:
    if state is None:
        return {}
    parts = state if isinstance(state, tuple) else (state,)
    return {str(i): part.detach().cpu().contiguous() for i, part in enumerate(parts)}


def _state_from_tensors(tensors: dict[str, torch.Tensor]) -> State:
    if not tensors:
        return None
    parts = tuple(tensors[str(i)] for i in range(len(tensors)))
    return parts if len(parts) > 1 else parts[0]


def checkpoint_to_resume(path: Path, corpus_sha256: str) -> Checkpoint:
    """The checkpoint at `path`, if it was written by as many processes as this run has, on the same corpus."""
    if not path.is_file():
        raise BadInput("there is no checkpoint to resume at {path}", "start training without {name}", field="resume",
                       path=path)
    checkpoint = load_checkpoint(path)
    processes = checkpoint.header.get("processes", 1)
    if processes != distributed.world_size():
        raise BadInput(f"the checkpoint {path} was written by {processes} training process(es), this run has "
                       f"{distributed.world_size()}", f"resume with the same number of processes ({processes})")
    if checkpoint.header.get("plan", {}).get("corpus_sha256") != corpus_sha256:
        raise CorpusError("the corpus is not the one the checkpoint {path} was trained on",
                          "resume with the same corpus file, or start again without {name}", field="resume",
                          path=path)
    return checkpoint
