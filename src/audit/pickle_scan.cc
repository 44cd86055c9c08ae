#include "audit/pickle_scan.h"

#include <cstring>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>

namespace inloop::audit {
namespace {

constexpr size_t kMaxStack = 1 << 20;
constexpr size_t kMaxMemo = 1 << 20;
constexpr size_t kMaxNameBytes = 512;  // longer strings are kept as "a string", not its value

// What the scan knows of a stack item: a short string's value, or nothing.
struct Item {
  bool is_str = false;
  std::string str;  // set when is_str and short
};

class Scanner {
 public:
  Scanner(std::string_view data, const Allowlist& allow) : d_(data), allow_(allow) {}

  PickleScan Run() {
    while (!done_ && pos_ < d_.size()) {
      op_at_ = pos_;
      uint8_t op = static_cast<uint8_t>(d_[pos_++]);
      if (!Step(op)) break;
    }
    if (!done_ && !failed_) Fail("pickle.truncated", "the pickle ends before STOP");
    out_.end = pos_;
    out_.complete = done_;
    return std::move(out_);
  }

 private:
  void Fail(std::string rule, std::string msg) {
    failed_ = true;
    Finding f;
    f.rule = std::move(rule);
    f.severity = Severity::kHigh;
    f.message = std::move(msg);
    f.fix = "do not load this file; it is not a pickle torch.save or pickle.dump of plain data "
            "writes (re-save it from a trusted source, or as safetensors)";
    f.offset = static_cast<int64_t>(op_at_);
    out_.findings.push_back(std::move(f));
  }

  bool Need(size_t n) {
    if (d_.size() - pos_ >= n) return true;
    Fail("pickle.truncated", "the pickle ends inside an opcode's argument");
    return false;
  }
  uint64_t Le(size_t n) {  // REQUIRES: Need(n)
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t(static_cast<uint8_t>(d_[pos_ + i])) << (8 * i);
    pos_ += n;
    return v;
  }
  std::optional<std::string_view> Line() {
    size_t nl = d_.find('\n', pos_);
    if (nl == std::string_view::npos) {
      Fail("pickle.truncated", "a text argument has no end of line");
      return std::nullopt;
    }
    std::string_view s = d_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    return s;
  }
  bool Skip(uint64_t n) {
    if (n > d_.size() - pos_) {
      Fail("pickle.truncated", "a length runs past the end of the data");
      return false;
    }
    pos_ += n;
    return true;
  }
  bool PushStr(uint64_t n) {  // a counted string of n bytes at pos_
    if (n > d_.size() - pos_) {
      Fail("pickle.truncated", "a string runs past the end of the data");
      return false;
    }
    Item it;
    it.is_str = true;
    if (n <= kMaxNameBytes) it.str.assign(d_.substr(pos_, n));
    pos_ += n;
    return Push(std::move(it));
  }
  bool Push(Item it = {}) {
    if (stack_.size() >= kMaxStack) {
      Fail("pickle.too_large", "the pickle's stack grows past the scan's bound");
      return false;
    }
    stack_.push_back(std::move(it));
    return true;
  }
  bool Pop(size_t n) {
    size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() - floor < n) {
      Fail("pickle.malformed", "an opcode takes more items than the stack holds");
      return false;
    }
    stack_.resize(stack_.size() - n);
    return true;
  }
  bool PopMark() {
    if (marks_.empty()) {
      Fail("pickle.malformed", "an opcode needs a MARK that is not there");
      return false;
    }
    stack_.resize(marks_.back());
    marks_.pop_back();
    return true;
  }
  bool Memo(uint64_t idx) {
    if (stack_.empty()) {
      Fail("pickle.malformed", "memoizing from an empty stack");
      return false;
    }
    if (memo_.size() >= kMaxMemo && !memo_.count(idx)) {
      Fail("pickle.too_large", "the pickle's memo grows past the scan's bound");
      return false;
    }
    memo_[idx] = stack_.back();
    return true;
  }
  bool Get(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) {
      Fail("pickle.malformed", fmt::format("memo entry {} is read before it is written", idx));
      return false;
    }
    return Push(it->second);
  }
  bool Global(std::string_view module, std::string_view name) {
    PickleGlobal g;
    g.module.assign(module);
    g.name.assign(name);
    g.offset = static_cast<int64_t>(op_at_);
    g.cls = allow_.Classify(module, name);
    if (g.cls != GlobalClass::kAllowed) {
      Finding f;
      f.offset = g.offset;
      if (g.cls == GlobalClass::kDangerous) {
        f.rule = "pickle.global.dangerous";
        f.severity = Severity::kCritical;
        f.message = fmt::format("the pickle calls {}.{}: loading it runs code", module, name);
        f.fix = "do not load this file; it was built to run code when unpickled";
      } else {
        f.rule = "pickle.global.unknown";
        f.severity = Severity::kHigh;
        f.message = fmt::format("the pickle names {}.{}, which is not on the allowlist", module,
                                name);
        f.fix = fmt::format("load it with torch.load(weights_only=True) or re-save the tensors "
                            "as safetensors; if you trust {}.{}, pass --allow {}.{}",
                            module, name, module, name);
      }
      out_.findings.push_back(std::move(f));
    }
    out_.globals.push_back(std::move(g));
    return Push();
  }
  bool TwoLineGlobal(bool inst) {
    auto module = Line();
    if (!module) return false;
    auto name = Line();
    if (!name) return false;
    if (inst && !PopMark()) return false;  // INST: class args after the mark
    return Global(*module, *name);
  }
  bool StackGlobal() {
    size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() - floor < 2) {
      Fail("pickle.malformed", "STACK_GLOBAL needs two items");
      return false;
    }
    const Item& m = stack_[stack_.size() - 2];
    const Item& n = stack_[stack_.size() - 1];
    if (!m.is_str || !n.is_str || m.str.empty() || n.str.empty()) {
      Fail("pickle.global.unresolved",
           "STACK_GLOBAL names a global the scan cannot read (not a short string pushed or "
           "memoized directly): fails closed");
      return false;
    }
    std::string module = m.str, name = n.str;
    stack_.resize(stack_.size() - 2);
    return Global(module, name);
  }
  bool Ext(size_t n) {
    if (!Need(n)) return false;
    uint64_t code = Le(n);
    Finding f;
    f.rule = "pickle.ext";
    f.severity = Severity::kHigh;
    f.offset = static_cast<int64_t>(op_at_);
    f.message = fmt::format("the pickle names a global through extension code {} (copyreg's "
                            "registry), which the scan cannot check", code);
    f.fix = "do not load this file; torch.save and plain pickles never use extension codes";
    out_.findings.push_back(std::move(f));
    return Push();
  }

  bool Step(uint8_t op);

  std::string_view d_;
  const Allowlist& allow_;
  size_t pos_ = 0, op_at_ = 0;
  bool done_ = false;
  bool failed_ = false;  // the scan stopped at a damaged or unreadable opcode
  std::vector<Item> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Item> memo_;
  PickleScan out_;
};

