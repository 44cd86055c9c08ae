"""Builds the audit corpus into DIR: benign checkpoints written by PyTorch and numpy (several
pickle protocols, the zip and the legacy format), and malicious pickles, one per public bypass
pattern. Nothing here is ever unpickled. Prints nothing; the test knows the names.

    /usr/bin/python3 tests/audit/make_corpus.py DIR [--no-torch]
"""
import collections
import io
import os
import pickle
import pickletools
import struct
import sys
import zipfile


def w(path, data):
    with open(path, "wb") as f:
        f.write(data)


def benign(d, with_torch):
    os.makedirs(os.path.join(d, "benign"), exist_ok=True)
    b = lambda n: os.path.join(d, "benign", n)
    state = collections.OrderedDict(step=10, lr=3e-4, name="run", shape=(2, 3), flags={1, 2},
                                    frozen=frozenset({3}), data=b"\x00\x01", blob=bytearray(b"x"),
                                    c=complex(1, 2), s=slice(1, 5))
    for proto in range(0, 6):
        w(b("plain-p%d.pkl" % proto), pickle.dumps(state, protocol=proto))
    try:
        import numpy as np
        arr = np.arange(12, dtype=np.float32).reshape(3, 4)
        for proto in (2, 4, 5):
            w(b("numpy-p%d.pkl" % proto), pickle.dumps({"w": arr, "i": np.int64(3)}, protocol=proto))
        np.save(b("plain.npy"), arr)
    except ImportError:
        pass
    if not with_torch:
        return
    import torch
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 100,
            "rng": torch.get_rng_state(), "half": torch.ones(3, dtype=torch.float16),
            "bf16": torch.zeros(2, dtype=torch.bfloat16), "p": torch.nn.Parameter(torch.ones(2))}
    for proto in (2, 3, 4, 5):
        torch.save(ckpt, b("torch-zip-p%d.pt" % proto), pickle_protocol=proto)
    torch.save(ckpt, b("torch-legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save(model.state_dict(), b("model.bin"))


class Reduce:
    """An object whose pickle calls fn(*args) on load."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def malicious(d):
    os.makedirs(os.path.join(d, "malicious"), exist_ok=True)
    m = lambda n: os.path.join(d, "malicious", n)
    # 1. os.system through GLOBAL + REDUCE, in every protocol.
    for proto in range(0, 6):
        w(m("os-system-p%d.pkl" % proto), pickle.dumps(Reduce(os.system, ("true",)), protocol=proto))
    # 2. builtins.eval / exec / getattr / __import__.
    w(m("eval.pkl"), pickle.dumps(Reduce(eval, ("1+1",)), protocol=2))
    w(m("exec.pkl"), pickle.dumps(Reduce(exec, ("x=1",)), protocol=4))
    w(m("getattr.pkl"), b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x8c\x07getattr\x93\x8c\x02os\x85R.")
    # 3. STACK_GLOBAL whose strings come from the memo (BINPUT / BINGET), not pushed in place.
    w(m("stack-global-memo.pkl"),
      b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93\x8c\x04true\x85R.")
    # 4. STACK_GLOBAL whose module is built at load time (not a string): unresolvable.
    w(m("stack-global-dynamic.pkl"),
      b"\x80\x04\x8c\x08builtins\x8c\x03str\x93\x8c\x02os\x85R\x8c\x06system\x93\x8c\x04true\x85R.")
    # 5. INST and OBJ (protocol 0/1 class calls).
    w(m("inst.pkl"), b"(S'true'\nios\nsystem\n.")
    w(m("obj.pkl"), b"(cos\nsystem\nS'true'\no.")
    # 6. subprocess and a module outside the allowlist (a user class).
    w(m("subprocess.pkl"), pickle.dumps(Reduce(__import__("subprocess").call, (["true"],)), protocol=3))
    w(m("unknown-global.pkl"), b"\x80\x02cmypkg.models\nMyConfig\nq\x00)\x81q\x01.")
    # 7. Extension codes and a protocol newer than the scanner knows.
    w(m("ext1.pkl"), b"\x80\x02\x82\x01)R.")
    w(m("proto9.pkl"), b"\x80\x09N.")
    # 8. A torch-like zip with a second data.pkl, and one whose data.pkl calls os.system.
    evil = pickle.dumps(Reduce(os.system, ("true",)), protocol=2)
    with zipfile.ZipFile(m("zip-two-data-pkl.pt"), "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle.dumps({"ok": 1}, protocol=2))
        z.writestr("archive/version", "3\n")
        z.writestr("other/data.pkl", evil)
    with zipfile.ZipFile(m("zip-evil-data-pkl.pt"), "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", evil)
        z.writestr("archive/version", "3\n")
    with zipfile.ZipFile(m("zip-deflated-evil.zip"), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("model/data.pkl", evil)
    # 9. Wrappers: a zip inside a zip, a 7z file, a gzip file, a tar file.
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("archive/data.pkl", evil)
    with zipfile.ZipFile(m("zip-in-zip.pt"), "w") as z:
        z.writestr("payload.bin", inner.getvalue())
    w(m("wrapped.7z"), b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 64)
    import gzip
    w(m("wrapped.pt.gz"), gzip.compress(evil))
    import tarfile
    with tarfile.open(m("wrapped.tar"), "w") as t:
        info = tarfile.TarInfo("data.pkl")
        info.size = len(evil)
        t.addfile(info, io.BytesIO(evil))
    # 10. An object array in .npy (its data is a pickle).
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += " " * (((len(header) + 11 + 63) // 64) * 64 - len(header) - 11) + "\n"
    w(m("object.npy"), b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
      + evil)
    # 11. A truncated pickle and a damaged safetensors file.
    w(m("truncated.pkl"), evil[: len(evil) // 2])
    hdr = b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,64]}}'
    w(m("bad-offsets.safetensors"), struct.pack("<Q", len(hdr)) + hdr + b"\x00" * 16)
    hdr = b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    w(m("hidden-bytes.safetensors"), struct.pack("<Q", len(hdr)) + hdr + b"\x00" * 8 + evil)


def safetensors_ok(d):
    hdr = b'{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]}}'
    w(os.path.join(d, "benign", "model.safetensors"), struct.pack("<Q", len(hdr)) + hdr + bytes(22))


if __name__ == "__main__":
    out = sys.argv[1]
    with_torch = "--no-torch" not in sys.argv
    benign(out, with_torch)
    safetensors_ok(out)
    malicious(out)
