"""dlib's face-recognition ResNet run by onnxruntime: the same weights, several times faster.

`dlib_face_recognition_resnet_model_v1.dat` (from `face_recognition_models`) is read once in
Python from dlib's own serialisation, rebuilt as an ONNX graph, checked against dlib's
`compute_face_descriptor` on faces of a photo shipped with an installed package, and kept in the
user data dir under the .dat's sha256. dlib-bin is built without BLAS; onnxruntime's convolutions
are what make the difference. The face chips stay dlib's (`dlib.get_face_chips`, 150 px, padding
0.25: exactly what `compute_face_descriptor` extracts), so alignment is the one the network was
trained with.

dlib's format, as far as this network needs it: integers are a header byte (low nibble: byte
count, 0x80: negative) and that many little-endian bytes; a float is an integer mantissa and an
integer exponent (value = mantissa * 2**exponent); a string is its length and bytes; a bool is
the character '0' or '1'; a tensor is version 2, four dimensions and raw little-endian float32s.
A network is written from the loss layer inwards: each `add_layer` writes its version then its
sub-network, then its own layer and state, so the layers' details come innermost first.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import models
from ..errors import PhotorankError
from .onnx_providers import CPU, resolve

log = logging.getLogger(__name__)

# Bumped when the conversion changes, so a model converted by an older photorank is rebuilt.
CONVERTER_VERSION = 1
CHIP_SIZE = 150
CHIP_PADDING = 0.25
# The ONNX output is refused unless every check face's embedding is this close to dlib's.
MIN_COSINE = 0.999
# What can run the network ([dlib] embedding); the first is the default.
RUNTIMES = ("onnxruntime", "dlib")
# Faces of the shipped group photo the conversion is checked on (all six of insightface's t1.jpg).
CHECK_IMAGE = "t1.jpg"


class ConversionError(PhotorankError):
    """The .dat is not the network this converter knows, or the converted model disagrees with dlib."""


# ---------------------------------------------------------------------------------------------
# The layers of the network, as read from the .dat (innermost first)


@dataclass(frozen=True)
class InputLayer:
    means: tuple[float, float, float]  # R, G, B subtracted before dividing by 256
    size: int


@dataclass(frozen=True)
class Conv:
    filters: np.ndarray  # (out, in, rows, cols), as ONNX wants them
    biases: np.ndarray
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class Affine:
    """A batch norm frozen after training: x * gamma + beta per channel."""

    gamma: np.ndarray
    beta: np.ndarray


@dataclass(frozen=True)
class Pool:
    kind: str  # "max" or "avg"
    size: tuple[int, int]  # (0, 0): the whole image (dlib's avg_pool_everything)
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class Relu:
    pass


@dataclass(frozen=True)
class AddPrev:
    """Adds the residual branch's start (tag1), or its pooled copy after a pool in the block."""


@dataclass(frozen=True)
class Tag:
    """dlib's tag or skip wrapper. Alone it marks where a residual branch starts (tag1); a pair
    (tag2, skip1) ends a down-sampling block's main branch and goes back to its start, whose
    pooled copy is then the shortcut."""


@dataclass(frozen=True)
class FullyConnected:
    weights: np.ndarray  # (inputs, outputs): output = input @ weights


Layer = Conv | Affine | Pool | Relu | AddPrev | Tag | FullyConnected


@dataclass(frozen=True)
class DlibNetwork:
    input: InputLayer
    layers: tuple[Layer, ...]  # innermost (next to the input) first


