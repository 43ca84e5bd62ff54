"""[analysis] onnx_providers with the installed onnxruntime: names it does not know are a
configuration error, providers it does not offer here are said once and left out, CPU is always
the fallback, and the engines' sessions run on what was resolved."""

from __future__ import annotations

import logging

import numpy as np
import onnxruntime
import pytest

from onnx_models import write_pack
from photorank.config import ConfigError, default_settings, load_settings, settings_with
from photorank.faces import onnx_providers, resnet_onnx
from photorank.faces.dlib_models import RESNET, model_path
from photorank.faces.insightface_engine import InsightFaceEngine
from photorank.analysis import engine_choice

CPU = "CPUExecutionProvider"
AVAILABLE = onnxruntime.get_available_providers()
# Known to onnxruntime, not offered by this installation (CUDA without onnxruntime-gpu, CoreML off macOS).
UNAVAILABLE = next(name for name in onnxruntime.get_all_providers() if name not in AVAILABLE)
OTHER_AVAILABLE = [name for name in AVAILABLE if name != CPU]


@pytest.fixture(autouse=True)
def fresh_resolution():
    """Each test sees the first resolution in its process (the warning is once per process)."""
    onnx_providers._resolved.cache_clear()
    yield
    onnx_providers._resolved.cache_clear()


def test_cpu_is_the_default_and_always_the_fallback():
    assert default_settings().analysis.onnx_providers == (CPU,)
    assert onnx_providers.resolve([CPU]) == [CPU]
    assert onnx_providers.usable([UNAVAILABLE], AVAILABLE) == ([CPU], [UNAVAILABLE])
    assert onnx_providers.usable([CPU, UNAVAILABLE, CPU], AVAILABLE) == ([CPU], [UNAVAILABLE])


def test_an_unavailable_provider_is_one_warning_and_left_out(caplog):
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert onnx_providers.resolve([UNAVAILABLE, CPU]) == [CPU]
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1 and UNAVAILABLE in warnings[0] and "running on CPUExecutionProvider" in warnings[0]


@pytest.mark.skipif(not OTHER_AVAILABLE, reason="this onnxruntime offers no provider but the CPU")
def test_an_available_provider_comes_first_with_the_cpu_after_it(caplog):
    with caplog.at_level(logging.WARNING):
        assert onnx_providers.resolve([OTHER_AVAILABLE[0]]) == [OTHER_AVAILABLE[0], CPU]
    assert not caplog.records


@pytest.mark.parametrize("value", [["CUDAExecutionProvidr"], [CPU, "cuda"], []])
def test_a_name_onnxruntime_does_not_know_is_a_configuration_error(tmp_path, value):
    config = tmp_path / "config.toml"
    config.write_text(f"[analysis]\nonnx_providers = {value!r}\n".replace("'", '"'))
    with pytest.raises(ConfigError, match=r"\[analysis\] onnx_providers must be onnxruntime execution providers"):
        load_settings(str(config))


def test_every_provider_onnxruntime_knows_is_accepted():
    settings = settings_with({"analysis": {"onnx_providers": onnxruntime.get_all_providers()}})
    assert settings.analysis.onnx_providers == tuple(onnxruntime.get_all_providers())


def test_the_engine_choice_carries_the_resolved_providers_to_the_workers(caplog):
    settings = settings_with({"analysis": {"onnx_providers": [UNAVAILABLE, *OTHER_AVAILABLE[:1], CPU]}})
    with caplog.at_level(logging.WARNING):
        choice = engine_choice("dlib", settings)
    assert dict(choice.options)["onnx_providers"] == (*OTHER_AVAILABLE[:1], CPU)
    assert len(caplog.records) == 1
    choice.build()  # a worker builds the same engine: nothing more to say
    assert len(caplog.records) == 1


def test_dlibs_resnet_session_runs_on_the_providers_and_agrees_with_the_cpu():
    chips = resnet_onnx.check_chips()
    on_cpu = resnet_onnx.OnnxResNet(model_path(RESNET))
    asked = resnet_onnx.OnnxResNet(model_path(RESNET), [UNAVAILABLE, *OTHER_AVAILABLE, CPU])
    assert on_cpu.providers == [CPU]
    assert asked.providers == [*OTHER_AVAILABLE, CPU]
    found = resnet_onnx.descriptors(asked._session, chips)
    assert np.allclose(found, resnet_onnx.descriptors(on_cpu._session, chips), atol=1e-4)


def test_insightface_sessions_run_on_the_providers(tmp_path):
    write_pack(tmp_path)
    assert InsightFaceEngine(root=str(tmp_path)).providers == [CPU]
    asked = InsightFaceEngine(root=str(tmp_path), onnx_providers=[UNAVAILABLE, *OTHER_AVAILABLE, CPU])
    assert asked.providers == [*OTHER_AVAILABLE, CPU]
