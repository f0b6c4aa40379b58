// Options every networked verb shares (each verb's --help): where the broker is and how to
// authenticate.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.h"
#include "common/transport/link_config.h"

namespace hw::cli {

struct BrokerOptions {
  std::string broker = "tcp://127.0.0.1:7400";  // frontend
  std::string backend;                          // empty: broker port + 1
  std::string tap;                              // empty: broker port + 2
  std::string
      curve_key;  // --curve-key NAME: NAME.key / NAME.pub in the current directory or a path prefix
  std::string server_key;  // --server-key FILE: the broker's .pub

  // The link config these options describe (curve enabled when --curve-key is given).
  Result<transport::LinkConfig> ToLinkConfig() const;
  Result<std::string> BackendEndpoint() const;
  Result<std::string> TapEndpoint() const;
};

// Takes the broker options out of args (in place) and leaves the rest. Usage errors name the flag.
Status ExtractBrokerOptions(std::vector<std::string>* args, BrokerOptions* out);

// "--flag value" or "--flag=value" at args[*i]; advances *i past the value.
bool TakeFlag(const std::vector<std::string>& args, size_t* i, std::string_view name,
              std::string* value, Status* error);

// What every verb does the same way. `verb` is the word after `hostwatch` ("send").
// True when args ask for --help or -h (the verb then prints its usage to stdout and exits 0).
bool WantsHelp(const std::vector<std::string>& args);
// One-shot commands log only warnings and errors, as text on stderr; stdout stays for results.
void SetupCliLogging();
// "hostwatch VERB: message", the usage's first paragraph and a pointer to --help, on stderr;
// returns the usage exit code (2).
int UsageError(std::string_view verb, std::string_view usage, const Status& error);
// "hostwatch VERB: message" on stderr; returns code.
int VerbFailure(std::string_view verb, int code, std::string_view message);

// A verb's command line once the preamble every verb shares is done (RunCli): --help answered,
// logging set up and, for the verbs that reach a broker, the broker options taken out and parsed.
struct VerbInput {
  std::string_view verb;          // "send"
  std::string_view usage;         // its --help text
  std::vector<std::string> args;  // the arguments after the verb, less the broker options
  BrokerOptions broker;           // defaults unless the verb takes broker options

  int UsageError(const Status& error) const { return cli::UsageError(verb, usage, error); }
  int Failure(int code, std::string_view message) const { return VerbFailure(verb, code, message); }
};

// "30", "0.5" (seconds) or a duration with units ("500ms", "2m"); errors name the flag.
Result<std::chrono::milliseconds> ParseSeconds(std::string_view flag, const std::string& text);
// A whole non-negative number; errors name the flag.
Result<uint64_t> ParseCount(std::string_view flag, const std::string& text);

}  // namespace hw::cli
