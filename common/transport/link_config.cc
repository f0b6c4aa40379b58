#include "common/transport/link_config.h"

#include "common/transport/curve_keys.h"

namespace hw::transport {

Result<std::string> LinkConfig::BackendFor(size_t i) const {
  if (i < backends.size()) return backends[i];
  if (i >= brokers.size()) return Status::InvalidArgument("no broker " + std::to_string(i));
  HW_ASSIGN_OR_RETURN(Endpoint ep, ParseEndpoint(brokers[i]));
  if (ep.scheme != "tcp") {
    return Status::InvalidArgument("cannot derive a backend from " + brokers[i] +
                                   "; list link.backends");
  }
  if (ep.port == 65535)
    return Status::InvalidArgument("cannot derive a backend port from " + brokers[i]);
  return ep.WithPort(static_cast<uint16_t>(ep.port + 1)).ToString();
}

void ReadLinkConfig(config::Section link, config::Section curve, const std::string& component,
                    LinkConfig* out, const std::string& default_start) {
  out->spool_dir = "./hostwatch-data/spool/" + component;
  out->group = component;
  link.Read("brokers", &out->brokers);
  link.Check(!out->brokers.empty(), "brokers", "must list at least one broker");
  for (const std::string& b : out->brokers) {
    if (Result<Endpoint> ep = ParseEndpoint(b); !ep.ok())
      link.Error("brokers", ep.status().message());
  }
  link.Read("backends", &out->backends);
  for (const std::string& b : out->backends) {
    if (Result<Endpoint> ep = ParseEndpoint(b); !ep.ok())
      link.Error("backends", ep.status().message());
  }
  link.Check(out->backends.empty() || out->backends.size() == out->brokers.size(), "backends",
             "must be empty or list one backend per broker");
  link.Read("spool_dir", &out->spool_dir);
  link.ReadSize("spool_max_bytes", &out->spool_max_bytes);
  link.Check(out->spool_max_bytes >= (1u << 20), "spool_max_bytes", "must be at least 1MiB");
  link.Read("window", &out->window);
  link.Check(out->window >= 1 && out->window <= 65536, "window", "must be 1-65536");
  link.Read("group", &out->group);
  if (!default_start.empty()) {
    out->start = default_start;
    link.ReadEnum("start", &out->start, {"earliest", "latest"});
  }
  curve.Read("enabled", &out->curve.enabled);
  curve.Read("secret_key_file", &out->curve.secret_key_file);
  curve.Read("public_key_file", &out->curve.public_key_file);
  curve.Read("server_public_key_file", &out->curve.server_public_key_file);
  if (out->curve.enabled) {
    curve.Check(!out->curve.secret_key_file.empty(), "secret_key_file",
                "is required when curve is enabled");
    curve.Check(!out->curve.public_key_file.empty(), "public_key_file",
                "is required when curve is enabled");
    curve.Check(!out->curve.server_public_key_file.empty(), "server_public_key_file",
                "is required when curve is enabled");
  }
}

void WriteLinkConfig(const LinkConfig& c, config::YamlWriter* out) {
  out->BeginMap("link")
      .Value("brokers", c.brokers)
      .Value("backends", c.backends)
      .Value("spool_dir", c.spool_dir)
      .Size("spool_max_bytes", c.spool_max_bytes)
      .Value("window", c.window)
      .Value("group", c.group);
  if (!c.start.empty()) out->Value("start", c.start);
  out->EndMap();
  out->BeginMap("curve")
      .Value("enabled", c.curve.enabled)
      .Value("secret_key_file", c.curve.secret_key_file)
      .Value("public_key_file", c.curve.public_key_file)
      .Value("server_public_key_file", c.curve.server_public_key_file)
      .EndMap();
}

Result<CurveClientKeys> LoadCurveClientKeys(const CurveClientConfig& c) {
  CurveClientKeys keys;
  HW_ASSIGN_OR_RETURN(keys.secret_key, ReadZ85KeyFile(c.secret_key_file));
  HW_ASSIGN_OR_RETURN(keys.public_key, ReadZ85KeyFile(c.public_key_file));
  HW_ASSIGN_OR_RETURN(keys.server_public_key, ReadZ85KeyFile(c.server_public_key_file));
  return keys;
}

}  // namespace hw::transport
