"""Small ONNX models that insightface's model router accepts as a face pack, built with onnx.helper.

They compute their outputs from the image with real operators, so tests run insightface's real
FaceAnalysis end to end without its multi-megabyte packs:

* `detector_model()`: SCRFD's interface (input 1x3xHxW; per stride 8/16/32 and 2 anchors per
  location: scores (N,1), box distances (N,4), keypoint offsets (N,10); 9 outputs). It is a
  centre-surround blob detector on the red channel: at stride s it fires where a red square of
  side 2s is centred on an anchor (the mean brightness of the 2s window minus that of the ring
  around it, up to 4s). The box is that 2s window, the 5 keypoints are ArcFace's alignment
  template placed in it, so the recognition crop of a detected square is exactly the square.
* `recognition_model(seed)`: ArcFace's interface (input 1x3x112x112, output 1x512): the crop
  average-pooled to 8x8 per channel, then a fixed random linear projection of those 192 values.
"""

from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
STRIDES = (8, 16, 32)
ANCHORS = 2  # SCRFD with 9 outputs has two anchors per location
GAIN = 20.0  # sharpness of the score sigmoid
BIAS = 0.75  # centre-surround contrast (in [-1, 1]) at which the score is 0.5
EMBEDDING_SIZE = 512
POOL = 14  # 112 / 14 = 8 cells per side

# ArcFace's 5-point alignment template in a 112x112 crop (insightface.utils.face_align.arcface_dst):
# left eye, right eye, nose, left and right mouth corners.
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)


def _const(name: str, value) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)


def _model(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="photorank-tests")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def detector_model() -> onnx.ModelProto:
    nodes = []
    inits = [
        _const("half", 0.5),
        _const("contrast", 4.0 / 3.0),
        _const("bias", -BIAS),
        _const("gain", GAIN),
        _const("zero", 0.0),
        _const("box_distances", np.ones((1, 4))),  # box = anchor ± 1 stride: a 2-stride square
        # keypoints relative to the anchor, in strides: the template mapped onto that square
        _const("kps_offsets", ((ARCFACE_TEMPLATE - 56.0) / 56.0).reshape(1, 10)),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "ch_start"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "ch_end"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "ch_axis"),
        numpy_helper.from_array(np.array([-1, 1], dtype=np.int64), "column"),
    ]
    # The network sees RGB scaled to about [-1, 1]; brightness of the red channel in [0, 1].
    nodes += [
        helper.make_node("Slice", ["input.1", "ch_start", "ch_end", "ch_axis"], ["red"], name="red"),
        helper.make_node("Mul", ["red", "half"], ["red_half"], name="scale_red"),
        helper.make_node("Add", ["red_half", "half"], ["bright"], name="shift_red"),
    ]
    scores, boxes, kpss = [], [], []
    for s in STRIDES:
        nodes += [
            helper.make_node("AveragePool", ["bright"], [f"inner_{s}"], name=f"inner_{s}", kernel_shape=[2 * s, 2 * s],
                             strides=[s, s], pads=[s, s, 0, 0], count_include_pad=1),
            helper.make_node("AveragePool", ["bright"], [f"outer_{s}"], name=f"outer_{s}", kernel_shape=[4 * s, 4 * s],
                             strides=[s, s], pads=[2 * s, 2 * s, s, s], count_include_pad=1),
            # inner mean - ring mean = 4/3 (inner - outer)
            helper.make_node("Sub", [f"inner_{s}", f"outer_{s}"], [f"diff_{s}"], name=f"diff_{s}"),
            helper.make_node("Mul", [f"diff_{s}", "contrast"], [f"contrast_{s}"], name=f"contrast_{s}"),
            helper.make_node("Add", [f"contrast_{s}", "bias"], [f"biased_{s}"], name=f"biased_{s}"),
            helper.make_node("Mul", [f"biased_{s}", "gain"], [f"logit_{s}"], name=f"logit_{s}"),
            helper.make_node("Sigmoid", [f"logit_{s}"], [f"map_{s}"], name=f"map_{s}"),
            # (1,1,h,w) -> (1,h,w,1); second anchor scores 0; rows ordered (y, x, anchor)
            helper.make_node("Transpose", [f"map_{s}"], [f"nhwc_{s}"], name=f"nhwc_{s}", perm=[0, 2, 3, 1]),
            helper.make_node("Mul", [f"nhwc_{s}", "zero"], [f"none_{s}"], name=f"none_{s}"),
            helper.make_node("Concat", [f"nhwc_{s}", f"none_{s}"], [f"pair_{s}"], name=f"pair_{s}", axis=3),
            helper.make_node("Reshape", [f"pair_{s}", "column"], [f"score_{s}"], name=f"score_{s}"),
            helper.make_node("Mul", [f"score_{s}", "zero"], [f"zeros_{s}"], name=f"zeros_{s}"),
            helper.make_node("Add", [f"zeros_{s}", "box_distances"], [f"bbox_{s}"], name=f"bbox_{s}"),
            helper.make_node("Add", [f"zeros_{s}", "kps_offsets"], [f"kps_{s}"], name=f"kps_{s}"),
        ]
        scores.append(helper.make_tensor_value_info(f"score_{s}", TensorProto.FLOAT, [f"n{s}", 1]))
        boxes.append(helper.make_tensor_value_info(f"bbox_{s}", TensorProto.FLOAT, [f"n{s}", 4]))
        kpss.append(helper.make_tensor_value_info(f"kps_{s}", TensorProto.FLOAT, [f"n{s}", 10]))
    graph = helper.make_graph(
        nodes,
        "toy_scrfd",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, "height", "width"])],
        scores + boxes + kpss,  # SCRFD's output order: all scores, all boxes, all keypoints
        initializer=inits,
    )
    return _model(graph)


