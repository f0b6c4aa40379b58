#include "broker/broker_config.h"

#include "common/transport/endpoint.h"

namespace hw::broker {
namespace {

void ReadEndpoint(config::Section& s, std::string_view key, std::string* out, bool curve,
                  bool allow_insecure) {
  s.Read(key, out);
  Result<transport::Endpoint> ep = transport::ParseEndpoint(*out);
  if (!ep.ok()) {
    s.Error(key, ep.status().message());
    return;
  }
  // Plaintext beyond loopback would let anyone on the network inject or read samples
  // (docs/wire_format.md §1, §8).
  if (!ep->IsLoopback() && !curve && !allow_insecure) {
    s.Error(key, "binds " + ep->ToString() +
                     ", which is not loopback, with CURVE off; enable curve or set "
                     "broker.allow_insecure: true");
  }
}

Status ReadBroker(config::Document& doc, BrokerConfig* c) {
  config::Section root = doc.root();
  config::Section b = root.Child("broker");
  config::Section curve = root.Child("curve");
  // curve and allow_insecure first: the endpoint checks depend on them.
  curve.Read("enabled", &c->curve.enabled);
  curve.Read("secret_key_file", &c->curve.secret_key_file);
  curve.Read("public_key_file", &c->curve.public_key_file);
  curve.Read("authorized_keys_dir", &c->curve.authorized_keys_dir);
  curve.Read("bindings", &c->curve.bindings);
  curve.Read("consumer_keys_dir", &c->curve.consumer_keys_dir);
  curve.Read("group_bindings", &c->curve.group_bindings);
  if (c->curve.enabled) {
    // Fail closed: without it no consumer (nor `hostwatch status`) could connect, so say so now.
    curve.Check(!c->curve.consumer_keys_dir.empty(), "consumer_keys_dir",
                "is required when curve is enabled (consumer keys: backend and tap)");
    curve.Check(!c->curve.secret_key_file.empty(), "secret_key_file",
                "is required when curve is enabled");
    curve.Check(!c->curve.public_key_file.empty(), "public_key_file",
                "is required when curve is enabled");
    curve.Check(!c->curve.authorized_keys_dir.empty(), "authorized_keys_dir",
                "is required when curve is enabled");
  }
  b.Read("allow_insecure", &c->allow_insecure);

  ReadEndpoint(b, "frontend", &c->frontend, c->curve.enabled, c->allow_insecure);
  ReadEndpoint(b, "backend", &c->backend, c->curve.enabled, c->allow_insecure);
  ReadEndpoint(b, "tap", &c->tap, c->curve.enabled, c->allow_insecure);
  b.Read("data_dir", &c->data_dir);
  b.Check(!c->data_dir.empty(), "data_dir", "must not be empty");
  b.Read("partitions", &c->partitions);
  b.Check(c->partitions >= 1 && c->partitions <= 256, "partitions", "must be 1-256");
  b.ReadSize("segment_bytes", &c->segment_bytes);
  b.Check(c->segment_bytes >= (1u << 20), "segment_bytes", "must be at least 1MiB");
  b.ReadSize("retention_bytes", &c->retention_bytes);
  b.Check(c->retention_bytes >= c->segment_bytes, "retention_bytes",
          "must be at least segment_bytes");
  b.Read("retention_age", &c->retention_age);
  b.Check(c->retention_age >= std::chrono::minutes(1), "retention_age", "must be at least 1m");
  b.ReadEnum("fsync", &c->fsync, {"interval", "always"});
  b.Read("fsync_interval", &c->fsync_interval);
  b.Check(c->fsync_interval >= std::chrono::milliseconds(1) &&
              c->fsync_interval <= std::chrono::seconds(60),
          "fsync_interval", "must be 1ms-60s");
  b.ReadSize("max_message_bytes", &c->max_message_bytes);
  b.Check(c->max_message_bytes >= 1024 && c->max_message_bytes <= (256u << 20), "max_message_bytes",
          "must be 1KiB-256MiB");
  b.Read("max_sources", &c->max_sources);
  b.Check(c->max_sources >= 16, "max_sources", "must be at least 16");
  b.Read("source_ttl", &c->source_ttl);
  b.Check(c->source_ttl >= std::chrono::seconds(1), "source_ttl", "must be at least 1s");
  b.Read("group_ttl", &c->group_ttl);
  b.Check(c->group_ttl >= std::chrono::seconds(1), "group_ttl", "must be at least 1s");
  b.Read("max_groups", &c->max_groups);
  b.Check(c->max_groups >= 1, "max_groups", "must be at least 1");
  b.Read("max_credit", &c->max_credit);
  b.Check(c->max_credit >= 1 && c->max_credit <= (1u << 30), "max_credit", "must be 1-1073741824");
  daemon::ReadLogOptions(root.Child("log"), &c->log);
  return doc.Finish();
}

}  // namespace

Result<BrokerConfig> ParseBrokerConfig(std::string_view yaml, const std::string& display_name) {
  HW_ASSIGN_OR_RETURN(auto doc, config::Document::LoadString(yaml, display_name));
  BrokerConfig c;
  HW_RETURN_IF_ERROR(ReadBroker(*doc, &c));
  return c;
}

Result<BrokerConfig> LoadBrokerConfig(const std::string& path) {
  HW_ASSIGN_OR_RETURN(auto doc, config::Document::LoadFileOrDefaults(path));
  BrokerConfig c;
  HW_RETURN_IF_ERROR(ReadBroker(*doc, &c));
  return c;
}

std::string DescribeBrokerConfig(const BrokerConfig& c) {
  config::YamlWriter w;
  w.BeginMap("");
  w.BeginMap("broker")
      .Value("frontend", c.frontend)
      .Value("backend", c.backend)
      .Value("tap", c.tap)
      .Value("data_dir", c.data_dir)
      .Value("partitions", c.partitions)
      .Size("segment_bytes", c.segment_bytes)
      .Size("retention_bytes", c.retention_bytes)
      .Value("retention_age", c.retention_age)
      .Value("fsync", c.fsync)
      .Value("fsync_interval", c.fsync_interval)
      .Size("max_message_bytes", c.max_message_bytes)
      .Value("allow_insecure", c.allow_insecure)
      .Value("max_sources", c.max_sources)
      .Value("source_ttl", c.source_ttl)
      .Value("group_ttl", c.group_ttl)
      .Value("max_groups", c.max_groups)
      .Value("max_credit", c.max_credit)
      .EndMap();
  w.BeginMap("curve")
      .Value("enabled", c.curve.enabled)
      .Value("secret_key_file", c.curve.secret_key_file)
      .Value("public_key_file", c.curve.public_key_file)
      .Value("authorized_keys_dir", c.curve.authorized_keys_dir)
      .Value("bindings", c.curve.bindings)
      .Value("consumer_keys_dir", c.curve.consumer_keys_dir)
      .Value("group_bindings", c.curve.group_bindings)
      .EndMap();
  daemon::WriteLogOptions(c.log, &w);
  w.EndMap();
  return w.str();
}

}  // namespace hw::broker
