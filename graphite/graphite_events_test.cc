#include "graphite/graphite_events.h"

#include <gtest/gtest.h>

namespace hw::graphite {
namespace {

TEST(GraphiteEventsTest, JsonCarriesTheDashboardTagsAndEscapesText) {
  hostwatch::v1::Alert a;
  a.set_rule("log \"oom\"");
  a.set_state(hostwatch::v1::Alert::RESOLVED);
  a.set_severity(hostwatch::v1::WARNING);
  a.set_endpoint("db-1");
  a.set_value(0.5);
  a.set_summary("line1\nline2\t\\ \x01");
  a.set_time_ms(1795301100999);
  EXPECT_EQ(GraphiteEventJson(a),
            "{\"what\":\"[RESOLVED] log \\\"oom\\\" on db-1\",\"tags\":[\"hostwatch\",\"alert\","
            "\"resolved\",\"warning\",\"log_\\\"oom\\\"\",\"db-1\"],\"when\":1795301100,"
            "\"data\":\"line1\\nline2\\t\\\\ \\u0001 (value 0.5)\"}");
  a.set_time_ms(0);
  EXPECT_EQ(GraphiteEventJson(a).find("\"when\""), std::string::npos);
}

}  // namespace
}  // namespace hw::graphite
