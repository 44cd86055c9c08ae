// The [data] section of inloop.toml: [[data.step]] entries and their [[data.step.validate]]
// tables (docs/data.md), parsed into data::PipelineSpec. Errors name file:line:col and the field.
#pragma once

#include <string>

#include "common/status.h"
#include "data/step_spec.h"

namespace toml {
inline namespace v3 {
class table;
}  // namespace v3
}  // namespace toml

namespace inloop::config {

Status LoadDataSection(const toml::table& data, const std::string& path, data::PipelineSpec* out);

}  // namespace inloop::config
