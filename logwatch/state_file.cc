#include "logwatch/state_file.h"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "common/strings/strings.h"

namespace hw::logwatch {
namespace {

constexpr std::string_view kMagic = "hostwatch logwatch state v1";

void EncodeSnapshot(const Snapshot& s, std::ostringstream& o) {
  o << "interval_end " << s.interval_end_ms << '\n';
  if (!s.counters.empty()) {
    o << "counters";
    for (const auto& [name, v] : s.counters) o << ' ' << name << '=' << v;
    o << '\n';
  }
  for (const FileState& f : s.files) {
    o << "file " << EscapeField(f.path) << ' ' << f.dev << ' ' << f.ino << ' ' << f.fp_len << ' '
      << f.fp_hash << ' ' << f.offset << ' ' << (f.skipping ? 1 : 0) << ' ' << (f.draining ? 1 : 0);
    for (const auto& [rule, off] : f.pending) o << ' ' << rule << ':' << off;
    o << '\n';
  }
  const std::string stats = s.stats.Encode();
  o << "stats " << std::count(stats.begin(), stats.end(), '\n') << '\n' << stats;
}

template <typename T>
bool Num(std::string_view s, T* out) {
  const std::optional<T> v = strings::ParseNumber<T>(s);
  if (v) *out = *v;
  return v.has_value();
}

struct Lines {
  std::string_view text;
  bool Next(std::string_view* line) {
    if (text.empty()) return false;
    const size_t nl = text.find('\n');
    *line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    return true;
  }
};

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= line.size()) {
    size_t sp = line.find(' ', start);
    if (sp == std::string_view::npos) sp = line.size();
    out.push_back(line.substr(start, sp - start));
    start = sp + 1;
  }
  return out;
}

Status DecodeSnapshot(Lines& in, Snapshot* s) {
  std::string_view line;
  const auto bad = [&] { return Status::DataLoss("offsets file: bad line: " + std::string(line)); };
  if (!in.Next(&line) || !line.starts_with("interval_end ") ||
      !Num(line.substr(13), &s->interval_end_ms)) {
    return bad();
  }
  while (in.Next(&line)) {
    std::vector<std::string_view> w = Words(line);
    if (w[0] == "stats" && w.size() == 2) {
      size_t n = 0;
      if (!Num(w[1], &n)) return bad();
      std::string body;
      for (size_t i = 0; i < n; ++i) {
        if (!in.Next(&line)) return bad();
        body.append(line).push_back('\n');
      }
      HW_ASSIGN_OR_RETURN(s->stats, IntervalStats::Decode(body));
      return Status::Ok();
    }
    if (w[0] == "counters") {
      for (size_t i = 1; i < w.size(); ++i) {
        const size_t eq = w[i].find('=');
        uint64_t v = 0;
        if (eq == std::string_view::npos || eq == 0 || !Num(w[i].substr(eq + 1), &v)) return bad();
        s->counters[std::string(w[i].substr(0, eq))] = v;
      }
      continue;
    }
    if (w[0] != "file" || w.size() < 9) return bad();
    FileState f;
    f.path = UnescapeField(w[1]);
    int skipping = 0, draining = 0;
    if (!Num(w[2], &f.dev) || !Num(w[3], &f.ino) || !Num(w[4], &f.fp_len) ||
        !Num(w[5], &f.fp_hash) || !Num(w[6], &f.offset) || !Num(w[7], &skipping) ||
        !Num(w[8], &draining)) {
      return bad();
    }
    f.skipping = skipping != 0;
    f.draining = draining != 0;
    for (size_t i = 9; i < w.size(); ++i) {
      const size_t colon = w[i].rfind(':');
      uint64_t off = 0;
      if (colon == std::string_view::npos || !Num(w[i].substr(colon + 1), &off)) return bad();
      f.pending.emplace_back(std::string(w[i].substr(0, colon)), off);
    }
    s->files.push_back(std::move(f));
  }
  return bad();
}

}  // namespace

std::string EncodeState(const StateFile& s) {
  std::ostringstream o;
  o << kMagic << '\n' << "mark " << s.mark << '\n' << "[before]\n";
  EncodeSnapshot(s.before, o);
  o << "[after]\n";
  EncodeSnapshot(s.after, o);
  o << "end\n";
  return o.str();
}

Result<StateFile> DecodeState(std::string_view text) {
  Lines in{text};
  std::string_view line;
  StateFile s;
  if (!in.Next(&line) || line != kMagic)
    return Status::DataLoss("offsets file: not " + std::string(kMagic));
  if (!in.Next(&line) || !line.starts_with("mark ") || !Num(line.substr(5), &s.mark)) {
    return Status::DataLoss("offsets file: no mark");
  }
  if (!in.Next(&line) || line != "[before]") return Status::DataLoss("offsets file: no [before]");
  HW_RETURN_IF_ERROR(DecodeSnapshot(in, &s.before));
  if (!in.Next(&line) || line != "[after]") return Status::DataLoss("offsets file: no [after]");
  HW_RETURN_IF_ERROR(DecodeSnapshot(in, &s.after));
  if (!in.Next(&line) || line != "end") return Status::DataLoss("offsets file: no end");
  return s;
}

const Snapshot& ChooseSnapshot(const StateFile& s, uint64_t spool_next_index) {
  return spool_next_index > s.mark ? s.after : s.before;
}

}  // namespace hw::logwatch
