#!/usr/bin/python3
"""Tests of maskrcnn_tools.torch_model and maskrcnn_tools.export_torchvision.

Safetensors round trips (F32, F16, alignment, corrupt files), every
architecture's state_dict names and width inference, equivalence with
torchvision's own maskrcnn_resnet50_fpn, batch-norm epsilon folding,
checkpoint export, the metadata written, and the exporter's error messages.
Exit code 77 (skipped) where torch or torchvision cannot be imported.
"""

import contextlib
import io
import json
import os
import struct
import sys
import tempfile
import unittest
from collections import OrderedDict

try:
    import torch
    import torchvision
except ImportError as e:
    print("SKIP: %s" % e)
    sys.exit(77)
print("torch %s, torchvision %s" % (torch.__version__, torchvision.__version__))

from torchvision.ops.misc import FrozenBatchNorm2d  # noqa: E402

from maskrcnn_tools import export_torchvision as X  # noqa: E402
from maskrcnn_tools import torch_model as M  # noqa: E402

DOC_KEYS = ["format", "format_version", "architecture", "num_classes", "labels", "min_size", "max_size",
            "image_mean", "image_std", "box_score_thresh", "box_nms_thresh", "box_detections_per_img",
            "mask_threshold", "rpn_pre_nms_top_n_test", "rpn_post_nms_top_n_test", "rpn_nms_thresh",
            "rpn_score_thresh", "anchor_sizes", "aspect_ratios"]
OPTIONAL_KEYS = ["source", "description", "license"]
NARROW = dict(body_widths=[16, 16, 32, 64, 128], fpn_channels=32, representation_size=64, mask_channels=16)
NARROW_ARGS = ["--random-init", "--arch", "maskrcnn_resnet18_fpn", "--body-widths", "16,16,32,64,128",
               "--fpn-channels", "32", "--representation-size", "64", "--mask-channels", "16",
               "--num-classes", "4", "--min-size", "128", "--max-size", "192", "--quiet"]

