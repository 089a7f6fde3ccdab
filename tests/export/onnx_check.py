"""onnx_check.py MODEL.onnx DIR: the ONNX export checked by ONNX itself and
run in OpenCV's dnn module on every test image that dump_reference wrote to
DIR; fails unless OpenCV's top class is cnnrun's on every image and every
probability is within 1e-4 of cnnrun's. Run with Debian's /usr/bin/python3
(python3-onnx, python3-opencv, python3-numpy)."""
import sys

import cv2
import numpy as np
import onnx

TOLERANCE = 1e-4


def main(model_path, data_dir):
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    if model.opset_import[0].version != 13:
        sys.exit(f"opset {model.opset_import[0].version}, expected 13")
    ops = {n.op_type for n in model.graph.node}
    for banned in ("Reshape", "Dropout"):
        if banned in ops:
            sys.exit(f"the graph holds a {banned} node")
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    classes = model.graph.output[0].type.tensor_type.shape.dim[1].dim_value
    size = dims[1] * dims[2] * dims[3]
    images = np.fromfile(f"{data_dir}/images.u8", dtype=np.uint8).reshape(-1, *dims[1:])
    ref = np.fromfile(f"{data_dir}/probs.f32", dtype="<f4").reshape(-1, classes)
    assert images.shape[0] == ref.shape[0] and images[0].size == size

    net = cv2.dnn.readNetFromONNX(model_path)
    worst, differ = 0.0, 0
    for i in range(images.shape[0]):
        net.setInput(images[i:i + 1].astype(np.float32))
        probs = net.forward().reshape(-1)
        worst = max(worst, float(np.abs(probs - ref[i]).max()))
        differ += int(np.argmax(probs) != np.argmax(ref[i]))
    print(f"{model_path}: ops {sorted(ops)}; {images.shape[0]} images in OpenCV {cv2.__version__}: "
          f"top class differs on {differ}, largest probability difference {worst:.2e}")
    if differ or worst > TOLERANCE:
        sys.exit("OpenCV's results differ from cnnrun's")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
