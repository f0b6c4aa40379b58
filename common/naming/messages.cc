// Validation of whole messages (Sample, SampleBatch, LogEvent, Alert, Envelope): the names are
// checked by naming.cc's rules; this file adds the message-level rules (required fields, counts,
// the endpoint of a body against its source).
#include <cmath>
#include <string>

#include "common/naming/naming.h"
#include "common/naming/naming_detail.h"

namespace hw::naming {
namespace {

using namespace detail;
using hostwatch::v1::Alert;
using hostwatch::v1::AlertBatch;
using hostwatch::v1::Envelope;
using hostwatch::v1::EventBatch;
using hostwatch::v1::LogEvent;
using hostwatch::v1::Sample;
using hostwatch::v1::SampleBatch;

Status CheckTagMap(std::string_view field, const TagMap& tags) {
  if (tags.size() > kMaxTags) {
    return Status::InvalidArgument(std::string(field) + ": " + std::to_string(tags.size()) +
                                   " tags, at most " + std::to_string(kMaxTags));
  }
  for (const auto& [key, value] : tags) {
    if (auto why = TagKeyProblem(key); !why.empty()) {
      return Invalid(std::string(field) + " key", key, why);
    }
    if (auto why = TagValueProblem(value); !why.empty()) {
      return Invalid(std::string(field) + "[" + Quote(key) + "]", value, why);
    }
  }
  return Status::Ok();
}

Status CheckTimeMs(int64_t time_ms) {
  if (time_ms <= 0) {
    return InvalidNumber("time_ms", std::to_string(time_ms),
                         "must be > 0 (unix epoch milliseconds)");
  }
  return Status::Ok();
}

Status CheckFinite(std::string_view field, double v) {
  if (std::isfinite(v)) return Status::Ok();
  return InvalidNumber(field, std::isnan(v) ? "NaN" : (v > 0 ? "+inf" : "-inf"), "not finite");
}

Status CheckUtf8Text(std::string_view field, std::string_view v) {
  if (auto why = Utf8Problem(v); !why.empty()) return Invalid(field, v, why);
  return Status::Ok();
}

Status CheckRequiredText(std::string_view field, std::string_view v) {
  if (v.empty()) return Invalid(field, v, "empty");
  return CheckUtf8Text(field, v);
}

Status CheckSeverity(hostwatch::v1::Severity severity, bool required) {
  if (!hostwatch::v1::Severity_IsValid(severity)) {
    return InvalidNumber("severity", std::to_string(severity), "unknown value");
  }
  if (required && severity == hostwatch::v1::SEVERITY_UNSPECIFIED) {
    return InvalidNumber("severity", "SEVERITY_UNSPECIFIED", "must be set");
  }
  return Status::Ok();
}

Status CheckFields(const TagMap& fields) {
  if (fields.size() > kMaxFields) {
    return Status::InvalidArgument("fields: " + std::to_string(fields.size()) +
                                   " fields, at most " + std::to_string(kMaxFields));
  }
  for (const auto& [key, value] : fields) {
    if (auto why = TagKeyProblem(key); !why.empty()) return Invalid("fields key", key, why);
    std::string why;
    if (value.size() > kMaxFieldValueBytes) {
      why = "longer than " + std::to_string(kMaxFieldValueBytes) + " bytes";
    } else {
      why = Utf8Problem(value);
    }
    if (!why.empty()) return Invalid("fields[" + Quote(key) + "]", value, why);
  }
  return Status::Ok();
}

// The body of an envelope must come from the host its source names.
Status CheckBatchEndpoint(std::string_view body, std::string_view batch_endpoint,
                          std::string_view source) {
  const std::string_view source_endpoint = SourceEndpoint(source);
  if (batch_endpoint == source_endpoint) return Status::Ok();
  return Invalid(std::string(body) + ".endpoint", batch_endpoint,
                 "differs from the endpoint of source " + Quote(source));
}

}  // namespace

Status ValidateValue(double v) { return CheckFinite("value", v); }

Status ValidateTags(const TagMap& tags) { return CheckTagMap("tags", tags); }

Status ValidateSample(const Sample& s) {
  HW_RETURN_IF_ERROR(ValidateMetric(s.metric()));
  HW_RETURN_IF_ERROR(CheckTagMap("tags", s.tags()));
  HW_RETURN_IF_ERROR(CheckFinite("value", s.value()));
  HW_RETURN_IF_ERROR(CheckTimeMs(s.time_ms()));
  if (!Sample::Kind_IsValid(s.kind())) {
    return InvalidNumber("kind", std::to_string(s.kind()), "unknown value");
  }
  return Status::Ok();
}

Status ValidateSampleParts(std::string_view metric, std::span<const TagView> tags, double value,
                           int64_t time_ms) {
  HW_RETURN_IF_ERROR(ValidateMetric(metric));
  if (tags.size() > kMaxTags) {
    return Status::InvalidArgument("tags: " + std::to_string(tags.size()) + " tags, at most " +
                                   std::to_string(kMaxTags));
  }
  for (size_t i = 0; i < tags.size(); ++i) {
    const auto& [key, v] = tags[i];
    if (auto why = TagKeyProblem(key); !why.empty()) return Invalid("tags key", key, why);
    if (auto why = TagValueProblem(v); !why.empty()) {
      return Invalid("tags[" + Quote(key) + "]", v, why);
    }
    for (size_t j = 0; j < i; ++j) {
      if (tags[j].first == key) return Invalid("tags key", key, "given twice");
    }
  }
  HW_RETURN_IF_ERROR(CheckFinite("value", value));
  return CheckTimeMs(time_ms);
}

Status ValidateSampleBatch(const SampleBatch& b) {
  HW_RETURN_IF_ERROR(ValidateEndpoint(b.endpoint()));
  HW_RETURN_IF_ERROR(CheckTagMap("host_tags", b.host_tags()));
  for (int i = 0; i < b.samples_size(); ++i) {
    if (Status st = ValidateSample(b.samples(i)); !st.ok()) return Nest(Indexed("samples", i), st);
  }
  return Status::Ok();
}

Status ValidateLogEvent(const LogEvent& e) {
  if (e.path().empty()) return Invalid("path", e.path(), "empty");
  if (e.path().size() > kMaxPathBytes) {
    return Invalid("path", e.path(), "longer than " + std::to_string(kMaxPathBytes) + " bytes");
  }
  if (size_t nul = e.path().find('\0'); nul != std::string::npos) {
    return Invalid("path", e.path(), "NUL byte" + At(nul));
  }
  HW_RETURN_IF_ERROR(CheckUtf8Text("path", e.path()));
  if (auto why = LengthProblem(e.rule(), kMaxRuleBytes); !why.empty()) {
    return Invalid("rule", e.rule(), why);
  }
  if (auto why = NameCharProblem(e.rule()); !why.empty()) {
    return Invalid("rule", e.rule(), why);
  }
  HW_RETURN_IF_ERROR(CheckSeverity(e.severity(), /*required=*/true));
  HW_RETURN_IF_ERROR(CheckFields(e.fields()));
  return CheckTimeMs(e.time_ms());
}

Status ValidateEventBatch(const EventBatch& b) {
  HW_RETURN_IF_ERROR(ValidateEndpoint(b.endpoint()));
  HW_RETURN_IF_ERROR(CheckTagMap("host_tags", b.host_tags()));
  for (int i = 0; i < b.events_size(); ++i) {
    if (Status st = ValidateLogEvent(b.events(i)); !st.ok()) return Nest(Indexed("events", i), st);
  }
  return Status::Ok();
}

Status ValidateAlert(const Alert& a) {
  HW_RETURN_IF_ERROR(CheckRequiredText("rule", a.rule()));
  HW_RETURN_IF_ERROR(CheckRequiredText("key", a.key()));
  if (!Alert::State_IsValid(a.state())) {
    return InvalidNumber("state", std::to_string(a.state()), "unknown value");
  }
  if (a.state() == Alert::STATE_UNSPECIFIED) {
    return InvalidNumber("state", "STATE_UNSPECIFIED", "must be set");
  }
  HW_RETURN_IF_ERROR(CheckSeverity(a.severity(), /*required=*/false));
  if (!a.endpoint().empty()) HW_RETURN_IF_ERROR(ValidateEndpoint(a.endpoint()));
  HW_RETURN_IF_ERROR(CheckUtf8Text("series", a.series()));
  HW_RETURN_IF_ERROR(CheckUtf8Text("summary", a.summary()));
  return CheckFinite("value", a.value());
}

Status ValidateAlertBatch(const AlertBatch& b) {
  for (int i = 0; i < b.alerts_size(); ++i) {
    if (Status st = ValidateAlert(b.alerts(i)); !st.ok()) return Nest(Indexed("alerts", i), st);
  }
  return Status::Ok();
}

Status ValidateEnvelope(const Envelope& env) {
  HW_RETURN_IF_ERROR(ValidateSource(env.source()));
  if (env.seq() < 1) return InvalidNumber("seq", "0", "must be >= 1 (seq starts at 1)");
  switch (env.body_case()) {
    case Envelope::kSamples:
      if (Status st = ValidateSampleBatch(env.samples()); !st.ok()) return Nest("samples.", st);
      return CheckBatchEndpoint("samples", env.samples().endpoint(), env.source());
    case Envelope::kEvents:
      if (Status st = ValidateEventBatch(env.events()); !st.ok()) return Nest("events.", st);
      return CheckBatchEndpoint("events", env.events().endpoint(), env.source());
    case Envelope::kAlerts:
      if (Status st = ValidateAlertBatch(env.alerts()); !st.ok()) return Nest("alerts.", st);
      return Status::Ok();
    case Envelope::BODY_NOT_SET:
      break;
  }
  return Status::InvalidArgument("body: not set (one of samples, events, alerts)");
}

}  // namespace hw::naming
