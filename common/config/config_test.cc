#include "common/config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"

namespace hw::config {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

// A small config shaped like the real ones: nested sections, lists of mappings, named entries.
struct CpuPlugin {
  bool enabled = true;
  Duration interval = milliseconds(10'000);
  bool per_core = true;
};
struct FileRule {
  std::string path;
  std::vector<std::string> rules;
  std::string from = "end";
};
struct Receiver {
  std::vector<std::string> email;
  std::string webhook;
};
struct TestConfig {
  std::string endpoint;
  std::map<std::string, std::string> host_tags;
  Duration interval = milliseconds(10'000);
  uint64_t spool_max_bytes = 256ull << 20;
  int64_t window = 256;
  uint32_t partitions = 4;
  double ratio = 0.5;
  std::string fsync = "interval";
  CpuPlugin cpu;
  std::vector<FileRule> files;
  std::map<std::string, Receiver> receivers;
};

Status ReadTestConfig(Document& doc, TestConfig* cfg) {
  Section top = doc.root().Child("collector");
  top.Read("endpoint", &cfg->endpoint);
  top.Read("host_tags", &cfg->host_tags);
  top.Read("interval", &cfg->interval);
  top.ReadSize("spool_max_bytes", &cfg->spool_max_bytes);
  top.Read("window", &cfg->window);
  top.Check(cfg->window > 0, "window", "must be at least 1");
  top.Read("partitions", &cfg->partitions);
  top.Read("ratio", &cfg->ratio);
  top.ReadEnum("fsync", &cfg->fsync, {"interval", "always"});
  Section cpu = top.Child("plugins").Child("cpu");
  cpu.Read("enabled", &cfg->cpu.enabled);
  cpu.Read("interval", &cfg->cpu.interval);
  cpu.Read("per_core", &cfg->cpu.per_core);
  for (Section f : top.List("files")) {
    FileRule rule;
    f.Read("path", &rule.path);
    f.Check(!rule.path.empty(), "path", "is required");
    f.Read("rules", &rule.rules);
    f.ReadEnum("from", &rule.from, {"end", "beginning"});
    cfg->files.push_back(rule);
  }
  for (auto& [name, r] : top.Entries("receivers")) {
    Receiver rec;
    r.Read("email", &rec.email);
    r.Read("webhook", &rec.webhook);
    cfg->receivers[name] = rec;
  }
  return doc.Finish();
}

Result<TestConfig> Load(std::string_view yaml) {
  HW_ASSIGN_OR_RETURN(auto doc, Document::LoadString(yaml, "collector.yaml"));
  TestConfig cfg;
  HW_RETURN_IF_ERROR(ReadTestConfig(*doc, &cfg));
  return cfg;
}

TEST(ConfigTest, EmptyDocumentGivesDefaults) {
  Result<TestConfig> cfg = Load("");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->interval, milliseconds(10'000));
  EXPECT_EQ(cfg->window, 256);
  EXPECT_TRUE(cfg->files.empty());

  auto empty = Document::Empty("defaults");
  TestConfig d;
  EXPECT_TRUE(ReadTestConfig(*empty, &d).ok());
  EXPECT_EQ(d.spool_max_bytes, 256ull << 20);
}

TEST(ConfigTest, ReadsEveryKind) {
  Result<TestConfig> cfg = Load(R"(
collector:
  endpoint: game-01
  host_tags: {idc: sgp, group: game}
  interval: 5s
  spool_max_bytes: 64MiB
  window: 32
  partitions: 8
  ratio: 0.25
  fsync: always
  plugins:
    cpu: {enabled: false, interval: 250ms, per_core: no}
  files:
    - {path: /var/log/a.log, rules: [r1, r2], from: beginning}
    - path: /var/log/b.log
      rules: r3
  receivers:
    ops: {email: [ops@example.com], webhook: "http://127.0.0.1:9/x"}
    quiet:
)");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->endpoint, "game-01");
  EXPECT_EQ(cfg->host_tags.at("idc"), "sgp");
  EXPECT_EQ(cfg->interval, milliseconds(5000));
  EXPECT_EQ(cfg->spool_max_bytes, 64ull << 20);
  EXPECT_EQ(cfg->window, 32);
  EXPECT_EQ(cfg->partitions, 8u);
  EXPECT_DOUBLE_EQ(cfg->ratio, 0.25);
  EXPECT_EQ(cfg->fsync, "always");
  EXPECT_FALSE(cfg->cpu.enabled);
  EXPECT_EQ(cfg->cpu.interval, milliseconds(250));
  EXPECT_FALSE(cfg->cpu.per_core);
  ASSERT_EQ(cfg->files.size(), 2u);
  EXPECT_EQ(cfg->files[0].rules, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(cfg->files[0].from, "beginning");
  EXPECT_EQ(cfg->files[1].rules, (std::vector<std::string>{"r3"}));
  EXPECT_EQ(cfg->files[1].from, "end");
  ASSERT_EQ(cfg->receivers.size(), 2u);
  EXPECT_EQ(cfg->receivers.at("ops").email, (std::vector<std::string>{"ops@example.com"}));
  EXPECT_TRUE(cfg->receivers.at("quiet").email.empty());
}

TEST(ConfigTest, BadDurationNamesFileLineAndKey) {
  Result<TestConfig> cfg = Load(
      "collector:\n"
      "  endpoint: x\n"
      "  plugins:\n"
      "    cpu:\n"
      "      interval: 10x\n");
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(cfg.status().message(),
            "collector.yaml:5: collector.plugins.cpu.interval: \"10x\" is not a duration "
            "(use e.g. 250ms, 10s, 5m, 2h, 7d)");
}

TEST(ConfigTest, UnknownKeysAreErrorsWithTheirLine) {
  Result<TestConfig> cfg = Load(
      "collector:\n"
      "  endpiont: x\n"
      "  plugins:\n"
      "    cpu: {enabled: true, intreval: 5s}\n"
      "    gpu: {enabled: true}\n"
      "logwatch: {}\n");
  ASSERT_FALSE(cfg.ok());
  const std::string& msg = cfg.status().message();
  EXPECT_THAT(msg, HasSubstr("collector.yaml:2: collector.endpiont: unknown key"));
  EXPECT_THAT(msg, HasSubstr("collector.yaml:4: collector.plugins.cpu.intreval: unknown key"));
  EXPECT_THAT(msg, HasSubstr("collector.yaml:5: collector.plugins.gpu: unknown key"));
  EXPECT_THAT(msg, HasSubstr("collector.yaml:6: logwatch: unknown key"));
}

TEST(ConfigTest, ReportsEveryProblemSortedByLine) {
  Result<TestConfig> cfg = Load(
      "collector:\n"
      "  window: 0\n"
      "  partitions: -3\n"
      "  ratio: lots\n"
      "  fsync: sometimes\n"
      "  spool_max_bytes: 1.5B\n"
      "  interval: [1, 2]\n");
  ASSERT_FALSE(cfg.ok());
  std::vector<std::string> lines;
  std::string msg = cfg.status().message();
  size_t pos = 0;
  while (pos <= msg.size()) {
    size_t nl = msg.find('\n', pos);
    if (nl == std::string::npos) nl = msg.size();
    lines.push_back(msg.substr(pos, nl - pos));
    pos = nl + 1;
  }
  ASSERT_EQ(lines.size(), 6u) << msg;
  EXPECT_EQ(lines[0], "collector.yaml:2: collector.window: must be at least 1");
  EXPECT_THAT(lines[1], HasSubstr("collector.yaml:3: collector.partitions: \"-3\""));
  EXPECT_THAT(lines[2], HasSubstr("collector.yaml:4: collector.ratio: \"lots\" is not a number"));
  EXPECT_THAT(
      lines[3],
      HasSubstr(
          "collector.yaml:5: collector.fsync: \"sometimes\" is not one of interval | always"));
  EXPECT_THAT(lines[4], HasSubstr("collector.yaml:6: collector.spool_max_bytes:"));
  EXPECT_THAT(
      lines[5],
      HasSubstr("collector.yaml:7: collector.interval: expected a single value, found a list"));
}

TEST(ConfigTest, ListItemsAreNamedByIndex) {
  Result<TestConfig> cfg = Load(
      "collector:\n"
      "  files:\n"
      "    - {path: /a}\n"
      "    - {rules: [x], form: end}\n");
  ASSERT_FALSE(cfg.ok());
  EXPECT_THAT(cfg.status().message(),
              HasSubstr("collector.yaml:4: collector.files[1].path: is required"));
  EXPECT_THAT(cfg.status().message(),
              HasSubstr("collector.yaml:4: collector.files[1].form: unknown key"));
}

TEST(ConfigTest, DuplicateKeysAreErrors) {
  Result<TestConfig> cfg = Load(
      "collector:\n"
      "  window: 5\n"
      "  window: 6\n");
  ASSERT_FALSE(cfg.ok());
  EXPECT_THAT(cfg.status().message(),
              HasSubstr("collector.yaml:3: collector.window: duplicate key"));
}

TEST(ConfigTest, WrongShapesAreErrors) {
  Result<TestConfig> a = Load("collector: [1, 2]\n");
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.status().message(),
              HasSubstr("collector.yaml:1: collector: expected a mapping, found a list"));

  Result<TestConfig> b = Load("collector:\n  host_tags: [a, b]\n");
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(),
              HasSubstr("collector.yaml:2: collector.host_tags: expected a mapping"));

  Result<TestConfig> c = Load("collector:\n  files: {path: /a}\n");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("collector.yaml:2: collector.files: expected a list"));
}

TEST(ConfigTest, SyntaxErrorsNameTheLine) {
  auto doc = Document::LoadString("collector:\n  endpoint: [unclosed\n  window: 3\n", "bad.yaml");
  ASSERT_FALSE(doc.ok());
  EXPECT_THAT(doc.status().message(), HasSubstr("bad.yaml:"));
  EXPECT_THAT(doc.status().message(), HasSubstr("invalid YAML"));

  auto scalar_top = Document::LoadString("just a string\n", "top.yaml");
  ASSERT_FALSE(scalar_top.ok());
  EXPECT_THAT(scalar_top.status().message(),
              HasSubstr("top.yaml:1: the top level must be a mapping"));
}

TEST(ConfigTest, LoadsFilesAndNamesMissingOnes) {
  testing::TempDir dir;
  auto path = dir.path() / "c.yaml";
  ASSERT_TRUE(testing::WriteFile(path, "collector:\n  window: 9\n").ok());
  auto doc = Document::LoadFile(path.string());
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  TestConfig cfg;
  ASSERT_TRUE(ReadTestConfig(**doc, &cfg).ok());
  EXPECT_EQ(cfg.window, 9);
  EXPECT_EQ((*doc)->name(), path.string());

  auto missing = Document::LoadFile((dir.path() / "nope.yaml").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("nope.yaml"));
  EXPECT_THAT(missing.status().message(), HasSubstr("No such file or directory"));
}

TEST(YamlWriterTest, EffectiveConfigReadsBack) {
  YamlWriter w;
  w.BeginMap("").BeginMap("collector");
  w.Value("endpoint", "game-01")
      .Value("interval", milliseconds(5000))
      .Size("spool_max_bytes", 64ull << 20)
      .Value("window", int64_t{32})
      .Value("host_tags", std::map<std::string, std::string>{{"idc", "sgp"}})
      .Secret("password", "hunter2");
  w.EndMap().EndMap();
  std::string text = w.str();
  EXPECT_THAT(text, ::testing::Not(HasSubstr("hunter2")));
  EXPECT_THAT(text, HasSubstr("64MiB"));

  auto doc = Document::LoadString(text, "effective");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString() << "\n" << text;
  Section c = (*doc)->root().Child("collector");
  TestConfig cfg;
  c.Read("endpoint", &cfg.endpoint);
  c.Read("interval", &cfg.interval);
  c.ReadSize("spool_max_bytes", &cfg.spool_max_bytes);
  c.Read("window", &cfg.window);
  c.Read("host_tags", &cfg.host_tags);
  std::string password;
  c.Read("password", &password);
  ASSERT_TRUE((*doc)->Finish().ok());
  EXPECT_EQ(cfg.endpoint, "game-01");
  EXPECT_EQ(cfg.interval, milliseconds(5000));
  EXPECT_EQ(cfg.spool_max_bytes, 64ull << 20);
  EXPECT_EQ(cfg.window, 32);
  EXPECT_EQ(cfg.host_tags.at("idc"), "sgp");
  EXPECT_EQ(password, "<set>");
}

}  // namespace
}  // namespace hw::config
