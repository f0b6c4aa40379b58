#include "alerter/rules.h"

#include <fnmatch.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/config/units.h"
#include "common/strings/strings.h"

namespace hw::alerter {
namespace {

namespace pb = hostwatch::v1;

struct FnName {
  std::string_view word;
  Expr::Fn fn;
};
constexpr FnName kFns[] = {
    {"all", Expr::Fn::kAll},     {"any", Expr::Fn::kAny},     {"avg", Expr::Fn::kAvg},
    {"max", Expr::Fn::kMax},     {"min", Expr::Fn::kMin},     {"sum", Expr::Fn::kSum},
    {"diff", Expr::Fn::kDiff},   {"pdiff", Expr::Fn::kPdiff}, {"nodata", Expr::Fn::kNodata},
    {"count", Expr::Fn::kCount},
};

constexpr std::pair<std::string_view, pb::Severity> kSeverities[] = {
    {"debug", pb::DEBUG}, {"info", pb::INFO},         {"warning", pb::WARNING},
    {"error", pb::ERROR}, {"critical", pb::CRITICAL},
};

}  // namespace

Result<Expr> ParseExpr(std::string_view text) {
  Expr e;
  e.text = std::string(strings::Trim(text));
  std::string_view s = e.text;
  const size_t open = s.find('(');
  const size_t close = s.find(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return Status::InvalidArgument("\"" + e.text +
                                   "\" is not FN(#N) OP NUMBER, nodata(DURATION) or "
                                   "count(DURATION) OP NUMBER");
  }
  const std::string_view fn = strings::Trim(s.substr(0, open));
  const std::string_view arg = strings::Trim(s.substr(open + 1, close - open - 1));
  const std::string_view rest = strings::Trim(s.substr(close + 1));
  bool known = false;
  for (const FnName& f : kFns) {
    if (f.word == fn) {
      e.fn = f.fn;
      known = true;
    }
  }
  if (!known) {
    return Status::InvalidArgument("unknown function \"" + std::string(fn) +
                                   "\" (all any avg max min sum diff pdiff nodata count)");
  }
  if (e.is_series()) {
    std::optional<uint64_t> n;
    if (arg.size() > 1 && arg[0] == '#') n = strings::ParseU64(arg.substr(1));
    if (!n || *n < 1 || *n > 1000) {
      return Status::InvalidArgument("\"" + std::string(arg) +
                                     "\": the window is #N, the last N points (1-1000)");
    }
    if ((e.fn == Expr::Fn::kDiff || e.fn == Expr::Fn::kPdiff) && *n < 2) {
      return Status::InvalidArgument(std::string(fn) + " needs at least #2");
    }
    e.points = static_cast<uint32_t>(*n);
  } else {
    Result<config::Duration> d = config::ParseDuration(arg);
    if (!d.ok() || d->count() <= 0) {
      return Status::InvalidArgument("\"" + std::string(arg) + "\" is not a duration (e.g. 120s)");
    }
    e.window = *d;
    if (e.fn == Expr::Fn::kNodata) {
      if (!rest.empty()) return Status::InvalidArgument("nodata(...) takes no comparison");
      return e;
    }
  }
  size_t op_len = 0;
  if (rest.starts_with(">=")) {
    e.op = Expr::Op::kGe, op_len = 2;
  } else if (rest.starts_with("<=")) {
    e.op = Expr::Op::kLe, op_len = 2;
  } else if (rest.starts_with("==")) {
    e.op = Expr::Op::kEq, op_len = 2;
  } else if (rest.starts_with("!=")) {
    e.op = Expr::Op::kNe, op_len = 2;
  } else if (rest.starts_with(">")) {
    e.op = Expr::Op::kGt, op_len = 1;
  } else if (rest.starts_with("<")) {
    e.op = Expr::Op::kLt, op_len = 1;
  } else {
    return Status::InvalidArgument("\"" + e.text + "\" needs a comparison: > >= < <= == !=");
  }
  std::optional<double> v = strings::ParseDouble(strings::Trim(rest.substr(op_len)));
  if (!v || !std::isfinite(*v)) {
    return Status::InvalidArgument("\"" + std::string(strings::Trim(rest.substr(op_len))) +
                                   "\" is not a number");
  }
  e.threshold = *v;
  return e;
}

bool Compare(Expr::Op op, double lhs, double rhs) {
  switch (op) {
    case Expr::Op::kGt:
      return lhs > rhs;
    case Expr::Op::kGe:
      return lhs >= rhs;
    case Expr::Op::kLt:
      return lhs < rhs;
    case Expr::Op::kLe:
      return lhs <= rhs;
    case Expr::Op::kEq:
      return lhs == rhs;
    case Expr::Op::kNe:
      return lhs != rhs;
  }
  return false;
}

Judgement JudgeSeries(const Expr& e, std::span<const Point> window) {
  Judgement j;
  if (!e.is_series() || window.size() < e.points) return j;
  const std::span<const Point> w = window.subspan(window.size() - e.points);
  j.decided = true;
  j.value = w.back().value;
  switch (e.fn) {
    case Expr::Fn::kAll:
      j.breach = std::all_of(w.begin(), w.end(),
                             [&](const Point& p) { return Compare(e.op, p.value, e.threshold); });
      return j;
    case Expr::Fn::kAny:
      j.breach = std::any_of(w.begin(), w.end(),
                             [&](const Point& p) { return Compare(e.op, p.value, e.threshold); });
      return j;
    case Expr::Fn::kAvg:
    case Expr::Fn::kSum: {
      double sum = 0;
      for (const Point& p : w) sum += p.value;
      j.value = e.fn == Expr::Fn::kSum ? sum : sum / static_cast<double>(w.size());
      break;
    }
    case Expr::Fn::kMax:
      j.value = std::max_element(w.begin(), w.end(), [](const Point& a, const Point& b) {
                  return a.value < b.value;
                })->value;
      break;
    case Expr::Fn::kMin:
      j.value = std::min_element(w.begin(), w.end(), [](const Point& a, const Point& b) {
                  return a.value < b.value;
                })->value;
      break;
    case Expr::Fn::kDiff:
      j.value = w.back().value - w.front().value;
      break;
    case Expr::Fn::kPdiff:
      // A change from zero has no percentage: undecided rather than an infinite breach.
      if (w.front().value == 0) return Judgement{};
      j.value = (w.back().value - w.front().value) / std::fabs(w.front().value) * 100.0;
      break;
    case Expr::Fn::kNodata:
    case Expr::Fn::kCount:
      return Judgement{};
  }
  j.breach = Compare(e.op, j.value, e.threshold);
  return j;
}

uint32_t Rule::window_points() const {
  uint32_t n = expr.is_series() ? expr.points : 1;
  if (recover && recover->is_series()) n = std::max(n, recover->points);
  return n;
}

bool GlobMatch(const std::string& pattern, std::string_view text) {
  if (pattern == "*") return true;
  // Most selectors name one host or one value: no fnmatch (and no copy) for those.
  if (pattern.find_first_of("*?[\\") == std::string::npos) return pattern == text;
  return fnmatch(pattern.c_str(), std::string(text).c_str(), 0) == 0;
}

bool Rule::MatchesEndpoint(std::string_view ep) const { return GlobMatch(endpoint, ep); }

namespace {
template <typename Tags>
bool MatchesTags(const std::map<std::string, std::string>& matchers, const Tags& series_tags) {
  for (const auto& [k, glob] : matchers) {
    auto it = series_tags.find(k);
    if (it == series_tags.end() || !GlobMatch(glob, it->second)) return false;
  }
  return true;
}
bool IsGlob(const std::string& pattern) {
  return pattern.find_first_of("*?[\\") != std::string::npos;
}
}  // namespace

bool Rule::MatchesSeries(std::string_view ep,
                         const google::protobuf::Map<std::string, std::string>& series_tags) const {
  return MatchesEndpoint(ep) && MatchesTags(tags, series_tags);
}

bool Rule::MatchesSeries(std::string_view ep,
                         const std::map<std::string, std::string>& series_tags) const {
  return MatchesEndpoint(ep) && MatchesTags(tags, series_tags);
}

namespace {
template <typename Tags>
std::string SeriesNameOf(std::string_view metric, const Tags& tags) {
  std::string out(metric);
  if (tags.empty()) return out;
  std::vector<std::pair<std::string_view, std::string_view>> sorted;
  sorted.reserve(tags.size());
  for (const auto& [k, v] : tags) sorted.emplace_back(k, v);
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [k, v] : sorted) {
    out += ';';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}
}  // namespace

std::string SeriesName(std::string_view metric,
                       const google::protobuf::Map<std::string, std::string>& tags) {
  return SeriesNameOf(metric, tags);
}
std::string SeriesName(std::string_view metric, const std::map<std::string, std::string>& tags) {
  return SeriesNameOf(metric, tags);
}

std::string AlertKey(std::string_view rule, std::string_view endpoint, std::string_view series) {
  std::string k;
  k.reserve(rule.size() + endpoint.size() + series.size() + 2);
  k.append(rule).append("|").append(endpoint).append("|").append(series);
  return k;
}

RuleSet::RuleSet(std::vector<Rule> rules) : rules_(std::move(rules)) {
  for (uint32_t i = 0; i < rules_.size(); ++i) {
    by_name_.emplace(rules_[i].name, i);
    if (rules_[i].is_event()) {
      by_event_rule_[rules_[i].event_rule].push_back(i);
    } else {
      MetricRules& m = by_metric_[rules_[i].metric];
      m.all.push_back(i);
      if (IsGlob(rules_[i].endpoint)) {
        m.globbed.push_back(i);
      } else {
        m.by_endpoint[rules_[i].endpoint].push_back(i);
      }
    }
  }
}

std::span<const uint32_t> RuleSet::ForMetric(std::string_view metric) const {
  auto it = by_metric_.find(metric);
  if (it == by_metric_.end()) return {};
  return it->second.all;
}

void RuleSet::CandidatesFor(std::string_view metric, std::string_view endpoint,
                            std::vector<uint32_t>* out) const {
  out->clear();
  auto it = by_metric_.find(metric);
  if (it == by_metric_.end()) return;
  const MetricRules& m = it->second;
  auto lit = m.by_endpoint.find(endpoint);
  if (lit == m.by_endpoint.end()) {
    out->assign(m.globbed.begin(), m.globbed.end());
    return;
  }
  // Both lists are ascending: merge them, so rules keep their order.
  out->resize(m.globbed.size() + lit->second.size());
  std::merge(m.globbed.begin(), m.globbed.end(), lit->second.begin(), lit->second.end(),
             out->begin());
}

std::span<const uint32_t> RuleSet::ForEventRule(std::string_view event_rule) const {
  auto it = by_event_rule_.find(event_rule);
  if (it == by_event_rule_.end()) return {};
  return it->second;
}

const Rule* RuleSet::Find(std::string_view name) const {
  const int64_t i = IndexOf(name);
  return i < 0 ? nullptr : &rules_[static_cast<size_t>(i)];
}

int64_t RuleSet::IndexOf(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : static_cast<int64_t>(it->second);
}

std::string_view SeverityWord(pb::Severity s) {
  for (const auto& [word, value] : kSeverities) {
    if (value == s) return word;
  }
  return "warning";
}

std::optional<pb::Severity> ParseSeverity(std::string_view word) {
  for (const auto& [w, value] : kSeverities) {
    if (w == word) return value;
  }
  return std::nullopt;
}

}  // namespace hw::alerter
