"""Temporary forward hooks that see one thread's forward passes only: reading a model's
inner tensors (or counting its FLOPs) while other sessions use the same model.

The dashboard shares each loaded model between sessions, which run in threads. A hook
registered for one session's capture also fires on every other session's forward pass,
so these hooks run only for forward passes made by the thread that registered them; a
recording keeps a copy (a later in-place operation such as ``ReLU(inplace=True)`` cannot
change it); and the hooks are removed when the block ends. So a shared model neither
shows nor changes anything for anyone else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Any

import torch
from torch import nn

Hook = Callable[[nn.Module, tuple[Any, ...], Any], None]  # (module, inputs, output)
PreHook = Callable[[nn.Module, tuple[Any, ...]], None]  # (module, inputs)
Read = Callable[[tuple[Any, ...], Any], torch.Tensor]  # (inputs, output) -> what to keep


def output_of(inputs: tuple[Any, ...], output: Any) -> torch.Tensor:
    """A tap that reads the module's output."""
    return output


def first_input(inputs: tuple[Any, ...], output: Any) -> torch.Tensor:
    """A tap that reads the module's (first) input."""
    return inputs[0]


@contextmanager
def thread_hooks(
    hooks: Iterable[tuple[nn.Module, Hook]], pre_hooks: Iterable[tuple[nn.Module, PreHook]] = ()
) -> Iterator[None]:
    """Within the block, each ``hook(module, inputs, output)`` runs after and each
    ``pre_hook(module, inputs)`` before its module's forward passes made by this thread.

    The hooks are removed when the block ends, also when it raises.
    """
    thread = threading.get_ident()

    def mine(hook: Callable[..., None]) -> Callable[..., None]:
        def filtered(*args: Any) -> None:
            if threading.get_ident() == thread:
                hook(*args)

        return filtered

    handles = [module.register_forward_hook(mine(hook)) for module, hook in hooks]
    handles += [module.register_forward_pre_hook(mine(hook)) for module, hook in pre_hooks]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _record(
    store: list[torch.Tensor], read: Read, module: nn.Module, inputs: tuple[Any, ...], output: Any
) -> None:
    store.append(read(inputs, output).detach().to(torch.float32, copy=True))


@contextmanager
def recording_activations(
    taps: Mapping[str, tuple[nn.Module, Read]],
) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Within the block, every forward pass of this thread appends to ``store[key]`` what
    ``read(inputs, output)`` gives for ``taps[key] = (module, read)``: a float copy.

    Yields ``store``, its keys in the order of ``taps``; the hooks go when the block ends.
    """
    store: dict[str, list[torch.Tensor]] = {key: [] for key in taps}
    hooks = [(module, partial(_record, store[key], read)) for key, (module, read) in taps.items()]
    with thread_hooks(hooks):
        yield store
