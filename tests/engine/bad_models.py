#!/usr/bin/env python3
"""Writes broken variants of a valid model and runs test-model-errors on them.

usage: bad_models.py TEST_BINARY VALID_MODEL OUTDIR [--v2]

Each variant damages one thing (file, header, metadata or one tensor); the C
test opens it and checks that the engine refuses it with a message naming
the file and the problem. Only bytes are edited here: no torch needed.
With --v2, VALID_MODEL is a maskrcnn_resnet50_fpn_v2 and the variants are
the ones of its own layers (batch norms after the FPN and head
convolutions, the second RPN conv, the 4conv1fc box head)."""
import json
import os
import struct
import subprocess
import sys


def read_model(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    return header, raw[8 + n:]


def write_model(path, header, data, header_len=None):
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", header_len if header_len is not None else len(text)))
        f.write(text)
        f.write(data)


def main():
    binary, valid, out = sys.argv[1:4]
    v2 = "--v2" in sys.argv[4:]
    os.makedirs(out, exist_ok=True)
    header, data = read_model(valid)
    cases = []  # (file, expected substring)

    def variant(name, expect, edit=None, header_len=None, raw=None):
        path = os.path.join(out, name)
        if raw is not None:
            with open(path, "wb") as f:
                f.write(raw)
        else:
            h = json.loads(json.dumps(header))
            d = bytearray(data)
            if edit:
                d = edit(h, d) or d
            write_model(path, h, bytes(d), header_len)
        cases.append((path, expect))

    if v2:
        v2_variants(header, variant)
    else:
        v1_variants(header, data, out, valid, variant, cases)

    manifest = os.path.join(out, "manifest.tsv")
    with open(manifest, "w") as f:
        for path, expect in cases:
            f.write(f"{path}\t{expect}\n")
    r = subprocess.run([binary, valid, manifest])
    sys.exit(r.returncode)


def drop_tensor(name):
    def edit(h, d):
        del h[name]
    return edit


def set_meta(key, value):
    def edit(h, d):
        if value is None:
            del h["__metadata__"][key]
        else:
            h["__metadata__"][key] = value
    return edit


def v2_variants(header, variant):
    arch = "(architecture maskrcnn_resnet50_fpn_v2 needs it"
    variant("v2-missing-fpn-bn.safetensors",
            "tensor 'backbone.fpn.layer_blocks.2.1.running_var' is missing " + arch,
            drop_tensor("backbone.fpn.layer_blocks.2.1.running_var"))
    variant("v2-missing-rpn-conv.safetensors", "tensor 'rpn.head.conv.1.0.weight' is missing " + arch,
            drop_tensor("rpn.head.conv.1.0.weight"))
    variant("v2-missing-box-bn.safetensors", "tensor 'roi_heads.box_head.3.1.bias' is missing " + arch,
            drop_tensor("roi_heads.box_head.3.1.bias"))
    variant("v2-missing-mask-bn.safetensors", "tensor 'roi_heads.mask_head.1.1.weight' is missing " + arch,
            drop_tensor("roi_heads.mask_head.1.1.weight"))

    def fc_shape(h, d):
        t = h["roi_heads.box_head.5.weight"]
        a, b = t["shape"]
        t["shape"] = [a * 7, b // 7]

    variant("v2-box-fc-shape.safetensors", "tensor 'roi_heads.box_head.5.weight' has shape", fc_shape)

    def no_box_convs(h, d):
        for k in list(h):
            if k.startswith("roi_heads.box_head.") and not k.startswith("roi_heads.box_head.5."):
                del h[k]

    variant("v2-no-box-convs.safetensors", "tensor 'roi_heads.box_head.0.0.weight' is missing",
            no_box_convs)
    # a v2 file that claims v1: v1's FPN convolutions have biases
    variant("v2-labelled-v1.safetensors",
            "tensor 'backbone.fpn.inner_blocks.0.0.bias' is missing (architecture maskrcnn_resnet50_fpn",
            set_meta("architecture", "maskrcnn_resnet50_fpn"))


def v1_variants(header, data, out, valid, variant, cases):
    cases.append((os.path.join(out, "does-not-exist.safetensors"), "cannot open"))
    variant("empty.safetensors", "file is empty", raw=b"")
    variant("short.safetensors", "too short", raw=b"\x10\x00\x00")
    with open(valid, "rb") as f:
        whole = f.read()
    variant("truncated.safetensors", "truncated", raw=whole[: len(whole) // 2])
    variant("png.safetensors", "not a safetensors file",
            raw=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    variant("text.safetensors", "not a safetensors file", raw=b"hello world, not a model\n" * 4)
    variant("header-past-end.safetensors", "runs past the end",
            header_len=len(json.dumps(header)) + len(data) + 1000)

    def drop_meta(h, d):
        del h["__metadata__"]

    variant("no-metadata.safetensors", "no __metadata__", drop_meta)
    variant("wrong-format.safetensors", "expected 'gst-maskrcnn'", set_meta("format", "other"))
    variant("unknown-arch.safetensors", "unknown architecture 'maskrcnn_resnet77_fpn'",
            set_meta("architecture", "maskrcnn_resnet77_fpn"))
    variant("labels-count.safetensors", "num_classes", set_meta("labels", json.dumps(["a", "b"])))
    variant("labels-json.safetensors", "not valid JSON", set_meta("labels", "[\"a\", "))
    variant("min-size.safetensors", "min_size", set_meta("min_size", "-3"))
    variant("no-classes.safetensors", "'num_classes' is missing", set_meta("num_classes", None))

    variant("missing-tensor.safetensors", "tensor 'rpn.head.bbox_pred.weight' is missing",
            drop_tensor("rpn.head.bbox_pred.weight"))
    variant("missing-bn.safetensors", "tensor 'backbone.body.layer2.0.bn1.running_var' is missing",
            drop_tensor("backbone.body.layer2.0.bn1.running_var"))

    def set_dtype(h, d):
        h["roi_heads.box_head.fc7.weight"]["dtype"] = "I64"

    variant("wrong-dtype.safetensors", "dtype 'I64'", set_dtype)

    def number_dtype(h, d):   # found by fuzzing: a NULL string reached strcmp
        h["roi_heads.box_head.fc7.weight"]["dtype"] = 1e308
    variant("number-dtype.safetensors", "has a dtype that is not a string", number_dtype)

    def reshape(h, d):
        t = h["roi_heads.box_head.fc7.weight"]
        a, b = t["shape"]
        t["shape"] = [a // 2, b * 2]

    variant("wrong-shape.safetensors", "tensor 'roi_heads.box_head.fc7.weight' has shape", reshape)

    def wrong_bytes(h, d):
        t = h["roi_heads.box_head.fc7.bias"]
        t["data_offsets"][1] -= 4

    variant("wrong-bytes.safetensors", "bytes but its shape and dtype need", wrong_bytes)

    def past_end(h, d):
        t = h["roi_heads.box_head.fc7.bias"]
        size = t["data_offsets"][1] - t["data_offsets"][0]
        t["data_offsets"] = [len(d) + 16, len(d) + 16 + size]

    variant("offsets-past-end.safetensors", "lies past the end of the file", past_end)

    def nan(h, d):
        t = h["backbone.body.layer1.0.conv1.weight"]
        off = t["data_offsets"][0]
        if t["dtype"] == "F32":
            d[off + 4:off + 8] = struct.pack("<f", float("nan"))
        else:
            d[off + 2:off + 4] = b"\x00\x7e"

    variant("nan-weight.safetensors", "non-finite value", nan)

    def inf(h, d):
        t = h["roi_heads.mask_predictor.mask_fcn_logits.bias"]
        off = t["data_offsets"][0]
        if t["dtype"] == "F32":
            d[off:off + 4] = struct.pack("<f", float("inf"))
        else:
            d[off:off + 2] = b"\x00\x7c"

    variant("inf-weight.safetensors", "non-finite value", inf)

    def extra_block(h, d):
        h["backbone.body.layer1.9.conv1.weight"] = dict(h["backbone.body.layer1.0.conv1.weight"])

    variant("extra-block.safetensors",
            "unexpected tensor 'backbone.body.layer1.9.conv1.weight'", extra_block)

    def extra_tensor(h, d):
        h["roi_heads.something_else.weight"] = dict(h["roi_heads.box_head.fc7.bias"])

    variant("extra-tensor.safetensors", "unexpected tensor 'roi_heads.something_else.weight'",
            extra_tensor)

    # json-glib recurses once per nesting level with no limit: these used to
    # overflow the stack (found by tests/fuzz, fuzz-model).
    deep = b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}"
    variant("deep-header.safetensors", "header is not valid JSON: arrays and objects nest",
            raw=struct.pack("<Q", len(deep)) + deep)
    variant("deep-labels.safetensors", "'labels' is not valid JSON (arrays and objects nest",
            set_meta("labels", "[" * 100000 + "]" * 100000))
    commented = json.dumps(header).encode()[:-1] + b"/* { */}"
    variant("comment-header.safetensors", "outside strict JSON",
            raw=struct.pack("<Q", len(commented)) + commented + data)

    def huge_shape(h, d):
        # 2^30 * 16 * 2^30 elements: the running product used to overflow int64.
        h["roi_heads.box_head.fc7.bias"]["shape"] = [1 << 30, 16, 1 << 30]

    variant("huge-shape.safetensors", "implausibly large", huge_shape)


if __name__ == "__main__":
    main()
