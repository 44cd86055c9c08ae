#include "audit/allowlist.h"

#include <array>
#include <string>

namespace inloop::audit {
namespace {

struct Name {
  std::string_view module, name;  // name "*": every name of the module
};

// What torch.save, numpy and plain-data pickles need (close to torch's weights_only set).
constexpr std::array kAllowed = {
    Name{"collections", "OrderedDict"}, Name{"collections", "defaultdict"},
    Name{"collections", "Counter"}, Name{"collections", "deque"},
    Name{"builtins", "set"}, Name{"builtins", "frozenset"}, Name{"builtins", "slice"},
    Name{"builtins", "range"}, Name{"builtins", "complex"}, Name{"builtins", "bytearray"},
    Name{"builtins", "bytes"}, Name{"builtins", "dict"}, Name{"builtins", "list"},
    Name{"builtins", "tuple"}, Name{"builtins", "int"}, Name{"builtins", "float"},
    Name{"builtins", "bool"}, Name{"builtins", "str"}, Name{"builtins", "object"},
    Name{"copyreg", "_reconstructor"},
    Name{"_codecs", "encode"},
    Name{"torch._utils", "_rebuild_tensor"}, Name{"torch._utils", "_rebuild_tensor_v2"},
    Name{"torch._utils", "_rebuild_tensor_v3"}, Name{"torch._utils", "_rebuild_parameter"},
    Name{"torch._utils", "_rebuild_parameter_with_state"},
    Name{"torch._utils", "_rebuild_sparse_tensor"}, Name{"torch._utils", "_rebuild_nested_tensor"},
    Name{"torch._utils", "_rebuild_device_tensor_from_numpy"},
    Name{"torch._utils", "_rebuild_qtensor"}, Name{"torch._utils", "_rebuild_meta_tensor_no_storage"},
    Name{"torch._utils", "_rebuild_wrapper_subclass"},
    Name{"torch._tensor", "_rebuild_from_type"}, Name{"torch._tensor", "_rebuild_from_type_v2"},
    Name{"torch.nn.parameter", "Parameter"}, Name{"torch.serialization", "_get_layout"},
    Name{"torch", "Size"}, Name{"torch", "device"}, Name{"torch", "Tensor"},
    Name{"torch", "strided"}, Name{"torch", "sparse_coo"}, Name{"torch", "sparse_csr"},
    Name{"torch", "contiguous_format"}, Name{"torch", "channels_last"},
    Name{"torch", "preserve_format"},
    Name{"torch", "float32"}, Name{"torch", "float64"}, Name{"torch", "float16"},
    Name{"torch", "bfloat16"}, Name{"torch", "int64"}, Name{"torch", "int32"},
    Name{"torch", "int16"}, Name{"torch", "int8"}, Name{"torch", "uint8"}, Name{"torch", "bool"},
    Name{"torch", "complex64"}, Name{"torch", "complex128"}, Name{"torch", "float8_e4m3fn"},
    Name{"torch", "float8_e5m2"},
    Name{"torch", "FloatStorage"}, Name{"torch", "DoubleStorage"}, Name{"torch", "HalfStorage"},
    Name{"torch", "BFloat16Storage"}, Name{"torch", "LongStorage"}, Name{"torch", "IntStorage"},
    Name{"torch", "ShortStorage"}, Name{"torch", "CharStorage"}, Name{"torch", "ByteStorage"},
    Name{"torch", "BoolStorage"}, Name{"torch", "ComplexFloatStorage"},
    Name{"torch", "ComplexDoubleStorage"}, Name{"torch", "QInt8Storage"},
    Name{"torch", "QUInt8Storage"}, Name{"torch", "QInt32Storage"},
    Name{"torch", "UntypedStorage"}, Name{"torch.storage", "UntypedStorage"},
    Name{"torch.storage", "TypedStorage"},
    Name{"numpy.core.multiarray", "_reconstruct"}, Name{"numpy.core.multiarray", "scalar"},
    Name{"numpy._core.multiarray", "_reconstruct"}, Name{"numpy._core.multiarray", "scalar"},
    Name{"numpy.core.numeric", "_frombuffer"}, Name{"numpy._core.numeric", "_frombuffer"},
    Name{"numpy", "ndarray"}, Name{"numpy", "dtype"}, Name{"numpy.dtypes", "*"},
    Name{"argparse", "Namespace"},
    Name{"datetime", "datetime"}, Name{"datetime", "date"}, Name{"datetime", "time"},
    Name{"datetime", "timedelta"}, Name{"datetime", "timezone"},
    Name{"pathlib", "PosixPath"}, Name{"pathlib", "PurePosixPath"},
    Name{"pathlib", "WindowsPath"}, Name{"pathlib", "PureWindowsPath"},
};

// Modules and names known to run code, read files or reach the network: never allowed (even a
// user's "module.*" does not allow these), and reported as critical.
constexpr std::array kDangerousModules = {
    std::string_view("os"), std::string_view("posix"), std::string_view("nt"),
    std::string_view("subprocess"), std::string_view("sys"), std::string_view("socket"),
    std::string_view("shutil"), std::string_view("runpy"), std::string_view("importlib"),
    std::string_view("pickle"), std::string_view("_pickle"), std::string_view("cPickle"),
    std::string_view("marshal"), std::string_view("ctypes"), std::string_view("code"),
    std::string_view("pty"), std::string_view("commands"), std::string_view("webbrowser"),
    std::string_view("requests"), std::string_view("urllib"), std::string_view("urllib2"),
    std::string_view("http"), std::string_view("httplib"), std::string_view("asyncio"),
    std::string_view("multiprocessing"), std::string_view("threading"),
    std::string_view("platform"), std::string_view("pdb"), std::string_view("timeit"),
    std::string_view("operator"), std::string_view("functools"), std::string_view("types"),
    std::string_view("torch.hub"), std::string_view("torch.jit"),
};
constexpr std::array kDangerousBuiltins = {
    std::string_view("eval"), std::string_view("exec"), std::string_view("compile"),
    std::string_view("open"), std::string_view("getattr"), std::string_view("setattr"),
    std::string_view("delattr"), std::string_view("__import__"), std::string_view("apply"),
    std::string_view("execfile"), std::string_view("input"), std::string_view("globals"),
    std::string_view("locals"), std::string_view("vars"), std::string_view("breakpoint"),
};

bool ModuleIs(std::string_view module, std::string_view base) {
  return module == base ||
         (module.size() > base.size() && module.substr(0, base.size()) == base &&
          module[base.size()] == '.');
}

bool Dangerous(std::string_view module, std::string_view name) {
  for (std::string_view m : kDangerousModules) {
    if (ModuleIs(module, m)) return true;
  }
  if (module == "builtins") {
    for (std::string_view b : kDangerousBuiltins) {
      if (name == b) return true;
    }
  }
  // torch.load of nested bytes, numpy.load, ...: a loader inside a pickle unpickles again.
  if ((module == "torch.storage" && name == "_load_from_bytes") ||
      (ModuleIs(module, "numpy") && (name == "load" || name == "loads"))) {
    return true;
  }
  return false;
}

}  // namespace

GlobalClass Allowlist::Classify(std::string_view module, std::string_view name) const {
  // Protocols 0-2 write Python 2's names for these modules.
  if (module == "__builtin__") module = "builtins";
  if (module == "copy_reg") module = "copyreg";
  if (Dangerous(module, name)) return GlobalClass::kDangerous;
  for (const Name& a : kAllowed) {
    if (a.module == module && (a.name == name || a.name == "*")) return GlobalClass::kAllowed;
  }
  for (const std::string& e : extra) {
    size_t dot = e.rfind('.');
    if (dot == std::string::npos) continue;
    std::string_view m(e.data(), dot), n(e.data() + dot + 1, e.size() - dot - 1);
    if (m == module && (n == name || n == "*")) return GlobalClass::kAllowed;
  }
  return GlobalClass::kUnknown;
}

}  // namespace inloop::audit