def recognition_projection(seed: int = 0) -> np.ndarray:
    """The (192, 512) matrix the recognition model applies to the pooled crop."""
    return np.random.default_rng(seed).standard_normal((3 * (112 // POOL) ** 2, EMBEDDING_SIZE)).astype(np.float32)


def recognition_model(seed: int = 0) -> onnx.ModelProto:
    # Node names must not start with Sub/Mul: insightface would take the model for an MXNet
    # export with normalisation built in. Ours expects insightface's (x - 127.5) / 127.5.
    nodes = [
        helper.make_node("AveragePool", ["input.1"], ["cells"], name="cells", kernel_shape=[POOL, POOL], strides=[POOL, POOL]),
        helper.make_node("Flatten", ["cells"], ["features"], name="features", axis=1),
        helper.make_node("MatMul", ["features", "projection"], ["embedding"], name="project"),
    ]
    graph = helper.make_graph(
        nodes,
        "toy_arcface",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 112, 112])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, EMBEDDING_SIZE])],
        initializer=[numpy_helper.from_array(recognition_projection(seed), "projection")],
    )
    return _model(graph)


def expected_embedding(crop_rgb: np.ndarray, seed: int = 0) -> np.ndarray:
    """What `recognition_model(seed)` gives for a face whose aligned 112x112 crop is `crop_rgb`
    (computed here with numpy, independently of ONNX Runtime and insightface), L2-normalised."""
    import cv2

    crop = cv2.resize(crop_rgb, (112, 112), interpolation=cv2.INTER_AREA).astype(np.float32)
    crop = (crop - 127.5) / 127.5
    cells = crop.reshape(8, POOL, 8, POOL, 3).mean(axis=(1, 3))  # (8, 8, 3)
    features = cells.transpose(2, 0, 1).reshape(1, -1)  # channel-major, like Flatten of NCHW
    embedding = (features @ recognition_projection(seed)).ravel()
    return embedding / np.linalg.norm(embedding)


def write_pack(root: str | os.PathLike, pack: str = "buffalo_l", detection: bool = True, recognition: bool = True,
               seed: int = 0, det_name: str = "det.onnx", rec_name: str = "rec.onnx") -> str:
    """Write a pack as insightface lays one out: ROOT/models/PACK/*.onnx. Returns the pack folder."""
    directory = os.path.join(os.fspath(root), "models", pack)
    os.makedirs(directory, exist_ok=True)
    if detection:
        onnx.save(detector_model(), os.path.join(directory, det_name))
    if recognition:
        onnx.save(recognition_model(seed), os.path.join(directory, rec_name))
    return directory
