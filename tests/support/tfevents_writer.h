// Writing TensorBoard event files for tests and benchmarks, independent of the reader: TFRecord
// framing written here byte by byte, Events built with the generated protobuf classes.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/crc32c.h"
#include "importers/proto/event.pb.h"

namespace inloop::tfevents_testing {

inline void PutLe32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void PutLe64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Appends one TFRecord: length, masked CRC of the length bytes, data, masked CRC of the data.
inline void AppendRecord(std::string* out, std::string_view data) {
  std::string len;
  PutLe64(&len, data.size());
  out->append(len);
  PutLe32(out, crc32c::Mask(crc32c::Value(len)));
  out->append(data);
  PutLe32(out, crc32c::Mask(crc32c::Value(data)));
}

// Appends the framed serialized event; returns the byte offset of its record.
inline size_t AppendEvent(std::string* out, const tensorboard::Event& e) {
  size_t at = out->size();
  AppendRecord(out, e.SerializeAsString());
  return at;
}

inline tensorboard::Event FileVersionEvent(double wall_time) {
  tensorboard::Event e;
  e.set_wall_time(wall_time);
  e.set_file_version("brain.Event:2");
  return e;
}

inline tensorboard::Summary::Value* AddValue(tensorboard::Event* e, const std::string& tag,
                                             const char* plugin = nullptr) {
  tensorboard::Summary::Value* v = e->mutable_summary()->add_value();
  v->set_tag(tag);
  if (plugin != nullptr) v->mutable_metadata()->mutable_plugin_data()->set_plugin_name(plugin);
  return v;
}

inline tensorboard::Event StepEvent(int64_t step, double wall_time) {
  tensorboard::Event e;
  e.set_step(step);
  e.set_wall_time(wall_time);
  return e;
}

// A TF2 image summary ("samples/image": width, height, the encoded bytes `image`) and a 30x3
// histogram tensor ("weights/histogram") at `step`, the plugin names on the first step only, as
// TensorBoard writers do: what an importer must recognise and skip.
inline void AppendMediaEvents(std::string* out, int64_t step, double wall_time,
                              const std::string& image) {
  tensorboard::Event img = StepEvent(step, wall_time);
  auto* it = AddValue(&img, "samples/image", step == 0 ? "images" : nullptr)->mutable_tensor();
  it->set_dtype(tensorboard::DT_STRING);
  it->mutable_tensor_shape()->add_dim()->set_size(3);
  it->add_string_val("64");
  it->add_string_val("64");
  it->add_string_val(image);
  AppendEvent(out, img);
  tensorboard::Event h = StepEvent(step, wall_time);
  auto* ht =
      AddValue(&h, "weights/histogram", step == 0 ? "histograms" : nullptr)->mutable_tensor();
  ht->set_dtype(tensorboard::DT_DOUBLE);
  ht->mutable_tensor_shape()->add_dim()->set_size(30);
  ht->mutable_tensor_shape()->add_dim()->set_size(3);
  ht->set_tensor_content(std::string(30 * 3 * 8, '\x3f'));
  AppendEvent(out, h);
}

// A rank-0 tensor whose value is the raw little-endian bytes of `v` (how TF2 writes scalars).
template <typename T>
void SetRawScalar(tensorboard::TensorProto* t, tensorboard::DataType dtype, T v) {
  t->set_dtype(dtype);
  t->mutable_tensor_shape();
  std::string raw(sizeof v, '\0');
  std::memcpy(raw.data(), &v, sizeof v);
  t->set_tensor_content(raw);
}

}  // namespace inloop::tfevents_testing
