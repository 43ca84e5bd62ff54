"""Which onnxruntime execution providers the engines' sessions run on ([analysis] onnx_providers).

CPU is the default and is in every onnxruntime build. CUDA (with the onnxruntime-gpu package) or
CoreML (macOS) may be asked for: a name onnxruntime does not know is a configuration error at
load (`known`); one this installation does not offer is said once and the sessions run on the
others, CPU always last as the fallback (`resolve`). Embeddings do not depend on the provider, so
the choice is not part of the analysis key.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"


def known(names: Sequence[str]) -> bool:
    """Whether every name is an execution provider onnxruntime knows, offered here or not."""
    if set(names) <= {CPU}:
        return True  # in every build: no need to load onnxruntime to say so
    import onnxruntime

    return set(names) <= set(onnxruntime.get_all_providers())


def usable(requested: Sequence[str], available: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the providers to run on: those requested that are available, in their order, then CPU;
    those requested that are not available)."""
    requested = list(dict.fromkeys(requested))
    kept = [name for name in requested if name in available and name != CPU]
    return [*kept, CPU], [name for name in requested if name not in available]


@functools.cache
def _resolved(requested: tuple[str, ...]) -> tuple[str, ...]:
    if set(requested) <= {CPU}:
        return (CPU,)
    import onnxruntime

    available = onnxruntime.get_available_providers()
    providers, missing = usable(requested, available)
    if missing:
        log.warning("onnxruntime here does not offer %s (it offers %s); running on %s",
                    ", ".join(missing), ", ".join(available), ", ".join(providers))
    return tuple(providers)


def resolve(requested: Sequence[str]) -> list[str]:
    """The providers to give a session for the `requested` ones; those not available are warned
    about once per process and left out."""
    return list(_resolved(tuple(requested)))
