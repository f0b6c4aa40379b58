// What an exec command prints, turned into Points. Two formats:
//   lines  one sample per line: `<metric>[;<tag>=<value>...] <value> [<unix_s>]`, e.g.
//            lvs.conns;vip=10.0.0.1:80 1234 1714000000
//          (the series spelling of docs/wire_format.md §3). Blank lines and lines starting with '#'
//          are skipped.
//   json   one object of numbers, nested objects joined with dots:
//            {"queue": {"depth": 12, "oldest_s": 3.5}, "ok": true} -> queue.depth, queue.oldest_s,
//            ok
//          (booleans as 0/1).
// Names and tags go through the shared validator, so a command cannot make the batch unsendable.
// Pure functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "collector/point.h"

namespace hw::collector {

enum class ExecFormat { kLines, kJson };

struct ExecParseResult {
  std::vector<Point> points;        // time_ms set: the line's unix_s, or default_time_ms
  std::vector<std::string> errors;  // one per rejected line or value, e.g. `line 3: ...`
};

ExecParseResult ParseExecOutput(std::string_view text, ExecFormat format, int64_t default_time_ms);

}  // namespace hw::collector
