// Protobuf wire-format decoding of the Record fields the W&B importer reads (wandb_record.h).
#include "importers/wandb_record.h"

namespace inloop::importers {
namespace {

// One field of a message: number, wire type and value (varint, or bytes for length-delimited).
struct Field {
  uint32_t number = 0;
  int wire = 0;
  uint64_t varint = 0;
  std::string_view bytes;
};

class Wire {
 public:
  explicit Wire(std::string_view s) : s_(s) {}

  // The next field into *f. False at the end (ok() true) or on bad data (ok() false).
  bool Next(Field* f) {
    if (i_ >= s_.size() || !ok_) return false;
    uint64_t tag;
    if (!Varint(&tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1FFFFFFF) return Fail();
    f->number = static_cast<uint32_t>(tag >> 3);
    f->wire = static_cast<int>(tag & 7);
    f->varint = 0;
    f->bytes = {};
    switch (f->wire) {
      case 0:
        return Varint(&f->varint) || Fail();
      case 1:
        return Fixed(8) || Fail();
      case 5:
        return Fixed(4) || Fail();
      case 2: {
        uint64_t len;
        if (!Varint(&len) || len > s_.size() - i_) return Fail();
        f->bytes = s_.substr(i_, static_cast<size_t>(len));
        i_ += static_cast<size_t>(len);
        return true;
      }
      default:
        return Fail();  // groups (3, 4) and 6, 7: not in these messages
    }
  }
  bool ok() const { return ok_; }

 private:
  bool Fail() {
    ok_ = false;
    return false;
  }
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (i_ >= s_.size()) return false;
      auto b = static_cast<unsigned char>(s_[i_++]);
      *v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool Fixed(size_t n) {
    if (n > s_.size() - i_) return false;
    i_ += n;
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
  bool ok_ = true;
};

bool Item(std::string_view msg, WandbItem* item) {
  Wire w(msg);
  Field f;
  while (w.Next(&f)) {
    if (f.wire != 2) continue;
    if (f.number == 1) item->key = f.bytes;
    else if (f.number == 2) item->nested_key.push_back(f.bytes);
    else if (f.number == 16) item->value_json = f.bytes;
  }
  return w.ok();
}

// HistoryRecord (items 1, step 2) and Summary/ConfigRecord (update 1, remove 2).
bool Items(std::string_view msg, bool history, WandbRecord* out) {
  Wire w(msg);
  Field f;
  while (w.Next(&f)) {
    if (f.wire != 2) continue;
    if (f.number == 1) {
      out->items.emplace_back();
      if (!Item(f.bytes, &out->items.back())) return false;
    } else if (f.number == 2 && !history) {
      out->removes.emplace_back();
      if (!Item(f.bytes, &out->removes.back())) return false;
    } else if (f.number == 2 && history) {
      Wire step(f.bytes);
      Field s;
      while (step.Next(&s))
        if (s.number == 1 && s.wire == 0) {
          out->has_step_num = true;
          out->step_num = static_cast<int64_t>(s.varint);
        }
      if (!step.ok()) return false;
    }
  }
  return w.ok();
}

bool Timestamp(std::string_view msg, double* t) {
  Wire w(msg);
  Field f;
  int64_t seconds = 0, nanos = 0;
  while (w.Next(&f)) {
    if (f.wire != 0) continue;
    if (f.number == 1) seconds = static_cast<int64_t>(f.varint);
    if (f.number == 2) nanos = static_cast<int32_t>(static_cast<uint32_t>(f.varint));
  }
  *t = static_cast<double>(seconds) + static_cast<double>(nanos) * 1e-9;
  return w.ok();
}

bool Run(std::string_view msg, WandbRecord* out) {
  Wire w(msg);
  Field f;
  WandbRunInfo& r = out->run;
  while (w.Next(&f)) {
    if (f.wire != 2) continue;
    switch (f.number) {
      case 1: r.run_id = f.bytes; break;
      case 2: r.entity = f.bytes; break;
      case 3: r.project = f.bytes; break;
      case 4:
        if (!Items(f.bytes, false, out)) return false;
        break;
      case 6: r.run_group = f.bytes; break;
      case 7: r.job_type = f.bytes; break;
      case 8: r.display_name = f.bytes; break;
      case 9: r.notes = f.bytes; break;
      case 10: r.tags.push_back(f.bytes); break;
      case 13: r.host = f.bytes; break;
      case 17:
        if (!Timestamp(f.bytes, &r.start_time)) return false;
        r.has_start_time = true;
        break;
      default: break;
    }
  }
  return w.ok();
}

bool Varints(std::string_view msg, WandbRecord* out) {
  Wire w(msg);
  Field f;
  while (w.Next(&f)) {
    if (f.wire != 0) continue;
    int64_t v = static_cast<int32_t>(static_cast<uint32_t>(f.varint));  // int32 fields
    if (f.number == 1) out->exit_code = v;
    if (f.number == 2) out->runtime = v;
  }
  return w.ok();
}

bool Telemetry(std::string_view msg, WandbRecord* out) {
  Wire w(msg);
  Field f;
  while (w.Next(&f)) {
    if (f.wire != 2) continue;
    if (f.number == 4) out->python_version = f.bytes;
    if (f.number == 5) out->cli_version = f.bytes;
  }
  return w.ok();
}

}  // namespace

bool DecodeWandbRecord(std::string_view payload, WandbRecord* out) {
  // Cleared, but the item vectors keep their room: one record after another, no allocation.
  std::vector<WandbItem> items = std::move(out->items), removes = std::move(out->removes);
  items.clear();
  removes.clear();
  *out = WandbRecord{};
  out->items = std::move(items);
  out->removes = std::move(removes);
  Wire w(payload);
  Field f;
  std::string_view body;
  while (w.Next(&f)) {
    if (f.wire != 2) continue;
    switch (f.number) {
      case 2: out->type = WandbRecord::kHistory; break;
      case 3: out->type = WandbRecord::kSummary; break;
      case 5: out->type = WandbRecord::kConfig; break;
      case 11: out->type = WandbRecord::kTelemetry; break;
      case 17: out->type = WandbRecord::kRun; break;
      case 18: out->type = WandbRecord::kExit; break;
      default:
        // The oneof's other members (output, stats, files, header, ...): noted, not read.
        if ((f.number >= 2 && f.number <= 15) || (f.number >= 17 && f.number < 100 &&
                                                  f.number != 19)) {
          out->type = WandbRecord::kOther;
          out->field = static_cast<int>(f.number);
        }
        continue;
    }
    out->field = static_cast<int>(f.number);
    body = f.bytes;
  }
  if (!w.ok()) return false;
  switch (out->type) {
    case WandbRecord::kHistory: return Items(body, true, out);
    case WandbRecord::kSummary:
    case WandbRecord::kConfig: return Items(body, false, out);
    case WandbRecord::kTelemetry: return Telemetry(body, out);
    case WandbRecord::kRun: return Run(body, out);
    case WandbRecord::kExit: return Varints(body, out);
    case WandbRecord::kOther: return true;
  }
  return true;
}

}  // namespace inloop::importers
