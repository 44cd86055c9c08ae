# inloop.dataset(name, path) (docs/data.md, "Linked to training"): one "dataset" message with the
# absolute path under inloop, the absolute path returned, and a silent no-op outside it. The data
# index (docs/data.md, "Which records a batch read"): inloop.batch buffers until the next log(),
# RecordIndex maps offsets to records, and charlm's spans are the characters its batches read.
import importlib.util
import os
import random
import sys
import tempfile
import unittest
from array import array

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_sdk import PipeHarness, EnvMixin, fresh_inloop  # noqa: E402


class DatasetTest(PipeHarness):
    def test_sends_one_dataset_message(self):
        p = self.inloop.dataset("train", "out/train.bin")
        self.assertEqual(p, os.path.abspath("out/train.bin"))
        self.assertEqual(self.lines(), [{"t": "dataset", "name": "train", "path": p}])


class BatchTest(PipeHarness):
    def test_buffered_until_log_as_ranges(self):
        self.inloop.dataset("corpus", "c.jsonl")
        self.inloop.batch(1, [5, 3, 4, 9])
        self.inloop.batch(2, [(10, 13), (20, 21)])
        self.inloop.log(2, {"loss": 1.0})
        msgs = self.lines()
        self.assertEqual([m["t"] for m in msgs], ["dataset", "batches", "log"])
        self.assertEqual(msgs[1], {"t": "batches", "dataset": "",
                                   "batches": [[1, [[3, 6], [9, 10]]], [2, [[10, 13], [20, 21]]]]})

    def test_flushes_every_64_indices_and_per_dataset(self):
        for i in range(64):
            self.inloop.batch(i, [i], dataset="a")
        self.inloop.batch(64, [1], dataset="b")
        self.inloop._flush_batches()
        msgs = self.lines()
        self.assertEqual([(m["dataset"], len(m["batches"])) for m in msgs], [("a", 64), ("b", 1)])

    def test_record_index(self):
        with tempfile.NamedTemporaryFile(suffix=".idx", delete=False) as f:
            array("Q", [0, 10, 25, 40]).tofile(f)
        try:
            idx = self.inloop.RecordIndex(f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(idx.records([(0, 10)]), [0])
        self.assertEqual(idx.records([(9, 11), (39, 50)]), [0, 1, 2, 3])
        self.assertEqual(idx.record_of(1000), 3)


class CharlmSpansTest(unittest.TestCase):
    """charlm's text_spans: train positions back to the characters of the text file they are."""

    def charlm(self):
        """examples/charlm/train.py as a module (skips the test without torch)."""
        try:
            import torch  # noqa: F401
        except ImportError:
            self.skipTest("torch is not importable")
        here = os.path.dirname(os.path.abspath(__file__))
        spec = importlib.util.spec_from_file_location(
            "charlm_train", os.path.join(here, "..", "..", "examples", "charlm", "train.py"))
        charlm = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(charlm)
        return charlm

    @staticmethod
    def load_text(charlm, text, *order):
        """charlm.load_text on a temporary file holding `text`."""
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write(text)
        try:
            return charlm.load_text(f.name, *order)
        finally:
            os.unlink(f.name)

    def test_spans_hold_the_trained_characters(self):
        charlm = self.charlm()
        rng = random.Random(3)
        text = "".join(rng.choice("abcdefgh \n") for _ in range(30000))
        chars, train, _ = self.load_text(charlm, text)
        for p in charlm.batch_positions(train, 7, 32, 64, 1337).tolist():
            got = "".join(text[a:b] for a, b in charlm.text_spans(p, 65))
            want = "".join(chars[int(i)] for i in train[p:p + 65])
            self.assertEqual(got, want)
        # Sequential: the training text is the file's first 90%, read batch after batch.
        chars, train, val = self.load_text(charlm, text, "sequential")
        self.assertEqual((len(train), len(val)), (27000, 3000))
        rows = (len(train) - 1) // 64  # whole rows of 64 characters (+1 target)
        b1 = charlm.batch_positions(train, 1, 32, 64, 1337, "sequential").tolist()
        b2 = charlm.batch_positions(train, 2, 32, 64, 1337, "sequential").tolist()
        self.assertEqual(b1, [64 * r for r in range(32)])
        self.assertEqual(b2, [64 * r for r in range(32, 64)])
        wrap = charlm.batch_positions(train, rows // 32 + 1, 32, 64, 1337, "sequential").tolist()
        self.assertEqual(wrap[-1], 64 * ((32 * (rows // 32) + 31) % rows))  # the next epoch
        for p in b2 + wrap:
            got = "".join(text[a:b] for a, b in charlm.text_spans(p, 65, order="sequential"))
            self.assertEqual(got, "".join(chars[int(i)] for i in train[p:p + 65]))

    def test_skipped_indices_compose_like_data_index(self):
        charlm = self.charlm()
        self.assertEqual(charlm.skipped_indices([]), [])
        self.assertEqual(charlm.skipped_indices([(51, 64)]), list(range(51, 64)))
        # The second window is in the steps of the first's timeline: step 70 reads index 83.
        self.assertEqual(charlm.skipped_indices([(51, 64), (70, 72)]),
                         list(range(51, 64)) + [83, 84])


class DatasetOutsideTest(EnvMixin, unittest.TestCase):
    def setUp(self):
        self.save_env()

    def tearDown(self):
        self.restore_env()

    def test_no_op_outside_inloop(self):
        il = fresh_inloop()
        self.assertEqual(il.dataset("train", "x.bin"), os.path.abspath("x.bin"))
        self.assertIn("dataset", il.__all__)


if __name__ == "__main__":
    unittest.main()
