"""Writes the reference fixtures of antema's inference engine tests.

Each case is a small ONNX model (from PyTorch or built node by node), a random input and the
output onnxruntime computes for it. Run from the repository root with the training venv:
    .venv/bin/python training/make_inference_fixtures.py
Needs torch (CPU wheel), onnx, onnxruntime, numpy; the tests themselves need none of them.
"""
import json, os, sys
import numpy as np
import onnx
from onnx import helper, TensorProto, numpy_helper
import onnxruntime as ort
import torch

sys.path.insert(0, os.path.dirname(__file__))
from models import UNet, DeepLabLite

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "InferenceTests", "Fixtures")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20261125)
manifest = {}


def save(name, model_bytes, inputs):
    path = os.path.join(OUT, name + ".onnx")
    with open(path, "wb") as f:
        f.write(model_bytes)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    outputs = sess.run(None, inputs)
    entry = {"inputs": [], "outputs": []}
    for k, (iname, value) in enumerate(inputs.items()):
        value.astype("<f4").tofile(os.path.join(OUT, f"{name}.in{k}.bin"))
        entry["inputs"].append({"name": iname, "shape": list(value.shape)})
    for k, (o, value) in enumerate(zip(sess.get_outputs(), outputs)):
        np.asarray(value, dtype="<f4").tofile(os.path.join(OUT, f"{name}.out{k}.bin"))
        entry["outputs"].append({"name": o.name, "shape": list(np.asarray(value).shape)})
    manifest[name] = entry
    print(name, [list(v.shape) for v in outputs])


def node_model(name, nodes, inputs, outputs, initializers=(), opset=13):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model) if False else None
    return model.SerializeToString()


def tin(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def rand(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def const(name, value, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def torch_model(name, module, shape, opset=17, dynamic=True):
    module.eval()
    x = torch.from_numpy(rand(*shape))
    path = os.path.join(OUT, name + ".onnx")
    axes = {"x": {2: "h", 3: "w"}, "y": {2: "h", 3: "w"}} if dynamic else None
    torch.onnx.export(module, (x,), path, input_names=["x"], output_names=["y"], opset_version=opset, dynamic_axes=axes, dynamo=False)
    with open(path, "rb") as f:
        data = f.read()
    save(name, data, {"x": x.numpy()})


# --- single operators, node by node ---
x = rand(1, 3, 9, 11)
w = rand(4, 3, 3, 3); b = rand(4)
save("conv_basic", node_model("conv_basic", [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])],
                                [tin("x", [1, 3, 9, 11])], [tin("y", None)], [const("w", w), const("b", b)]), {"x": x})
save("conv_strided_dilated", node_model("c2", [helper.make_node("Conv", ["x", "w"], ["y"], strides=[2, 3], dilations=[2, 1], pads=[2, 0, 1, 2])],
                                         [tin("x", [1, 3, 9, 11])], [tin("y", None)], [const("w", w)]), {"x": x})
wg = rand(6, 2, 3, 3)
save("conv_groups", node_model("c3", [helper.make_node("Conv", ["x", "w"], ["y"], group=2, pads=[1, 1, 1, 1])],
                                [tin("x", [2, 4, 7, 8])], [tin("y", None)], [const("w", wg)]), {"x": rand(2, 4, 7, 8)})
wd = rand(5, 1, 3, 3)
save("conv_depthwise", node_model("c4", [helper.make_node("Conv", ["x", "w", "b"], ["y"], group=5, pads=[1, 1, 1, 1], strides=[2, 2])],
                                   [tin("x", [1, 5, 10, 9])], [tin("y", None)], [const("w", wd), const("b", rand(5))]), {"x": rand(1, 5, 10, 9)})
save("conv_same_upper", node_model("c5", [helper.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])],
                                    [tin("x", [1, 3, 9, 11])], [tin("y", None)], [const("w", rand(2, 3, 4, 4))]), {"x": x})
save("conv_pointwise", node_model("c6", [helper.make_node("Conv", ["x", "w", "b"], ["y"])],
                                   [tin("x", [1, 3, 9, 11])], [tin("y", None)], [const("w", rand(7, 3, 1, 1)), const("b", rand(7))]), {"x": x})
save("conv_transpose", node_model("ct", [helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 0])],
                                   [tin("x", [1, 3, 5, 6])], [tin("y", None)], [const("w", rand(3, 4, 3, 3)), const("b", rand(4))]), {"x": rand(1, 3, 5, 6)})
save("conv_transpose_groups", node_model("ctg", [helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], group=2)],
                                          [tin("x", [1, 4, 5, 6])], [tin("y", None)], [const("w", rand(4, 3, 2, 2))]), {"x": rand(1, 4, 5, 6)})
bn = [const("s", rng.uniform(0.5, 2, 3)), const("bb", rand(3)), const("m", rand(3)), const("v", rng.uniform(0.5, 2, 3))]
save("batchnorm", node_model("bn", [helper.make_node("BatchNormalization", ["x", "s", "bb", "m", "v"], ["y"], epsilon=1e-3)],
                              [tin("x", [2, 3, 4, 5])], [tin("y", None)], bn), {"x": rand(2, 3, 4, 5)})
save("conv_bn_relu_fused", node_model("cbr", [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
                                              helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"]),
                                              helper.make_node("Relu", ["n"], ["y"])],
                                       [tin("x", [1, 3, 9, 11])], [tin("y", None)], [const("w", rand(3, 3, 3, 3))] + bn), {"x": x})