class _Reader:
    """dlib's serialisation primitives over the bytes of a .dat."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def integer(self) -> int:
        header = self._take(1)[0]
        value = int.from_bytes(self._take(header & 0x0F), "little")
        return -value if header & 0x80 else value

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        if abs(exponent) >= 32000:  # dlib's markers for infinities and NaN: no trained weight is one
            raise ConversionError(f"non-finite number at byte {self.pos}")
        return mantissa * 2.0**exponent

    def string(self) -> str:
        return self._take(self.integer()).decode("ascii", errors="replace")

    def boolean(self) -> bool:
        flag = self._take(1)
        if flag not in (b"0", b"1"):
            raise ConversionError(f"expected a bool at byte {self.pos - 1}, found {flag!r}")
        return flag == b"1"

    def tensor(self) -> np.ndarray:
        self.expect(self.integer(), 2, "tensor version")
        shape = tuple(self.integer() for _ in range(4))
        count = int(np.prod(shape))
        values = np.frombuffer(self._take(4 * count), dtype="<f4")
        return values.reshape(shape).astype(np.float32)

    def alias_tensor(self) -> tuple[int, ...]:
        self.expect(self.integer(), 1, "alias tensor version")
        return tuple(self.integer() for _ in range(4))

    def expect(self, found, wanted, what: str) -> None:
        if found != wanted:
            raise ConversionError(f"unexpected {what} near byte {self.pos}: {found!r}, expected {wanted!r}")

    def _take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise ConversionError("the model file ends early")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk


def read_dlib_network(data: bytes) -> DlibNetwork:
    """The layers of dlib's face-recognition network (dnn_face_recognition_ex.cpp's anet_type)."""
    reader = _Reader(data)
    reader.expect(reader.integer(), 1, "loss layer version")
    reader.expect(reader.string(), "loss_metric_2", "loss layer")
    reader.real(), reader.real()  # margin and distance threshold: training only
    # One version per wrapper, outermost first: 2 for a layer, 1 for a tag or skip (which write
    # nothing else), 3 for the layer on the input.
    wrappers = []
    while (version := reader.integer()) != 3:
        reader.expect(version in (1, 2), True, "layer version")
        wrappers.append(version)
    reader.expect(reader.string(), "input_rgb_image_sized", "input layer")
    means = (reader.real(), reader.real(), reader.real())
    rows, cols = reader.integer(), reader.integer()
    reader.expect(rows, cols, "input size")
    layers = [_read_layer(reader)]
    _skip_layer_state(reader)
    reader.integer()  # the sample expansion factor of the input layer: 1
    for version in reversed(wrappers):
        if version == 1:
            layers.append(Tag())
            continue
        layers.append(_read_layer(reader))
        _skip_layer_state(reader)
    reader.expect(reader.pos, len(data), "end of file")
    return DlibNetwork(InputLayer(means, rows), tuple(layers))


def _read_layer(reader: _Reader) -> Layer:
    kind = reader.string()
    if kind == "con_4":
        params = reader.tensor().ravel()
        count, rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(7))
        filter_shape, bias_shape = reader.alias_tensor(), reader.alias_tensor()
        for _ in range(4):
            reader.real()  # learning-rate and weight-decay multipliers: training only
        reader.expect(filter_shape[0], count, "filter count")
        reader.expect((filter_shape[2], filter_shape[3]), (rows, cols), "filter size")
        weights = int(np.prod(filter_shape))
        return Conv(params[:weights].reshape(filter_shape), params[weights : weights + count],
                    (stride_y, stride_x), (pad_y, pad_x))
    if kind == "affine_":
        params = reader.tensor().ravel()
        gamma_shape, beta_shape = reader.alias_tensor(), reader.alias_tensor()
        reader.integer()  # mode: per channel (convolutional)
        size = int(np.prod(gamma_shape))
        reader.expect(int(np.prod(beta_shape)), size, "affine beta size")
        return Affine(params[:size], params[size : 2 * size])
    if kind in ("max_pool_2", "avg_pool_2"):
        rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(6))
        return Pool(kind[:3], (rows, cols), (stride_y, stride_x), (pad_y, pad_x))
    if kind == "relu_":
        return Relu()
    if kind == "add_prev_":
        return AddPrev()
    if kind == "fc_2":
        outputs, inputs = reader.integer(), reader.integer()
        params = reader.tensor().ravel()
        reader.alias_tensor(), reader.alias_tensor()
        reader.expect(reader.integer(), 1, "fc bias mode (1: no bias)")
        for _ in range(4):
            reader.real()
        return FullyConnected(params[: inputs * outputs].reshape(inputs, outputs))
    raise ConversionError(f"layer {kind!r} is not part of dlib's face-recognition ResNet")


def _skip_layer_state(reader: _Reader) -> None:
    """Training state each layer writes after itself: three flags and three (empty) tensors."""
    for _ in range(3):
        reader.boolean()
    for _ in range(3):
        reader.tensor()


# ---------------------------------------------------------------------------------------------
# The ONNX graph


class _GraphBuilder:
    """Nodes and weights of the graph, with each value's (channels, rows, cols) tracked so dlib's
    add of differently sized tensors (zero-padded to the larger) can be written as Pad + Add."""

    def __init__(self):
        self.nodes, self.weights = [], []
        self.shapes: dict[str, tuple[int, int, int]] = {}

    def weight(self, name: str, values: np.ndarray, dtype=np.float32) -> str:
        from onnx import numpy_helper

        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(values, dtype=dtype), name))
        return name

    def node(self, op: str, inputs: list[str], shape: tuple[int, int, int] | None = None, **attributes) -> str:
        from onnx import helper

        output = f"{op.lower()}{len(self.nodes)}"
        self.nodes.append(helper.make_node(op, inputs, [output], **attributes))
        if shape is not None:
            self.shapes[output] = shape
        return output

    def conv(self, value: str, conv: Conv, affine: Affine) -> str:
        """The convolution with the batch norm after it folded into its filters and biases."""
        kernel = conv.filters.shape[2:]
        index = len(self.nodes)
        filters = self.weight(f"filters{index}", conv.filters * affine.gamma[:, None, None, None])
        biases = self.weight(f"biases{index}", conv.biases * affine.gamma + affine.beta)
        shape = (conv.filters.shape[0], *_slid(self.shapes[value][1:], kernel, conv.stride, conv.padding))
        return self.node("Conv", [value, filters, biases], shape, kernel_shape=list(kernel), strides=list(conv.stride),
                         pads=list(conv.padding) * 2)

    def pool(self, value: str, pool: Pool) -> str:
        channels, rows, cols = self.shapes[value]
        if pool.size == (0, 0):
            return self.node("GlobalAveragePool", [value], (channels, 1, 1))
        shape = (channels, *_slid((rows, cols), pool.size, pool.stride, pool.padding))
        return self.node("MaxPool" if pool.kind == "max" else "AveragePool", [value], shape,
                         kernel_shape=list(pool.size), strides=list(pool.stride), pads=list(pool.padding) * 2)

    def add(self, first: str, second: str) -> str:
        """dlib's add_prev: the sum over the larger of both shapes, the missing part taken as zero
        (a down-sampling block's shortcut has fewer channels, and may be a row larger)."""
        shape = tuple(max(a, b) for a, b in zip(self.shapes[first], self.shapes[second]))
        return self.node("Add", [self._zero_padded(first, shape), self._zero_padded(second, shape)], shape)

    def _zero_padded(self, value: str, shape: tuple[int, int, int]) -> str:
        missing = [wanted - have for wanted, have in zip(shape, self.shapes[value])]
        if not any(missing):
            return value
        pads = self.weight(f"pads{len(self.nodes)}", np.array([0, 0, 0, 0, 0, *missing]), np.int64)
        return self.node("Pad", [value, pads], shape)


def _slid(size: tuple[int, int], kernel, stride, padding) -> tuple[int, int]:
    """Rows and columns out of a window slid over the zero-padded input (dlib and ONNX both round down)."""
    return tuple(1 + (length + 2 * pad - window) // step for length, window, step, pad in zip(size, kernel, stride, padding))


def build_onnx(network: DlibNetwork):
    """An ONNX model: uint8 chips (n, size, size, RGB) in, dlib's 128-d descriptors out."""
    import onnx
    from onnx import TensorProto, helper

    graph = _GraphBuilder()
    size = network.input.size
    pixels = graph.node("Cast", ["chips"], to=TensorProto.FLOAT)
    centred = graph.node("Sub", [pixels, graph.weight("means", np.array(network.input.means))])
    scaled = graph.node("Mul", [centred, graph.weight("scale", np.array(1 / 256))])
    value = graph.node("Transpose", [scaled], (3, size, size), perm=[0, 3, 1, 2])

    layers = list(network.layers)
    branch_start = block_output = None
    tags_in_a_row = 0
    for position, layer in enumerate(layers):
        if isinstance(layer, Tag):
            tags_in_a_row += 1
            continue
        if tags_in_a_row == 1:  # tag1
            branch_start, block_output = value, None
        elif tags_in_a_row == 2:  # tag2 then skip1
            block_output, value = value, branch_start
        elif tags_in_a_row:
            raise ConversionError(f"{tags_in_a_row} tags in a row: not dlib's face-recognition ResNet")
        tags_in_a_row = 0
        if isinstance(layer, Conv):
            following = layers[position + 1] if position + 1 < len(layers) else None
            if not isinstance(following, Affine):
                raise ConversionError("a convolution without its batch norm: not dlib's face-recognition ResNet")
            value = graph.conv(value, layer, following)
        elif isinstance(layer, Affine):
            if not isinstance(layers[position - 1], Conv):
                raise ConversionError("a batch norm that does not follow a convolution")
        elif isinstance(layer, Relu):
            value = graph.node("Relu", [value], graph.shapes[value])
        elif isinstance(layer, Pool):
            value = graph.pool(value, layer)
        elif isinstance(layer, AddPrev):
            value = graph.add(value, block_output if block_output is not None else branch_start)
        elif isinstance(layer, FullyConnected):
            flat = graph.node("Flatten", [value])
            value = graph.node("MatMul", [flat, graph.weight("fc", layer.weights)])
    if not isinstance(network.layers[-1], FullyConnected):
        raise ConversionError("the network does not end in its 128-d fully connected layer")
    graph.nodes[-1].output[0] = "descriptors"  # the MatMul's output is the graph's
    outputs = network.layers[-1].weights.shape[1]
    model = helper.make_model(
        helper.make_graph(
            graph.nodes, "dlib_face_recognition_resnet_v1",
            [helper.make_tensor_value_info("chips", TensorProto.UINT8, ["faces", size, size, 3])],
            [helper.make_tensor_value_info("descriptors", TensorProto.FLOAT, ["faces", outputs])],
            graph.weights,
        ),
        opset_imports=[helper.make_opsetid("", 17)],
        producer_name="photorank",
    )
    model.ir_version = 8  # readable by onnxruntime releases from 1.14 on
    onnx.checker.check_model(model)
    return model


# ---------------------------------------------------------------------------------------------
# Converting once, checked against dlib


def converted_path(dat_path: str) -> str:
    """Where the ONNX model converted from this .dat is kept: named by the .dat's sha256, so a
    different model file (or converter) is never confused with it."""
    digest = models.sha256_file(dat_path)
    return os.path.join(models.models_dir(), f"dlib_resnet_{digest[:16]}_c{CONVERTER_VERSION}.onnx")


def ensure_converted(dat_path: str) -> str:
    """The path of the converted model, converting and checking it first if it is not there yet.
    Raises ConversionError when the .dat is not the expected network or the converted model does
    not reproduce dlib's descriptors."""
    path = converted_path(dat_path)
    if not os.path.exists(path):
        log.warning("converting dlib's face-recognition network to ONNX into %s (once)", path)
        with open(dat_path, "rb") as handle:
            data = handle.read()
        try:
            network = read_dlib_network(data)
        except ConversionError as error:
            raise ConversionError(f"{dat_path} is not dlib's face-recognition ResNet as photorank reads it: {error}") from error
        model = build_onnx(network).SerializeToString()
        verify_against_dlib(model, dat_path)
        models.write_atomically(path, model)
    return path


def verify_against_dlib(model: bytes, dat_path: str) -> float:
    """The smallest cosine between the model's and dlib's descriptors of the check faces; raises
    ConversionError when it is below MIN_COSINE (the model is then never used)."""
    worst = float(np.min(agreement_with_dlib(session(model), dat_path, check_chips())))
    if worst < MIN_COSINE:
        raise ConversionError(
            f"the ONNX conversion of {os.path.basename(dat_path)} disagrees with dlib (cosine {worst:.4f}, "
            f"below {MIN_COSINE}); it is not used")
    return worst


def session(model: str | bytes, providers: Sequence[str] = (CPU,)):
    """An onnxruntime session on one thread (photorank runs one worker process per core), on
    `providers` as far as this installation offers them (onnx_providers.resolve)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model, options, providers=resolve(providers))


def descriptors(onnx_session, chips: np.ndarray) -> np.ndarray:
    """dlib's 128-d descriptors (not normalised) of face chips (n, 150, 150, 3) uint8, in one run."""
    return onnx_session.run(None, {"chips": np.ascontiguousarray(chips, dtype=np.uint8)})[0]


def face_chips(pixels: np.ndarray, shapes) -> np.ndarray:
    """dlib's aligned 150-px chips of faces given by their landmark shapes (68 or 5 points), cut
    exactly as `compute_face_descriptor` cuts them."""
    import dlib

    detections = dlib.full_object_detections(list(shapes))
    return np.stack(dlib.get_face_chips(np.ascontiguousarray(pixels), detections, size=CHIP_SIZE, padding=CHIP_PADDING))


def check_chips() -> np.ndarray:
    """Chips of the six faces of the group photo shipped in the insightface wheel (a dependency),
    found by dlib's own HOG detector and 68-point landmarks."""
    import dlib
    from PIL import Image

    from ..demo import package_image
    from .dlib_models import landmark_predictor

    try:
        pixels = np.asarray(Image.open(package_image(CHECK_IMAGE)).convert("RGB"))
    except OSError as error:
        raise ConversionError(f"cannot check the converted network without its check photo: {error}") from error
    rects = dlib.get_frontal_face_detector()(pixels, 1)
    if not rects:
        raise ConversionError(f"no face found in the check photo {CHECK_IMAGE}")
    return face_chips(pixels, [landmark_predictor()(pixels, rect) for rect in rects])


def agreement_with_dlib(onnx_session, dat_path: str, chips: np.ndarray) -> np.ndarray:
    """Cosine between the ONNX model's descriptor and dlib's compute_face_descriptor, per chip."""
    import dlib

    encoder = dlib.face_recognition_model_v1(dat_path)
    expected = np.array([encoder.compute_face_descriptor(chip) for chip in chips])
    found = descriptors(onnx_session, chips).astype(np.float64)
    return (found * expected).sum(axis=1) / (np.linalg.norm(found, axis=1) * np.linalg.norm(expected, axis=1))


class OnnxResNet:
    """dlib's network in onnxruntime: descriptors of all faces of a photo in one run."""

    def __init__(self, dat_path: str, providers: Sequence[str] = (CPU,)):
        self._session = session(ensure_converted(dat_path), providers)

    def __call__(self, pixels: np.ndarray, shapes) -> np.ndarray:
        return descriptors(self._session, face_chips(pixels, shapes))

    @property
    def providers(self) -> list[str]:
        """The execution providers the session runs on, in onnxruntime's order of preference."""
        return self._session.get_providers()


def resnet_descriptors(runtime: str, dat_path: str, providers: Sequence[str] = (CPU,)):
    """dlib's ResNet as a function (pixels, shapes) -> descriptors: in onnxruntime (on
    `providers`) when `runtime` is "onnxruntime" and the conversion works, else in dlib itself
    (the same numbers, slower)."""
    import dlib

    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r} for dlib's embedding network: choose {' or '.join(RUNTIMES)}")
    if runtime == "onnxruntime":
        try:
            return OnnxResNet(dat_path, providers)
        except (ImportError, ConversionError, OSError, RuntimeError) as error:
            log.warning("dlib's face-recognition network runs in dlib instead of onnxruntime (slower): %s", error)
    encoder = dlib.face_recognition_model_v1(dat_path)
    return lambda pixels, shapes: encoder.compute_face_descriptor(pixels, dlib.full_object_detections(shapes))
