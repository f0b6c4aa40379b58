// `hostwatch test-logrules`: runs a logwatch.yaml's rules over files, from their beginning to their
// end, through the same tailer and record processor as hostwatch-logwatch (so line cutting,
// multiline joining, exclude and the prefilter behave exactly as deployed), and prints per-rule
// counts with a few example matches and their captures. Nothing is published.
#include "cli/test_logrules.h"

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cli/cli_options.h"
#include "common/daemon/flags.h"
#include "common/naming/naming.h"
#include "logwatch/logwatch_config.h"
#include "logwatch/record_processor.h"
#include "logwatch/tailer.h"

namespace hw::cli {
namespace {

constexpr std::string_view kUsage =
    "usage: hostwatch test-logrules --config logwatch.yaml [--examples N] [--json] FILE...\n"
    "\n"
    "Runs every rule of the config over each FILE from its beginning to its end and prints, per\n"
    "rule, how many records matched and up to N examples (default 3) with their captures.\n"
    "max_events_per_s is not applied: every match is counted.\n"
    "  --json   one JSON object: lines, bytes, seconds, cpu_seconds and per rule its matches\n";

struct RuleResult {
  uint64_t matches = 0;
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> examples;
};

class Collector : public logwatch::LineHandler, public logwatch::RecordSink {
 public:
  Collector(logwatch::RecordProcessor* p, const std::vector<std::string>& rules, size_t examples)
      : p_(p), rules_(rules), examples_(examples), results_(p->rules().size()) {}
  void OnLine(logwatch::TailedFile& f, std::string_view line, uint64_t offset,
              bool truncated) override {
    p_->OnLine(f.state.path, line, offset, truncated, &records_[f.id], this);
  }
  void OnChunk(logwatch::TailedFile& /*f*/, std::string_view chunk) override { p_->OnChunk(chunk); }
  void OnOpen(logwatch::TailedFile& f) override { p_->Attach(rules_, &records_[f.id]); }
  void OnClose(logwatch::TailedFile& f) override {
    OnTruncated(f);
    records_.erase(f.id);
  }
  void OnTruncated(logwatch::TailedFile& f) override {
    p_->FlushIdle(f.state.path, {}, std::chrono::milliseconds(0), &records_[f.id], this);
  }
  void OnRecord(const logwatch::Record& r) override {
    RuleResult& res = results_[r.rule];
    ++res.matches;
    if (res.examples.size() >= examples_) return;
    std::vector<std::pair<std::string, std::string>> fields;
    const auto& names = p_->rules().rule(r.rule).captures;
    for (size_t i = 0; i < names.size(); ++i) {
      fields.emplace_back(names[i], naming::SanitizeUtf8((*r.groups)[i]));
    }
    res.examples.emplace_back(naming::SanitizeUtf8(r.text.substr(0, 300)), std::move(fields));
  }
  const std::vector<RuleResult>& results() const { return results_; }

