// Loading and validating the [remedy] table of inloop.toml (fields in docs/remedy.md).
#include "remedy/remedy_config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include "config/toml_fields.h"

namespace inloop::remedy {
namespace {

const char* const kPlaceholders[] = {"{checkpoint}", "{resume_step}", "{skip_from}",
                                     "{skip_to}",    "{lr_scale}",    "{micro_batch}"};

// Every "{...}" in an argument template must be a known placeholder: a typo would otherwise be
// passed to the training script verbatim.
Status CheckTemplates(std::string_view field, const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    size_t pos = 0;
    while ((pos = a.find('{', pos)) != std::string::npos) {
      size_t end = a.find('}', pos);
      if (end == std::string::npos) {
        return Status::Invalid(fmt::format("remedy.{} has an unclosed '{{' in \"{}\"", field, a));
      }
      std::string_view ph(a.data() + pos, end - pos + 1);
      bool known = false;
      for (const char* k : kPlaceholders) known = known || ph == k;
      if (!known) {
        return Status::Invalid(fmt::format(
            "remedy.{} uses unknown placeholder {} (known: {{checkpoint}}, {{resume_step}}, "
            "{{skip_from}}, {{skip_to}}, {{lr_scale}}, {{micro_batch}})",
            field, ph));
      }
      pos = end + 1;
    }
  }
  return Status::OK();
}

Status Validate(const RemedyConfig& c) {
  if (c.max_restarts < 0) {
    return Status::Invalid(fmt::format("remedy.max_restarts must be >= 0 (got {})", c.max_restarts));
  }
  if (c.backoff_initial_seconds < 0) {
    return Status::Invalid("remedy.backoff_initial_seconds must be >= 0");
  }
  if (c.backoff_max_seconds < c.backoff_initial_seconds) {
    return Status::Invalid("remedy.backoff_max_seconds must be >= backoff_initial_seconds");
  }
  if (!(c.lr_cut_factor > 0 && c.lr_cut_factor < 1)) {
    return Status::Invalid(
        fmt::format("remedy.lr_cut_factor must be in (0, 1) (got {})", c.lr_cut_factor));
  }
  if (c.skip_extra_steps < 0) return Status::Invalid("remedy.skip_extra_steps must be >= 0");
  if (c.same_step_tolerance < 0) return Status::Invalid("remedy.same_step_tolerance must be >= 0");
  for (const std::string& k : c.rollback_on) {
    if (k != "nonfinite" && k != "loss_spike" && k != "divergence" && k != "grad_explosion") {
      return Status::Invalid(fmt::format(
          "remedy.rollback_on lists '{}', which is not a finding kind a rollback can treat "
          "(nonfinite, loss_spike, divergence, grad_explosion)",
          k));
    }
  }
  if (c.stop_grace_seconds < 0) return Status::Invalid("remedy.stop_grace_seconds must be >= 0");
  if (c.spike_patience < 0 || c.spike_patience > 1000) {
    return Status::Invalid(fmt::format("remedy.spike_patience must be in 0..1000 logged points "
                                       "(got {})",
                                       c.spike_patience));
  }
  if (!(c.in_process_timeout_seconds > 0)) {
    return Status::Invalid("remedy.in_process_timeout_seconds must be > 0");
  }
  if (c.checkpoint_settle_seconds < 0) {
    return Status::Invalid("remedy.checkpoint_settle_seconds must be >= 0");
  }
  if (c.micro_batch < 0) return Status::Invalid("remedy.micro_batch must be >= 0 (0: unknown)");
  INLOOP_RETURN_IF_ERROR(CheckTemplates("checkpoint_args", c.checkpoint_args));
  INLOOP_RETURN_IF_ERROR(CheckTemplates("skip_args", c.skip_args));
  INLOOP_RETURN_IF_ERROR(CheckTemplates("lr_scale_args", c.lr_scale_args));
  INLOOP_RETURN_IF_ERROR(CheckTemplates("micro_batch_args", c.micro_batch_args));
  return Status::OK();
}

}  // namespace

std::string_view ModeName(Mode m) {
  switch (m) {
    case Mode::kAuto:
      return "auto";
    case Mode::kAsk:
      return "ask";
    case Mode::kObserve:
      return "observe";
  }
  return "auto";
}

bool ParseMode(std::string_view s, Mode* out) {
  for (Mode m : {Mode::kAuto, Mode::kAsk, Mode::kObserve}) {
    if (s == ModeName(m)) {
      *out = m;
      return true;
    }
  }
  return false;
}

Status LoadRemedyConfig(const toml::table& t, const std::string& path, RemedyConfig* out) {
  RemedyConfig c = *out;
  std::string policy(ModeName(c.mode));
  std::vector<config::TomlField> fields = {
      {"policy", &policy},
      {"max_restarts", &c.max_restarts},
      {"backoff_initial_seconds", &c.backoff_initial_seconds},
      {"backoff_max_seconds", &c.backoff_max_seconds},
      {"lr_cut_factor", &c.lr_cut_factor},
      {"skip_extra_steps", &c.skip_extra_steps},
      {"same_step_tolerance", &c.same_step_tolerance},
      {"rollback_on", &c.rollback_on},
      {"stop_grace_seconds", &c.stop_grace_seconds},
      {"spike_patience", &c.spike_patience},
      {"restart_from_scratch", &c.restart_from_scratch},
      {"in_process", &c.in_process},
      {"in_process_timeout_seconds", &c.in_process_timeout_seconds},
      {"checkpoint_glob", &c.checkpoint_glob},
      {"checkpoint_settle_seconds", &c.checkpoint_settle_seconds},
      {"micro_batch", &c.micro_batch},
      {"micro_batch_params", &c.micro_batch_params},
      {"checkpoint_args", &c.checkpoint_args},
      {"skip_args", &c.skip_args},
      {"lr_scale_args", &c.lr_scale_args},
      {"micro_batch_args", &c.micro_batch_args},
  };
  INLOOP_RETURN_IF_ERROR(config::LoadTomlFields(t, path, "remedy", fields));
  if (!ParseMode(policy, &c.mode)) {
    return config::LocateTomlError(
        Status::Invalid(fmt::format("remedy.policy must be \"auto\", \"ask\" or \"observe\" (got "
                                    "\"{}\")",
                                    policy)),
        t, path, "remedy", fields);
  }
  Status s = Validate(c);
  if (!s.ok()) return config::LocateTomlError(s, t, path, "remedy", fields);
  *out = std::move(c);
  return Status::OK();
}

}  // namespace inloop::remedy
