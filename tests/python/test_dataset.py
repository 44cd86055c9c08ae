# inloop.dataset(name, path) (docs/data.md, "Linked to training"): one "dataset" message with the
# absolute path under inloop, the absolute path returned, and a silent no-op outside it.
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_sdk import PipeHarness, EnvMixin, fresh_inloop  # noqa: E402


class DatasetTest(PipeHarness):
    def test_sends_one_dataset_message(self):
        p = self.inloop.dataset("train", "out/train.bin")
        self.assertEqual(p, os.path.abspath("out/train.bin"))
        self.assertEqual(self.lines(), [{"t": "dataset", "name": "train", "path": p}])


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