 private:
  logwatch::RecordProcessor* p_;
  std::vector<std::string> rules_;
  size_t examples_;
  std::vector<RuleResult> results_;
  std::map<uint64_t, logwatch::FileRecords> records_;  // by TailedFile::id
};

std::string Json(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

// Constant-initialized, so cli.cc's table may copy it during its own static initialization.
constinit const std::string_view kTestLogrulesUsage = kUsage;

int RunTestLogrules(VerbInput& in) {
  const std::vector<std::string>& args = in.args;
  std::string config_path;
  std::string examples_text = "3";
  bool json = false;
  std::vector<std::string> files;
  for (size_t i = 0; i < args.size(); ++i) {
    Status err;
    if (TakeFlag(args, &i, "--config", &config_path, &err) ||
        TakeFlag(args, &i, "--examples", &examples_text, &err)) {
      if (!err.ok()) return in.UsageError(err);
      continue;
    }
    if (args[i] == "--json") {
      json = true;
    } else if (args[i].starts_with("--")) {
      return in.UsageError(Status::InvalidArgument("unknown option " + args[i]));
    } else {
      files.push_back(args[i]);
    }
  }
  if (config_path.empty() || files.empty()) {
    return in.UsageError(Status::InvalidArgument("--config and at least one FILE are required"));
  }
  Result<uint64_t> examples = ParseCount("--examples", examples_text);
  if (!examples.ok()) return in.UsageError(examples.status());
  Result<logwatch::LogwatchConfig> config = logwatch::LoadLogwatchConfig(config_path);
  if (!config.ok())
    return VerbFailure("test-logrules", daemon::kExitUsage, config.status().message());
  auto rules = logwatch::RuleSet::Compile(config->rules);
  if (!rules.ok())
    return VerbFailure("test-logrules", daemon::kExitUsage, rules.status().message());

  std::vector<std::string> names;
  for (const auto& r : config->rules) names.push_back(r.name);
  // The examples show captures; without examples none are extracted that no rule emits.
  logwatch::RecordProcessor processor(*rules, config->max_line_bytes,
                                      /*capture_all=*/*examples > 0);
  Collector collector(&processor, names, static_cast<size_t>(*examples));
  std::vector<logwatch::WatchSpec> specs;
  for (const std::string& f : files) specs.push_back({f, names, true});
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = CpuSeconds();
  logwatch::Tailer tailer(specs, config->max_line_bytes, std::chrono::milliseconds(0), &collector);
  tailer.Discover(/*startup=*/true);
  if (tailer.files().size() != files.size()) {
    return VerbFailure("test-logrules", daemon::kExitRuntime,
                       "cannot open every FILE (or a FILE is named twice)");
  }
  for (;;) {
    // Counts over part of a file would pass for the rules' answer: a read error fails the verb.
    Result<bool> more = tailer.ReadAll(64u << 20);
    if (!more.ok()) {
      return VerbFailure("test-logrules", daemon::kExitRuntime, more.status().ToString());
    }
    if (!*more) break;
  }
  for (auto& f : tailer.files()) collector.OnClose(*f);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = CpuSeconds() - cpu_start;
  const logwatch::TailerStats& ts = tailer.stats();
  const auto& results = collector.results();

  if (json) {
    std::printf(
        "{\"lines\": %llu, \"bytes\": %llu, \"seconds\": %.6f, \"cpu_seconds\": %.6f, "
        "\"rules\": {",
        static_cast<unsigned long long>(ts.lines_read),
        static_cast<unsigned long long>(ts.bytes_read), seconds, cpu);
    for (size_t r = 0; r < results.size(); ++r) {
      std::printf("%s%s: {\"matches\": %llu, \"examples\": [", r ? ", " : "",
                  Json((*rules)->rule(r).name).c_str(),
                  static_cast<unsigned long long>(results[r].matches));
      for (size_t e = 0; e < results[r].examples.size(); ++e) {
        const auto& [line, fields] = results[r].examples[e];
        std::printf("%s{\"line\": %s, \"fields\": {", e ? ", " : "", Json(line).c_str());
        for (size_t k = 0; k < fields.size(); ++k) {
          std::printf("%s%s: %s", k ? ", " : "", Json(fields[k].first).c_str(),
                      Json(fields[k].second).c_str());
        }
        std::printf("}}");
      }
      std::printf("]}");
    }
    std::printf("}}\n");
    return daemon::kExitOk;
  }
  std::printf("%llu lines, %llu bytes in %.3f s (%.0f lines/s)\n\n",
              static_cast<unsigned long long>(ts.lines_read),
              static_cast<unsigned long long>(ts.bytes_read), seconds,
              seconds > 0 ? static_cast<double>(ts.lines_read) / seconds : 0.0);
  for (size_t r = 0; r < results.size(); ++r) {
    std::printf("%-28s %llu\n", (*rules)->rule(r).name.c_str(),
                static_cast<unsigned long long>(results[r].matches));
    for (const auto& [line, fields] : results[r].examples) {
      std::printf("    %s\n", line.c_str());
      if (!fields.empty()) {
        std::printf("     ");
        for (const auto& [k, v] : fields) std::printf(" %s=%s", k.c_str(), v.c_str());
        std::printf("\n");
      }
    }
  }
  return daemon::kExitOk;
}

}  // namespace hw::cli
