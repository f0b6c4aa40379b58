#include "cli/cli_options.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "common/config/units.h"
#include "common/daemon/flags.h"
#include "common/daemon/logging.h"
#include "common/strings/strings.h"
#include "common/transport/endpoint.h"

namespace hw::cli {

bool TakeFlag(const std::vector<std::string>& args, size_t* i, std::string_view name,
              std::string* value, Status* error) {
  const std::string& a = args[*i];
  if (a == name) {
    if (*i + 1 >= args.size()) {
      *error = Status::InvalidArgument(std::string(name) + " needs a value");
      return true;
    }
    *value = args[++*i];
    return true;
  }
  if (a.size() > name.size() && a.starts_with(name) && a[name.size()] == '=') {
    *value = a.substr(name.size() + 1);
    return true;
  }
  return false;
}

Status ExtractBrokerOptions(std::vector<std::string>* args, BrokerOptions* out) {
  std::vector<std::string> rest;
  for (size_t i = 0; i < args->size(); ++i) {
    Status err;
    if (TakeFlag(*args, &i, "--broker", &out->broker, &err) ||
        TakeFlag(*args, &i, "--backend", &out->backend, &err) ||
        TakeFlag(*args, &i, "--tap", &out->tap, &err) ||
        TakeFlag(*args, &i, "--curve-key", &out->curve_key, &err) ||
        TakeFlag(*args, &i, "--server-key", &out->server_key, &err)) {
      HW_RETURN_IF_ERROR(err);
      continue;
    }
    rest.push_back((*args)[i]);
  }
  *args = std::move(rest);
  HW_RETURN_IF_ERROR(transport::ParseEndpoint(out->broker).status().WithContext("--broker"));
  if (!out->curve_key.empty() && out->server_key.empty()) {
    return Status::InvalidArgument("--curve-key needs --server-key FILE (the broker's public key)");
  }
  return Status::Ok();
}

Result<transport::LinkConfig> BrokerOptions::ToLinkConfig() const {
  transport::LinkConfig link;
  link.brokers = {broker};
  if (!backend.empty()) link.backends = {backend};
  if (!curve_key.empty()) {
    link.curve.enabled = true;
    link.curve.secret_key_file = curve_key + ".key";
    link.curve.public_key_file = curve_key + ".pub";
    link.curve.server_public_key_file = server_key;
  }
  return link;
}

Result<std::string> BrokerOptions::BackendEndpoint() const {
  if (!backend.empty()) return backend;
  HW_ASSIGN_OR_RETURN(transport::LinkConfig link, ToLinkConfig());
  return link.BackendFor(0);
}

Result<std::string> BrokerOptions::TapEndpoint() const {
  if (!tap.empty()) return tap;
  HW_ASSIGN_OR_RETURN(transport::Endpoint ep, transport::ParseEndpoint(broker));
  if (ep.scheme != "tcp" || ep.port > 65533)
    return Status::InvalidArgument("give --tap explicitly");
  return ep.WithPort(static_cast<uint16_t>(ep.port + 2)).ToString();
}

bool WantsHelp(const std::vector<std::string>& args) {
  return std::any_of(args.begin(), args.end(),
                     [](const std::string& a) { return a == "--help" || a == "-h"; });
}

void SetupCliLogging() {
  daemon::LogOptions quiet;
  quiet.level = "warn";
  (void)daemon::SetupLogging("hostwatch", quiet);
}

int UsageError(std::string_view verb, std::string_view usage, const Status& error) {
  const std::string_view synopsis = usage.substr(0, usage.find("\n\n") + 1);
  std::fprintf(stderr, "hostwatch %.*s: %s\n%.*s(hostwatch %.*s --help for more)\n",
               static_cast<int>(verb.size()), verb.data(), error.message().c_str(),
               static_cast<int>(synopsis.size()), synopsis.data(), static_cast<int>(verb.size()),
               verb.data());
  return daemon::kExitUsage;
}

int VerbFailure(std::string_view verb, int code, std::string_view message) {
  std::fprintf(stderr, "hostwatch %.*s: %.*s\n", static_cast<int>(verb.size()), verb.data(),
               static_cast<int>(message.size()), message.data());
  return code;
}

Result<std::chrono::milliseconds> ParseSeconds(std::string_view flag, const std::string& text) {
  if (std::optional<double> s = strings::ParseNumber<double>(text); s && *s >= 0 && *s <= 1e9) {
    return std::chrono::milliseconds(static_cast<int64_t>(*s * 1000.0 + 0.5));
  }
  if (Result<config::Duration> d = config::ParseDuration(text); d.ok()) return *d;
  return Status::InvalidArgument(std::string(flag) + " \"" + text +
                                 "\": want seconds (e.g. 10, 0.5, 500ms)");
}

Result<uint64_t> ParseCount(std::string_view flag, const std::string& text) {
  std::optional<uint64_t> n = strings::ParseU64(text);
  if (!n) {
    return Status::InvalidArgument(std::string(flag) + " \"" + text + "\": want a whole number");
  }
  return *n;
}

}  // namespace hw::cli