bool Scanner::Step(uint8_t op) {
  switch (op) {
    case '(': marks_.push_back(stack_.size()); return true;                       // MARK
    case '.': done_ = true; return true;                                          // STOP
    case '0': return Pop(1);                                                      // POP
    case '1': return PopMark();                                                   // POP_MARK
    case '2':                                                                     // DUP
      if (stack_.empty()) { Fail("pickle.malformed", "DUP of an empty stack"); return false; }
      return Push(stack_.back());
    case 'F': case 'I': case 'L':                                                 // FLOAT INT LONG
      return Line() && Push();
    case 'J': return Need(4) && Skip(4) && Push();                                // BININT
    case 'K': return Need(1) && Skip(1) && Push();                                // BININT1
    case 'M': return Need(2) && Skip(2) && Push();                                // BININT2
    case 'N': case 0x88: case 0x89: return Push();                                // NONE TRUE FALSE
    case 'P': {                                                                   // PERSID
      auto l = Line();
      return l && Push();
    }
    case 'Q': return Pop(1) && Push();                                            // BINPERSID
    case 'R': return Pop(2) && Push();                                            // REDUCE
    case 'S': {                                                                   // STRING
      auto l = Line();
      if (!l) return false;
      Item it;
      it.is_str = true;
      std::string_view s = *l;
      if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"') && s.back() == s.front()) {
        s = s.substr(1, s.size() - 2);
      }
      if (s.size() <= kMaxNameBytes && s.find('\\') == std::string_view::npos) it.str.assign(s);
      return Push(std::move(it));
    }
    case 'V': {                                                                   // UNICODE
      auto l = Line();
      if (!l) return false;
      Item it;
      it.is_str = true;
      if (l->size() <= kMaxNameBytes && l->find('\\') == std::string_view::npos) it.str.assign(*l);
      return Push(std::move(it));
    }
    case 'T': return Need(4) && PushStr(Le(4));                                   // BINSTRING
    case 'U': return Need(1) && PushStr(Le(1));                                   // SHORT_BINSTRING
    case 'X': return Need(4) && PushStr(Le(4));                                   // BINUNICODE
    case 0x8c: return Need(1) && PushStr(Le(1));                                  // SHORT_BINUNICODE
    case 0x8d: return Need(8) && PushStr(Le(8));                                  // BINUNICODE8
    case 'B': return Need(4) && Skip(Le(4)) && Push();                            // BINBYTES
    case 'C': return Need(1) && Skip(Le(1)) && Push();                            // SHORT_BINBYTES
    case 0x8e: return Need(8) && Skip(Le(8)) && Push();                           // BINBYTES8
    case 0x96: return Need(8) && Skip(Le(8)) && Push();                           // BYTEARRAY8
    case 'G': return Need(8) && Skip(8) && Push();                                // BINFLOAT
    case 0x8a: return Need(1) && Skip(Le(1)) && Push();                           // LONG1
    case 0x8b: return Need(4) && Skip(Le(4)) && Push();                           // LONG4
    case 'a': return Pop(1);                                                      // APPEND
    case 'b': return Pop(1);                                                      // BUILD
    case 'c': return TwoLineGlobal(false);                                        // GLOBAL
    case 'i': return TwoLineGlobal(true);                                         // INST
    case 0x93: return StackGlobal();                                              // STACK_GLOBAL
    case 'd': case 'l': case 't': case 0x91:                                      // DICT LIST TUPLE FROZENSET
      return PopMark() && Push();
    case 'o': return PopMark() && Push();                                         // OBJ
    case 'e': case 'u': case 0x90: return PopMark();                              // APPENDS SETITEMS ADDITEMS
    case '}': case ']': case ')': case 0x8f: return Push();                       // EMPTY_*
    case 's': return Pop(2);                                                      // SETITEM
    case 0x85: return Pop(1) && Push();                                           // TUPLE1
    case 0x86: return Pop(2) && Push();                                           // TUPLE2
    case 0x87: return Pop(3) && Push();                                           // TUPLE3
    case 0x81: return Pop(2) && Push();                                           // NEWOBJ
    case 0x92: return Pop(3) && Push();                                           // NEWOBJ_EX
    case 'g': {                                                                   // GET
      auto l = Line();
      if (!l) return false;
      uint64_t idx = 0;
      for (char c : *l) idx = idx * 10 + static_cast<uint64_t>(c >= '0' && c <= '9' ? c - '0' : 0);
      return Get(idx);
    }
    case 'h': return Need(1) && Get(Le(1));                                       // BINGET
    case 'j': return Need(4) && Get(Le(4));                                       // LONG_BINGET
    case 'p': {                                                                   // PUT
      auto l = Line();
      if (!l) return false;
      uint64_t idx = 0;
      for (char c : *l) idx = idx * 10 + static_cast<uint64_t>(c >= '0' && c <= '9' ? c - '0' : 0);
      return Memo(idx);
    }
    case 'q': return Need(1) && Memo(Le(1));                                      // BINPUT
    case 'r': return Need(4) && Memo(Le(4));                                      // LONG_BINPUT
    case 0x94: return Memo(memo_.size());                                         // MEMOIZE
    case 0x80: {                                                                  // PROTO
      if (!Need(1)) return false;
      out_.protocol = static_cast<int>(Le(1));
      if (out_.protocol > 5) {
        Fail("pickle.protocol", fmt::format("pickle protocol {} is newer than 5", out_.protocol));
        return false;
      }
      return true;
    }
    case 0x95: return Need(8) && Skip(8);                                         // FRAME
    case 0x82: return Ext(1);                                                     // EXT1
    case 0x83: return Ext(2);                                                     // EXT2
    case 0x84: return Ext(4);                                                     // EXT4
    case 0x97: return Push();                                                     // NEXT_BUFFER
    case 0x98: return true;                                                       // READONLY_BUFFER
    default:
      Fail("pickle.opcode", fmt::format("unknown opcode 0x{:02x}", op));
      return false;
  }
}

}  // namespace

PickleScan ScanPickle(std::string_view data, const Allowlist& allow) {
  return Scanner(data, allow).Run();
}

bool LooksLikePickle(std::string_view data) {
  if (data.size() < 2) return false;
  uint8_t b0 = static_cast<uint8_t>(data[0]);
  if (b0 == 0x80) return true;  // PROTO; a protocol past 5 is the scan's finding
  // Protocol 0/1 top-level objects start with one of these.
  return std::strchr("(}]cdl)NIFLSVXKJMU", data[0]) != nullptr && data[0] != '\0';
}

}  // namespace inloop::audit
