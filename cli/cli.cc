#include "cli/cli.h"

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli_options.h"
#include "cli/consume.h"
#include "cli/hosts.h"
#include "cli/live_views.h"
#include "cli/loadgen.h"
#include "cli/send.h"
#include "cli/status.h"
#include "cli/test_logrules.h"
#include "common/daemon/flags.h"
#include "common/transport/curve_keys.h"

#ifndef HW_VERSION
#define HW_VERSION "0.1.0"
#endif

namespace hw::cli {
namespace {

constexpr std::string_view kKeygenUsage =
    "usage: hostwatch keygen NAME\n"
    "\n"
    "Writes a CURVE keypair into the current directory: NAME.key (the secret, mode 0600) and\n"
    "NAME.pub. Never overwrites an existing key.\n";

int RunKeygen(VerbInput& in) {
  if (in.args.size() != 1) return in.UsageError(Status::InvalidArgument("want one NAME"));
  Result<transport::CurveKeyPair> pair = transport::GenerateCurveKeyPair();
  if (!pair.ok()) return in.Failure(daemon::kExitRuntime, pair.status().message());
  const std::string& name = in.args[0];
  Status s = transport::WriteCurveKeyPair(".", name, *pair);
  if (!s.ok()) {
    return in.Failure(
        s.code() == StatusCode::kInvalidArgument ? daemon::kExitUsage : daemon::kExitRuntime,
        s.message());
  }
  std::printf("wrote %s.key (secret, 0600) and %s.pub\n", name.c_str(), name.c_str());
  return daemon::kExitOk;
}

struct Verb {
  std::string_view name;
  std::string_view summary;  // its line in `hostwatch --help`, after the name
  std::string_view usage;    // `hostwatch NAME --help`
  bool broker_options;       // takes --broker, --backend, --tap, --curve-key and --server-key
  int (*run)(VerbInput& in);
};

// Every verb, in --help order. A verb's handler gets its arguments after the preamble in RunCli.
const Verb kVerbs[] = {
    {"send",
     "[--broker URL] [--endpoint E] METRIC VALUE [k=v ...]   publish one sample, wait for the ack",
     kSendUsage, true, RunSend},
    {"loadgen", "--hosts H --metrics M --interval S --duration S [--rate N]   a simulated fleet",
     kLoadgenUsage, true, RunLoadgen},
    {"consume",
     "--group G [--topics ...] [--count N] [--timeout S] [--idle S] [--format json|summary]",
     kConsumeUsage, true, RunConsume},
    {"status", "[--json]        broker stats: producers, rates, group lag, journal, rejects",
     kStatusUsage, true, RunStatus},
    {"top", "[--sort KEY] [--once]   a live fleet table from the tap (host, cpu, mem, load, ...)",
     kTopUsage, true, RunTop},
    {"tail", "[--events|--alerts|--all] [--endpoint GLOB] [--metric GLOB] [--json]   live stream",
     kTailUsage, true, RunTail},
    {"hosts", "[--redis URL] [--sort KEY] [--json]   the fleet from the Redis cache",
     kHostsUsage, false, RunHosts},
    {"keygen", "NAME            write a CURVE keypair: NAME.key (0600) and NAME.pub", kKeygenUsage,
     false, RunKeygen},
    {"test-logrules", "--config logwatch.yaml FILE...   per-rule counts and example matches",
     kTestLogrulesUsage, false, RunTestLogrules},
};

std::string Usage() {
  std::string text = "Usage: hostwatch VERB [options]\n\n";
  for (const Verb& v : kVerbs) {
    text += "  " + std::string(v.name) + " " + std::string(v.summary) + "\n";
  }
  text +=
      "  --version              print the version\n"
      "  --help                 this text\n"
      "\n"
      "Common options: --broker URL (default tcp://127.0.0.1:7400; backend and tap are its port "
      "+ 1\n"
      "and + 2 unless --backend / --tap), --curve-key NAME --server-key FILE for a CURVE broker.\n"
      "Verbs still to come: test-alerts, silence.\n";
  return text;
}

// The preamble every verb shares: --help, logging, the broker options.
int RunVerb(const Verb& verb, int argc, const char* const* argv) {
  VerbInput in{verb.name, verb.usage, std::vector<std::string>(argv, argv + argc), {}};
  if (WantsHelp(in.args)) {
    std::fputs(in.usage.data(), stdout);
    return daemon::kExitOk;
  }
  SetupCliLogging();
  if (verb.broker_options) {
    if (Status s = ExtractBrokerOptions(&in.args, &in.broker); !s.ok()) return in.UsageError(s);
  }
  return verb.run(in);
}

}  // namespace

int RunCli(int argc, const char* const* argv) {
  if (argc < 2) {
    std::fputs(Usage().c_str(), stderr);
    return daemon::kExitUsage;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    std::fputs(Usage().c_str(), stdout);
    return daemon::kExitOk;
  }
  if (name == "--version") {
    std::printf("hostwatch %s\n", HW_VERSION);
    return daemon::kExitOk;
  }
  for (const Verb& verb : kVerbs) {
    if (verb.name == name) return RunVerb(verb, argc - 2, argv + 2);
  }
  std::fprintf(stderr, "hostwatch: unknown verb \"%s\" (see hostwatch --help)\n", argv[1]);
  return daemon::kExitUsage;
}

}  // namespace hw::cli
