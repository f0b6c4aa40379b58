// Alert rules (docs/alerting.md): which series a rule looks at and how it judges them.
//
// A rule selects series by metric (exact), endpoint glob and tag matchers (glob per tag key; a
// matcher on a tag the series lacks does not match), or log events by their logwatch rule name.
// Its expression is one of
//     FN(#N) OP NUMBER    FN: all any avg max min sum diff pdiff, over the series' last N points
//     nodata(DURATION)    no point for DURATION (judged against the wall clock by AlertEngine)
//     count(DURATION) OP NUMBER   log events (each counts 1 + its `suppressed`) in the window
// `recover` is a second expression of the first kind that clears a firing alert (hysteresis);
// without it, a firing alert clears when its own expression is decided false.
//
// Everything here is pure: no clock, no I/O. RuleSet indexes rules by metric (and by event rule),
// so the cost of a sample does not grow with rules that cannot match it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status/status.h"
#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::alerter {

struct Expr {
  enum class Fn { kAll, kAny, kAvg, kMax, kMin, kSum, kDiff, kPdiff, kNodata, kCount };
  enum class Op { kGt, kGe, kLt, kLe, kEq, kNe };
  Fn fn = Fn::kAll;
  uint32_t points = 1;                  // #N (series functions)
  std::chrono::milliseconds window{0};  // nodata and count
  Op op = Op::kGt;
  double threshold = 0;
  std::string text;  // as written, for mails: "all(#3) > 90"

  bool is_series() const { return fn != Fn::kNodata && fn != Fn::kCount; }
};

// Parses one expression; InvalidArgument with a reason a person can act on.
Result<Expr> ParseExpr(std::string_view text);

// A point of a series, oldest first in a window.
struct Point {
  int64_t time_ms = 0;
  double value = 0;
};

// The verdict of a series expression over a window. Undecided when the window holds fewer points
// than the expression needs (a rule never fires nor clears on too little data).
struct Judgement {
  bool decided = false;
  bool breach = false;
  double value = 0;  // what was compared: the aggregate, or the newest point for all/any
};
Judgement JudgeSeries(const Expr& e, std::span<const Point> window);
bool Compare(Expr::Op op, double lhs, double rhs);

struct Rule {
  std::string name;
  // Series rules.
  std::string metric;
  std::string endpoint = "*";               // glob(7) over the endpoint
  std::map<std::string, std::string> tags;  // tag key -> glob over its value
  // Log-event rules: the logwatch rule whose events count (exclusive with metric).
  std::string event_rule;
  Expr expr;
  std::optional<Expr> recover;
  std::chrono::milliseconds for_duration{0};  // `for`: how long a breach stays PENDING
  hostwatch::v1::Severity severity = hostwatch::v1::WARNING;
  std::vector<std::string> receivers;
  std::optional<std::chrono::milliseconds> repeat_interval;  // empty: alerter.repeat_interval
  std::string summary;  // optional text for mails; empty: derived from the expression

  bool is_event() const { return !event_rule.empty(); }
  bool is_nodata() const { return expr.fn == Expr::Fn::kNodata; }
  // The most points any of this rule's expressions needs.
  uint32_t window_points() const;
  bool MatchesSeries(std::string_view endpoint,
                     const google::protobuf::Map<std::string, std::string>& tags) const;
  bool MatchesSeries(std::string_view endpoint,
                     const std::map<std::string, std::string>& tags) const;
  bool MatchesEndpoint(std::string_view endpoint) const;
};

bool GlobMatch(const std::string& pattern, std::string_view text);

// "cpu.busy" or "cpu.busy;cpu=total;k=v" (tags sorted by key): the `series` of an alert key.
std::string SeriesName(std::string_view metric,
                       const google::protobuf::Map<std::string, std::string>& tags);
std::string SeriesName(std::string_view metric, const std::map<std::string, std::string>& tags);
// "<rule>|<endpoint>|<series>" (docs/alerting.md).
std::string AlertKey(std::string_view rule, std::string_view endpoint, std::string_view series);

class RuleSet {
 public:
  RuleSet() = default;
  explicit RuleSet(std::vector<Rule> rules);

  const std::vector<Rule>& rules() const { return rules_; }
  // Indexes into rules() of the series rules on this metric (any endpoint or tags).
  std::span<const uint32_t> ForMetric(std::string_view metric) const;
  // The series rules on this metric that can match this endpoint: those naming it literally and
  // those with a glob, in rule order (tags still to be matched). A fleet with a rule per host has
  // as many rules per metric as hosts; a new series looks at its own few.
  void CandidatesFor(std::string_view metric, std::string_view endpoint,
                     std::vector<uint32_t>* out) const;
  std::span<const uint32_t> ForEventRule(std::string_view event_rule) const;
  const Rule* Find(std::string_view name) const;
  // The index of the rule with that name, or -1.
  int64_t IndexOf(std::string_view name) const;

 private:
  // Lookups by string_view without building a string (one per sample).
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  template <class V>
  using Index = std::unordered_map<std::string, V, Hash, std::equal_to<>>;
  struct MetricRules {
    std::vector<uint32_t> all;
    std::vector<uint32_t> globbed;             // endpoint is a glob
    Index<std::vector<uint32_t>> by_endpoint;  // endpoint is literal
  };
  std::vector<Rule> rules_;
  Index<MetricRules> by_metric_;
  Index<std::vector<uint32_t>> by_event_rule_;
  Index<uint32_t> by_name_;
};

std::string_view SeverityWord(hostwatch::v1::Severity s);
std::optional<hostwatch::v1::Severity> ParseSeverity(std::string_view word);

}  // namespace hw::alerter
