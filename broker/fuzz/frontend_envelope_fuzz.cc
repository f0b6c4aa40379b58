// libFuzzer target: the frontend's envelope path on one input, in the order Frontend::HandleOne
// takes it: header parse and validation (ParseProducerHeader), the binding check, the dedup
// verdict, the wire-level proof (SamplesEnvelopeProvablyValid) and the full parse and validation.
// Checks what must hold whatever the bytes: the wire proof never accepts what the full validation
// refuses, a valid header agrees with the full parse, and a rejected envelope never grows the
// dedup table.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "broker/curve_auth.h"
#include "broker/source_table.h"
#include "common/naming/envelope_wire.h"
#include "common/naming/naming.h"
#include "hostwatch/v1/hostwatch.pb.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "invariant broken: %s\n", what);
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hw;
  // One table for the whole run, as in the broker: state carried from input to input is part of
  // what is fuzzed. Bounded, as in the broker.
  static broker::SourceTable table = [] {
    broker::SourceTable t;
    t.set_max_sources(1024);
    return t;
  }();
  static const std::map<std::string, std::vector<std::string>> bindings = {
      {"game-a", {"game-a", "web-*"}}, {"none", {}}};
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  Result<broker::EnvelopeHeader> header = broker::ParseProducerHeader(bytes);
  const size_t before = table.size();
  if (!header.ok()) {
    // What the frontend answers must stay short whatever the input.
    Check(header.status().message().size() < 1024, "header error message bounded");
    return 0;
  }
  const broker::EnvelopeHeader& h = *header;
  Check(naming::ValidateSource(h.source).ok(), "header source valid");
  Check(h.seq >= 1, "header seq >= 1");
  const std::string_view endpoint = naming::SourceEndpoint(h.source);
  (void)broker::KeyMayPublishFor(bindings, "game-a", endpoint);
  (void)broker::KeyMayPublishFor(bindings, "none", endpoint);

  broker::Decision d = table.Check(h.source, h.epoch, h.seq);
  if (d.verdict != broker::Verdict::kAppend) return 0;

  const bool proven = naming::SamplesEnvelopeProvablyValid(bytes);
  hostwatch::v1::Envelope env;
  const bool parsed = env.ParseFromArray(data, static_cast<int>(size));
  Status valid = parsed ? naming::ValidateEnvelope(env) : Status::InvalidArgument("no parse");
  if (proven) Check(valid.ok(), "wire proof implies full validation");
  if (parsed) {
    Check(env.source() == h.source, "header source == parsed source");
    Check(env.seq() == h.seq && env.epoch() == h.epoch, "header seq/epoch == parsed");
  }
  if (!valid.ok()) {
    table.ObserveIfKnown(h.source, h.epoch, h.seq, 1);
    Check(table.size() == before, "a rejected envelope never adds a source");
    return 0;
  }
  table.Observe(h.source, h.epoch, h.seq, 1);
  Check(table.size() <= table.max_sources(), "table bounded");
  return 0;
}