torch.set_grad_enabled(False)
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def run_exporter(args):
    """(exit code, stdout, stderr) of the exporter run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = X.main(args)
        except SystemExit as e:  # argparse
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


def randomize(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for k, v in model.state_dict().items():
        if k.endswith("running_var"):
            v.copy_(torch.rand(v.shape, generator=g) + 0.5)
        elif v.is_floating_point():
            v.copy_(torch.randn(v.shape, generator=g) * 0.05)
    return model


class Safetensors(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "t.safetensors")
        g = torch.Generator().manual_seed(1)
        self.tensors = OrderedDict([("a.weight", torch.randn(3, 5, 7, generator=g)),
                                    ("b", torch.randn(1, generator=g)),
                                    ("c.bias", torch.randn(0, generator=g)),
                                    ("d", torch.randn(2, 3, generator=g) * 100)])
        self.md = {"format": "gst-maskrcnn", "x": "[1, 2]"}

    def tearDown(self):
        self.tmp.cleanup()

    def test_f32_round_trip(self):
        M.save_safetensors(self.path, self.tensors, self.md, dtype="F32")
        md, t = M.load_safetensors(self.path)
        self.assertEqual(md, self.md)
        self.assertEqual(list(t), list(self.tensors))
        for k, v in self.tensors.items():
            self.assertTrue(torch.equal(t[k], v), k)
            self.assertEqual(t[k].dtype, torch.float32)

    def test_f16_round_trip(self):
        M.save_safetensors(self.path, self.tensors, self.md, dtype="F16")
        header, _ = M.read_safetensors_header(self.path)
        self.assertTrue(all(v["dtype"] == "F16" for k, v in header.items() if k != "__metadata__"))
        _, t = M.load_safetensors(self.path)
        for k, v in self.tensors.items():
            self.assertTrue(torch.equal(t[k], v.half().float()), k)

    def test_layout(self):
        M.save_safetensors(self.path, self.tensors, self.md)
        with open(self.path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
            data = f.read()
        self.assertEqual((8 + n) % 8, 0, "data must start 8-byte aligned")
        self.assertEqual(header["__metadata__"], self.md)
        end = 0
        for k in self.tensors:  # contiguous, in order, no holes
            b, e = header[k]["data_offsets"]
            self.assertEqual(b, end)
            end = e
        self.assertEqual(end, len(data))

    def test_f16_range(self):
        with self.assertRaises(ValueError):
            M.save_safetensors(self.path, {"x": torch.tensor([1e6])}, {}, dtype="F16")

    def test_corrupt(self):
        M.save_safetensors(self.path, self.tensors, self.md)
        with open(self.path, "rb") as f:
            raw = f.read()
        cases = {
            "short": raw[:5],
            "huge header": struct.pack("<Q", 1 << 40) + raw[8:],
            "truncated data": raw[:-4],
            "bad json": raw[:8] + b"x" + raw[9:],
        }
        for name, blob in cases.items():
            with open(self.path, "wb") as f:
                f.write(blob)
            with self.assertRaises(M.ModelError, msg=name):
                M.load_safetensors(self.path)


class Architectures(unittest.TestCase):
    def test_resnet50_is_torchvision(self):
        from torchvision.models.detection import maskrcnn_resnet50_fpn
        tv = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, min_size=128, max_size=160).eval()
        ours = M.build_model("maskrcnn_resnet50_fpn", 91, min_size=128, max_size=160)
        tv_sd = OrderedDict((k, v) for k, v in tv.state_dict().items() if not k.endswith("num_batches_tracked"))
        self.assertEqual([(k, tuple(v.shape)) for k, v in ours.state_dict().items()],
                         [(k, tuple(v.shape)) for k, v in tv_sd.items()])
        norms = [m for m in ours.modules() if isinstance(m, (FrozenBatchNorm2d, torch.nn.BatchNorm2d))]
        self.assertEqual(len(norms), 53)
        self.assertTrue(all(isinstance(m, FrozenBatchNorm2d) and m.eps == 1e-5 for m in norms))
        # same weights, same answers (torchvision untrained uses BatchNorm2d: equal up to rounding)
        randomize(ours, 3)
        tv.load_state_dict(ours.state_dict(), strict=False)
        x = torch.rand(3, 100, 140, generator=torch.Generator().manual_seed(0))
        a, b = M.run_stages(ours, [x]), M.run_stages(tv, [x])
        for k in a["features"]:
            fa, fb = a["features"][k], b["features"][k]
            self.assertLess(float((fa - fb).abs().max() / fb.abs().max()), 1e-4, k)
        self.assertEqual(repr(ours.rpn), repr(tv.rpn))
        self.assertEqual(repr(ours.roi_heads), repr(tv.roi_heads))
        self.assertEqual(repr(ours.transform), repr(tv.transform))

    def test_resnet50_v2_is_torchvision(self):
        """maskrcnn_resnet50_fpn_v2: the same modules and names as torchvision's, the same answers
        on the same weights, and its widths read back from the shapes."""
        from torchvision.models.detection import maskrcnn_resnet50_fpn_v2
        tv = maskrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, min_size=128, max_size=160).eval()
        ours = M.build_model("maskrcnn_resnet50_fpn_v2", 91, min_size=128, max_size=160)
        self.assertEqual([(k, tuple(v.shape)) for k, v in ours.state_dict().items()],
                         [(k, tuple(v.shape)) for k, v in tv.state_dict().items()])
        for part in ("backbone", "rpn", "roi_heads", "transform"):
            self.assertEqual(repr(getattr(ours, part)), repr(getattr(tv, part)), part)
        randomize(ours, 4)
        M.load_into(tv, ours.state_dict())
        x = torch.rand(3, 100, 140, generator=torch.Generator().manual_seed(0))
        a, b = M.run_stages(ours, [x]), M.run_stages(tv, [x])
        for k in a["features"]:
            self.assertTrue(torch.equal(a["features"][k], b["features"][k]), k)
        cfg = M.config_from_state_dict(M.normalize_state_dict(tv.state_dict()))
        self.assertEqual((cfg["arch"], cfg["box_conv_layers"], cfg["representation_size"], cfg["mask_layers"]),
                         ("maskrcnn_resnet50_fpn_v2", [256] * 4, 1024, [256] * 4))
        with self.assertRaises(M.ModelError):
            M.build_model("maskrcnn_resnet50_fpn", 91, box_conv_layers=[256])

    def test_all_archs_default_widths(self):
        for arch, (kind, blocks) in M.ARCHS.items():
            m = M.build_model(arch, 91)
            cfg = M.config_from_state_dict(m.state_dict())
            self.assertEqual(cfg["arch"], arch)
            self.assertEqual(cfg["body_widths"], list(M.DEFAULT_BODY_WIDTHS[kind]))
            self.assertEqual(cfg["fpn_channels"], 256)
            self.assertEqual(cfg["representation_size"], 1024)
            self.assertEqual(cfg["mask_layers"], [256] * 4)
            self.assertEqual(cfg["num_anchors"], 3)
            names = m.state_dict().keys()
            # v2's BatchNorm2d counts its training steps; the format leaves that out
            self.assertEqual(any(k.endswith("num_batches_tracked") for k in names), M.is_v2(arch))
            for s, n in enumerate(blocks, 1):
                self.assertIn("backbone.body.layer%d.%d.conv1.weight" % (s, n - 1), names)
                self.assertNotIn("backbone.body.layer%d.%d.conv1.weight" % (s, n), names)
            self.assertEqual(kind == "bottleneck", "backbone.body.layer1.0.conv3.weight" in names)

    def test_narrow_widths_inferred(self):
        for arch, (kind, _) in M.ARCHS.items():
            widths = [8, 16, 24, 32, 40] if kind == "basic" else [8, 16, 32, 48, 64]
            m = M.build_model(arch, 5, body_widths=widths, fpn_channels=24, representation_size=48,
                              mask_channels=12, min_size=64, max_size=96)
            cfg = M.config_from_state_dict(m.state_dict())
            self.assertEqual(cfg["body_widths"], widths, arch)
            self.assertEqual((cfg["fpn_channels"], cfg["representation_size"], cfg["mask_layers"],
                              cfg["mask_dim_reduced"], cfg["num_classes"]), (24, 48, [12] * 4, 12, 5), arch)
            again = M.build_model(min_size=64, max_size=96, **{k: v for k, v in cfg.items() if k != "num_anchors"})
            M.load_into(again, m.state_dict())
            out = again([torch.rand(3, 50, 70)])
            self.assertEqual(len(out), 1)

    def test_odd_inner_widths(self):
        """Bottleneck inner widths other than out/4 and basic blocks with conv1 != conv2 load too."""
        for arch in ("maskrcnn_resnet50_fpn", "maskrcnn_resnet18_fpn"):
            blocks = M.ARCHS[arch][1]
            inner = [[5 + b for b in range(n)] for n in blocks]
            m = M.build_model(arch, 3, body_widths=[8, 12, 16, 20, 24], inner_widths=inner, fpn_channels=16,
                              representation_size=16, mask_channels=8)
            cfg = M.config_from_state_dict(m.state_dict())
            self.assertEqual(cfg["inner_widths"], inner)
            cfg.pop("num_anchors")
            M.load_into(M.build_model(**cfg), m.state_dict())

    def test_bad_arch(self):
        with self.assertRaises(M.ModelError):
            M.build_model("maskrcnn_resnet152_fpn", 91)
        with self.assertRaises(M.ModelError):
            M.build_model("maskrcnn_resnet50_fpn", 91, body_widths=[64, 250, 512, 1024, 2048])
        sd = M.build_model("maskrcnn_resnet18_fpn", 3, **NARROW).state_dict()
        del sd["backbone.body.layer3.1.conv1.weight"]
        with self.assertRaises(M.ModelError):
            M.config_from_state_dict(sd)


class Epsilon(unittest.TestCase):
    def test_fold_eps_zero(self):
        m = randomize(M.build_model("maskrcnn_resnet18_fpn", 3, **NARROW), 5)
        sd = m.state_dict()
        for k, v in sd.items():  # small variances: where the epsilon matters
            if k.endswith("running_var"):
                v.mul_(1e-3)
        src = M.build_model("maskrcnn_resnet18_fpn", 3, **NARROW)
        M.load_into(src, sd)
        for mod in src.modules():
            if isinstance(mod, FrozenBatchNorm2d):
                mod.eps = 0.0
        folded, n = X.fold_eps(sd, 0.0)
        self.assertEqual(n, 20)
        dst = M.build_model("maskrcnn_resnet18_fpn", 3, **NARROW)
        M.load_into(dst, folded)
        self.assertTrue(all(torch.equal(sd[k], folded[k]) for k in sd if not k.endswith(".weight")
                            or "bn" not in k and "downsample.1" not in k))
        x = torch.rand(1, 3, 64, 64)
        a, b, c = src.backbone.body(x), dst.backbone.body(x), m.backbone.body(x)
        for k in a:
            self.assertLess(float((a[k] - b[k]).abs().max() / a[k].abs().max()), 1e-5)
        self.assertGreater(max(float((a[k] - c[k]).abs().max() / a[k].abs().max()) for k in a), 1e-3,
                           "the test needs variances small enough for the epsilon to matter")


class Exporter(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def p(self, name):
        return os.path.join(self.dir, name)

    def test_random_init_v2(self):
        """--arch maskrcnn_resnet50_fpn_v2: the architecture in the metadata, and random batch-norm
        statistics in the FPN and every head (what the engine's folding is tested with)."""
        out = self.p("v2.safetensors")
        rc, so, se = run_exporter(["--random-init", "--arch", "maskrcnn_resnet50_fpn_v2", "--body-widths",
                                   "16,16,32,64,128", "--fpn-channels", "32", "--representation-size", "64",
                                   "--mask-channels", "16", "--num-classes", "4", "--min-size", "128",
                                   "--max-size", "192", "--quiet", "--out", out])
        self.assertEqual(rc, 0, se)
        md, sd = M.load_safetensors(out)
        self.assertEqual(md["architecture"], "maskrcnn_resnet50_fpn_v2")
        self.assertFalse(any(k.endswith("num_batches_tracked") for k in sd))
        for prefix in ("backbone.body.layer2.0.bn2", "backbone.fpn.inner_blocks.1.1", "backbone.fpn.layer_blocks.0.1",
                       "roi_heads.box_head.3.1", "roi_heads.mask_head.0.1"):
            self.assertGreater(float(sd[prefix + ".running_mean"].abs().max()), 1e-3, prefix)
            self.assertGreater(float((sd[prefix + ".running_var"] - 1).abs().max()), 1e-3, prefix)
            self.assertLess(float(sd[prefix + ".weight"].min()), 0, prefix)
        self.assertIn("rpn.head.conv.1.0.weight", sd)
        self.assertEqual(tuple(sd["roi_heads.box_head.5.weight"].shape), (64, 32 * 7 * 7))
        model = M.model_from_safetensors(out)
        self.assertEqual(model.arch, "maskrcnn_resnet50_fpn_v2")

    def test_random_init_f16(self):
        out = self.p("m.safetensors")
        rc, so, se = run_exporter(NARROW_ARGS + ["--seed", "3", "--dtype", "f16", "--out", out])
        self.assertEqual(rc, 0, se)
        header, _ = M.read_safetensors_header(out)
        md = header.pop("__metadata__")
        self.assertEqual([k for k in md if k not in OPTIONAL_KEYS], DOC_KEYS)
        self.assertTrue(all(isinstance(v, str) for v in md.values()))
        self.assertEqual(md["format"], "gst-maskrcnn")
        self.assertEqual(md["format_version"], "1")
        self.assertEqual(md["architecture"], "maskrcnn_resnet18_fpn")
        self.assertEqual(json.loads(md["labels"]), ["__background__", "class_1", "class_2", "class_3"])
        self.assertEqual(json.loads(md["num_classes"]), 4)
        self.assertEqual((json.loads(md["min_size"]), json.loads(md["max_size"])), (128, 192))
        self.assertEqual(json.loads(md["image_mean"]), [0.485, 0.456, 0.406])
        self.assertEqual(json.loads(md["image_std"]), [0.229, 0.224, 0.225])
        self.assertEqual(json.loads(md["box_score_thresh"]), 0.05)
        self.assertEqual(json.loads(md["anchor_sizes"]), [32, 64, 128, 256, 512])
        self.assertEqual(json.loads(md["aspect_ratios"]), [0.5, 1.0, 2.0])
        self.assertEqual(json.loads(md["rpn_pre_nms_top_n_test"]), 1000)
        self.assertTrue(all(v["dtype"] == "F16" for v in header.values()))
        self.assertFalse(any("num_batches_tracked" in k for k in header))
        model = M.model_from_safetensors(out)
        self.assertEqual(model.transform.min_size, (128,))
        # random batch-norm statistics, not the identity
        _, sd = M.load_safetensors(out)
        self.assertGreater(float(sd["backbone.body.layer2.0.bn1.running_mean"].abs().max()), 0.0)
        self.assertNotAlmostEqual(float(sd["backbone.body.layer2.0.bn1.running_var"].mean()), 1.0, places=2)
        self.assertTrue(bool((sd["backbone.body.layer3.1.bn2.weight"] < 0).any()))
        # deterministic
        out2 = self.p("m2.safetensors")
        self.assertEqual(run_exporter(NARROW_ARGS + ["--seed", "3", "--dtype", "f16", "--out", out2])[0], 0)
        with open(out, "rb") as f1, open(out2, "rb") as f2:
            self.assertEqual(f1.read(), f2.read())

    def test_checkpoint_state_dict_and_module(self):
        m = randomize(M.build_model("maskrcnn_resnet18_fpn", 3, min_size=96, max_size=128, **NARROW), 9)
        sd = m.state_dict()
        # a BatchNorm2d-style checkpoint carries num_batches_tracked
        sd_bn = OrderedDict(sd)
        sd_bn["backbone.body.bn1.num_batches_tracked"] = torch.tensor(7)
        torch.save(sd_bn, self.p("sd.pth"))
        torch.save({"model": sd, "epoch": 3}, self.p("wrapped.pth"))
        torch.save(m, self.p("module.pth"))
        labels = self.p("labels.txt")
        with open(labels, "w") as f:
            f.write("__background__\ncircle\nsquare\n")
        for ck in ("sd.pth", "wrapped.pth", "module.pth"):
            out = self.p(ck + ".safetensors")
            sizes = [] if ck == "module.pth" else ["--min-size", "100", "--max-size", "128"]
            rc, so, se = run_exporter(["--checkpoint", self.p(ck), "--labels", labels, "--out", out, "--quiet"]
                                      + sizes)
            self.assertEqual(rc, 0, ck + ": " + se)
            md, t = M.load_safetensors(out)
            self.assertEqual(list(t), list(sd), ck)
            self.assertTrue(all(torch.equal(t[k], sd[k]) for k in sd), ck)
            self.assertEqual(json.loads(md["labels"]), ["__background__", "circle", "square"])
            # sizes: the pickled module's own unless given
            self.assertEqual((md["min_size"], md["max_size"]), ("96", "128") if ck == "module.pth" else ("100", "128"))

    def test_checkpoint_eps_zero(self):
        m = randomize(M.build_model("maskrcnn_resnet18_fpn", 3, **NARROW), 11)
        torch.save(m.state_dict(), self.p("sd.pth"))
        out = self.p("m.safetensors")
        rc, _, se = run_exporter(["--checkpoint", self.p("sd.pth"), "--bn-eps", "0", "--out", out, "--quiet",
                                  "--min-size", "96", "--max-size", "128"])
        self.assertEqual(rc, 0, se)
        _, t = M.load_safetensors(out)
        w, rv = m.state_dict()["backbone.body.bn1.weight"], m.state_dict()["backbone.body.bn1.running_var"]
        self.assertTrue(torch.allclose(t["backbone.body.bn1.weight"], w * torch.sqrt((rv + 1e-5) / rv),
                                       rtol=1e-6))

    def test_pretrained_download_failure(self):
        import torchvision.models._api as api

        def no_network(*a, **k):
            raise OSError("network unreachable")
        saved = api.load_state_dict_from_url
        api.load_state_dict_from_url = no_network
        try:
            rc, _, se = run_exporter(["--pretrained", "--out", self.p("coco.safetensors")])
        finally:
            api.load_state_dict_from_url = saved
        self.assertEqual(rc, 1)
        self.assertIn("could not download", se)
        self.assertIn("--checkpoint", se)
        self.assertFalse(os.path.exists(self.p("coco.safetensors")))

    def test_bad_arguments(self):
        out = self.p("x.safetensors")
        labels = self.p("labels.txt")
        with open(labels, "w") as f:
            f.write("a\nb\n")
        ck = self.p("junk.pth")
        with open(ck, "wb") as f:
            f.write(b"not a checkpoint")
        torch.save({"weights": [1, 2, 3]}, self.p("dict.pth"))
        cases = [
            ([], "required"),
            (["--out", out], "one of the arguments"),
            (["--random-init", "--pretrained", "--out", out], "not allowed with"),
            (["--random-init", "--arch", "maskrcnn_resnet152_fpn", "--out", out], "invalid choice"),
            (["--random-init", "--body-widths", "16,16,32", "--out", out], "needs 5 values"),
            (["--random-init", "--body-widths", "16,16,32,64,x", "--out", out], "comma-separated integers"),
            (["--random-init", "--body-widths", "16,0,32,64,128", "--arch", "maskrcnn_resnet18_fpn",
              "--out", out], "must be positive"),
            (["--random-init", "--body-widths", "64,250,512,1024,2048", "--out", out], "multiples of 4"),
            (["--random-init", "--num-classes", "1", "--out", out], "at least 2"),
            (["--random-init", "--min-size", "600", "--max-size", "500", "--out", out], "larger than --max-size"),
            (["--random-init", "--min-size", "0", "--out", out], "positive"),
            (["--random-init", "--score-thresh", "1.5", "--out", out], "--score-thresh"),
            (["--random-init", "--dtype", "f64", "--out", out], "invalid choice"),
            (["--random-init", "--labels", labels, "--num-classes", "5", "--out", out], "has 2 labels"),
            (["--random-init", "--labels", self.p("none.txt"), "--out", out], "does not exist"),
            (["--random-init", "--out", self.p("no/such/dir/x.safetensors")], "does not exist"),
            (["--checkpoint", self.p("missing.pth"), "--out", out], "does not exist"),
            (["--checkpoint", ck, "--body-widths", "1,2,3,4,5", "--out", out], "applies to --random-init only"),
            (["--checkpoint", ck, "--seed", "3", "--out", out], "applies to --random-init only"),
            (["--pretrained", "--arch", "maskrcnn_resnet18_fpn", "--out", out], "maskrcnn_resnet50_fpn and maskrcnn_resnet50_fpn_v2 only"),
            (["--checkpoint", ck, "--bn-eps", "abc", "--out", out], "--bn-eps"),
        ]
        for args, msg in cases:
            rc, so, se = run_exporter(args)
            self.assertEqual(rc, 2, "%s -> %r" % (args, se))
            self.assertIn(msg, se, args)
        model_errors = [
            (["--checkpoint", ck, "--out", out], "cannot read checkpoint"),
            (["--checkpoint", self.p("dict.pth"), "--out", out], "neither a state_dict"),
        ]
        sd = M.build_model("maskrcnn_resnet18_fpn", 3, **NARROW).state_dict()
        torch.save(sd, self.p("r18.pth"))
        model_errors += [
            (["--checkpoint", self.p("r18.pth"), "--arch", "maskrcnn_resnet50_fpn", "--out", out], "is a maskrcnn_resnet18_fpn"),
            (["--checkpoint", self.p("r18.pth"), "--num-classes", "91", "--out", out], "has 3 classes"),
            (["--checkpoint", self.p("r18.pth"), "--labels", labels, "--out", out], "2 labels"),
        ]
        for args, msg in model_errors:
            rc, so, se = run_exporter(args)
            self.assertEqual(rc, 1, "%s -> %r" % (args, se))
            self.assertIn(msg, se, args)
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main(verbosity=2)