for op, attrs in [("Relu", {}), ("LeakyRelu", {"alpha": 0.2}), ("Sigmoid", {})]:
    save(op.lower(), node_model(op, [helper.make_node(op, ["x"], ["y"], **attrs)], [tin("x", [2, 3, 4, 5])], [tin("y", None)]), {"x": rand(2, 3, 4, 5)})
save("softmax_axis1", node_model("sm", [helper.make_node("Softmax", ["x"], ["y"], axis=1)], [tin("x", [2, 3, 4, 5])], [tin("y", None)]), {"x": rand(2, 3, 4, 5)})
save("softmax_opset11", node_model("sm11", [helper.make_node("Softmax", ["x"], ["y"], axis=1)], [tin("x", [2, 3, 4])], [tin("y", None)], opset=11), {"x": rand(2, 3, 4)})
save("add_broadcast", node_model("add", [helper.make_node("Add", ["x", "c"], ["y"])], [tin("x", [2, 3, 4, 5])], [tin("y", None)], [const("c", rand(3, 1, 1))]), {"x": rand(2, 3, 4, 5)})
save("mul_broadcast", node_model("mul", [helper.make_node("Mul", ["x", "c"], ["y"])], [tin("x", [2, 3, 4, 5])], [tin("y", None)], [const("c", rand(1, 1, 5))]), {"x": rand(2, 3, 4, 5)})
save("concat", node_model("cat", [helper.make_node("Concat", ["x", "c"], ["y"], axis=1)], [tin("x", [1, 2, 3, 4])], [tin("y", None)], [const("c", rand(1, 3, 3, 4))]), {"x": rand(1, 2, 3, 4)})
save("maxpool", node_model("mp", [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])], [tin("x", [1, 2, 9, 10])], [tin("y", None)]), {"x": rand(1, 2, 9, 10)})
save("maxpool_ceil", node_model("mpc", [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)], [tin("x", [1, 2, 9, 11])], [tin("y", None)]), {"x": rand(1, 2, 9, 11)})
save("avgpool", node_model("ap", [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])], [tin("x", [1, 2, 9, 10])], [tin("y", None)]), {"x": rand(1, 2, 9, 10)})
save("avgpool_include_pad", node_model("api", [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1)], [tin("x", [1, 2, 6, 7])], [tin("y", None)]), {"x": rand(1, 2, 6, 7)})
save("globalavgpool", node_model("gap", [helper.make_node("GlobalAveragePool", ["x"], ["y"])], [tin("x", [2, 3, 5, 6])], [tin("y", None)]), {"x": rand(2, 3, 5, 6)})
for ct in ["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"]:
    for mode in ["nearest", "linear"]:
        if mode == "nearest" and ct in ("align_corners", "pytorch_half_pixel"):
            continue
        save(f"resize_{mode}_{ct}", node_model("rs", [helper.make_node("Resize", ["x", "", "sc"], ["y"], mode=mode, coordinate_transformation_mode=ct)],
                                                [tin("x", [1, 2, 5, 7])], [tin("y", None)], [const("sc", [1, 1, 2.0, 3.0])]), {"x": rand(1, 2, 5, 7)})
save("resize_sizes_linear", node_model("rss", [helper.make_node("Resize", ["x", "", "", "sz"], ["y"], mode="linear")],
                                        [tin("x", [1, 2, 5, 7])], [tin("y", None)], [const("sz", [1, 2, 12, 9], np.int64)]), {"x": rand(1, 2, 5, 7)})
for mode in ["constant", "reflect", "edge"]:
    save(f"pad_{mode}", node_model("pad", [helper.make_node("Pad", ["x", "p", "v"], ["y"], mode=mode)], [tin("x", [1, 2, 4, 5])], [tin("y", None)],
                                   [const("p", [0, 0, 1, 2, 0, 0, 2, 1], np.int64), const("v", 0.5)]), {"x": rand(1, 2, 4, 5)})
shape_nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "i"], ["hw"], axis=0),
               helper.make_node("Concat", ["lead", "hw"], ["target"], axis=0), helper.make_node("Reshape", ["x", "target"], ["r"]),
               helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 3, 1]), helper.make_node("Flatten", ["t"], ["f"], axis=2),
               helper.make_node("Unsqueeze", ["f", "ax"], ["u"]), helper.make_node("Slice", ["u", "st", "en", "axs", "stp"], ["y"])]
save("shape_ops", node_model("shp", shape_nodes, [tin("x", [1, 6, 4, 5])], [tin("y", None)],
                             [const("i", [2, 3], np.int64), const("lead", [1, 6], np.int64), const("ax", [0], np.int64),
                              const("st", [0, 1], np.int64), const("en", [100, -1], np.int64), const("axs", [2, 1], np.int64), const("stp", [2, 1], np.int64)]),
     {"x": rand(1, 6, 4, 5)})
save("cast_identity", node_model("ci", [helper.make_node("Cast", ["x"], ["c"], to=TensorProto.FLOAT), helper.make_node("Identity", ["c"], ["y"])],
                                  [tin("x", [2, 3])], [tin("y", None)]), {"x": rand(2, 3)})

# --- whole networks from PyTorch ---
torch.manual_seed(7)
unet = UNet()
for m in unet.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
        m.running_mean.uniform_(-0.2, 0.2); m.running_var.uniform_(0.5, 1.5)
torch_model("unet_small", unet, (1, 1, 512, 512))
deeplab = DeepLabLite()
for m in deeplab.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
        m.running_mean.uniform_(-0.2, 0.2); m.running_var.uniform_(0.5, 1.5)
torch_model("deeplab_lite", deeplab, (1, 1, 512, 512))

with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1, sort_keys=True)
