#include "cli/cli.h"

#include <cstdio>
#include <string>
#include <string_view>

#include "cli/consume.h"
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

constexpr std::string_view kUsage =
    "Usage: hostwatch VERB [options]\n"
    "\n"
    "  send [--broker URL] [--endpoint E] METRIC VALUE [k=v ...]   publish one sample, wait for "
    "the ack\n"
    "  loadgen --hosts H --metrics M --interval S --duration S [--rate N]   a simulated fleet\n"
    "  consume --group G [--topics ...] [--count N] [--timeout S] [--idle S] [--format "
    "json|summary]\n"
    "  status [--json]        broker stats: producers, rates, group lag, journal, rejects\n"
    "  keygen NAME            write a CURVE keypair: NAME.key (0600) and NAME.pub\n"
    "  test-logrules --config logwatch.yaml FILE...   per-rule counts and example matches\n"
    "  --version              print the version\n"
    "  --help                 this text\n"
    "\n"
    "Common options: --broker URL (default tcp://127.0.0.1:7400; backend and tap are its port + 1\n"
    "and + 2 unless --backend / --tap), --curve-key NAME --server-key FILE for a CURVE broker.\n"
    "Verbs still to come: top, tail, hosts, test-alerts.\n";

int Keygen(int argc, const char* const* argv) {
  if (argc != 1) {
    std::fprintf(stderr, "usage: hostwatch keygen NAME\n");
    return daemon::kExitUsage;
  }
  Result<transport::CurveKeyPair> pair = transport::GenerateCurveKeyPair();
  if (!pair.ok()) {
    std::fprintf(stderr, "hostwatch keygen: %s\n", pair.status().message().c_str());
    return daemon::kExitRuntime;
  }
  const std::string name = argv[0];
  Status s = transport::WriteCurveKeyPair(".", name, *pair);
  if (!s.ok()) {
    std::fprintf(stderr, "hostwatch keygen: %s\n", s.message().c_str());
    return s.code() == StatusCode::kInvalidArgument ? daemon::kExitUsage : daemon::kExitRuntime;
  }
  std::printf("wrote %s.key (secret, 0600) and %s.pub\n", name.c_str(), name.c_str());
  return daemon::kExitOk;
}

}  // namespace

int RunCli(int argc, const char* const* argv) {
  if (argc < 2) {
    std::fputs(kUsage.data(), stderr);
    return daemon::kExitUsage;
  }
  const std::string_view verb = argv[1];
  if (verb == "--help" || verb == "-h" || verb == "help") {
    std::fputs(kUsage.data(), stdout);
    return daemon::kExitOk;
  }
  if (verb == "--version") {
    std::printf("hostwatch %s\n", HW_VERSION);
    return daemon::kExitOk;
  }
  if (verb == "keygen") return Keygen(argc - 2, argv + 2);
  if (verb == "send") return RunSend(argc - 2, argv + 2);
  if (verb == "loadgen") return RunLoadgen(argc - 2, argv + 2);
  if (verb == "consume") return RunConsume(argc - 2, argv + 2);
  if (verb == "status") return RunStatus(argc - 2, argv + 2);
  if (verb == "test-logrules") return RunTestLogrules(argc - 2, argv + 2);
  std::fprintf(stderr, "hostwatch: unknown verb \"%s\" (see hostwatch --help)\n", argv[1]);
  return daemon::kExitUsage;
}

}  // namespace hw::cli
