// Reading one YAML config file into typed structs.
//
// Every process reads its file the same way: a Reader walks the document, each Read* call takes a
// key, converts its value and leaves the default in place when the key is absent. Every mistake is
// kept with its place, so the operator gets all of them at once, each as
//     collector.yaml:12: collector.plugins.cpu.interval: "10x" is not a duration (...)
// and Finish() also reports keys nobody read (typos must not be silently ignored) and duplicate
// keys.
//
// Not thread-safe; a Reader lives for one load. yaml-cpp exceptions never escape this module.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config/units.h"
#include "common/status/status.h"

namespace YAML {
class Node;
}

namespace hw::config {

class Document;

// A position in the document: one mapping (a "section") and the key path leading to it.
// Cheap to copy; valid while its Document lives. A Section for a key that is absent reads as empty,
// so every Read* on it leaves defaults in place.
class Section {
 public:
  // True when the key is present (even with a null value).
  bool Has(std::string_view key) const;
  bool present() const { return index_ >= 0; }

  void Read(std::string_view key, std::string* out);
  void Read(std::string_view key, bool* out);
  void Read(std::string_view key, int64_t* out);
  void Read(std::string_view key, uint32_t* out);
  void Read(std::string_view key, double* out);
  void Read(std::string_view key, Duration* out);
  void Read(std::string_view key, std::vector<std::string>* out);
  void Read(std::string_view key, std::map<std::string, std::string>* out);
  // name -> list, e.g. curve bindings `{collector-key: [game-01, game-02]}`.
  void Read(std::string_view key, std::map<std::string, std::vector<std::string>>* out);
  // Byte sizes are plain integers in C++, so they get their own name.
  void ReadSize(std::string_view key, uint64_t* out);
  // One of a fixed set of words, e.g. fsync: interval | always.
  void ReadEnum(std::string_view key, std::string* out,
                std::initializer_list<std::string_view> allowed);

  // A nested mapping: `cpu: {enabled: true}`.
  Section Child(std::string_view key);
  // A list of mappings: `files: [{path: ...}, ...]`. Each element is a Section named key[i].
  std::vector<Section> List(std::string_view key);
  // A mapping of names to mappings: `receivers: {ops: {...}, dev: {...}}`.
  std::vector<std::pair<std::string, Section>> Entries(std::string_view key);

  // Records a validation error about `key` at its line (or this section's line when absent).
  void Error(std::string_view key, std::string_view message);
  // Error(key, message) unless ok.
  void Check(bool ok, std::string_view key, std::string_view message) {
    if (!ok) Error(key, message);
  }

  // "collector.plugins.cpu"; empty for the root.
  const std::string& path() const;

 private:
  friend class Document;
  Section(Document* doc, int index) : doc_(doc), index_(index) {}

  // Copies the value node for key into *out and marks the key as read; false when absent.
  bool Lookup(std::string_view key, YAML::Node* out) const;
  // The scalar text of key; false when absent or null (an error is recorded when not a scalar).
  bool Scalar(std::string_view key, std::string* text);
  std::string KeyPath(std::string_view key) const;
  template <typename T, typename Parse>
  void ReadWith(std::string_view key, T* out, Parse parse);

  Document* doc_ = nullptr;
  int index_ = -1;  // into Document::sections_; -1: absent section
};

class Document {
 public:
  // A missing or unreadable file, or YAML syntax errors, come back as InvalidArgument naming the
  // file and line.
  static Result<std::unique_ptr<Document>> LoadFile(const std::string& path);
  // display_name stands in for the file name in messages.
  static Result<std::unique_ptr<Document>> LoadString(std::string_view yaml,
                                                      std::string display_name);
  // An empty document: every Read* leaves defaults (the process runs without a config file).
  static std::unique_ptr<Document> Empty(std::string display_name);
  // What a daemon's --config gives: LoadFile(path), or Empty("<defaults>") when path is empty.
  static Result<std::unique_ptr<Document>> LoadFileOrDefaults(const std::string& path);

  ~Document();
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;

  Section root() { return Section(this, 0); }

  // Reports every error so far plus unknown and duplicate keys. InvalidArgument with one line per
  // problem, sorted by line; OK when the document was read cleanly.
  Status Finish();

  const std::string& name() const { return name_; }

 private:
  friend class Section;
  struct SectionState;
  struct Problem {
    int line;  // 1-based; 0 when unknown
    std::string text;
  };

  explicit Document(std::string name);
  int AddSection(const YAML::Node& node, std::string path);
  void AddProblem(int line, std::string_view key_path, std::string_view message);

  std::string name_;
  std::vector<std::unique_ptr<SectionState>> sections_;
  std::vector<Problem> problems_;
};

// Writes YAML for --check-config (the effective config). Thin on purpose: callers build a tree of
// key/value pairs in declaration order.
class YamlWriter {
 public:
  YamlWriter();
  ~YamlWriter();
  YamlWriter& BeginMap(std::string_view key);  // nested mapping under key (empty key: top level)
  YamlWriter& EndMap();
  YamlWriter& Value(std::string_view key, std::string_view v);
  YamlWriter& Value(std::string_view key, const char* v) { return Value(key, std::string_view(v)); }
  YamlWriter& Value(std::string_view key, bool v);
  YamlWriter& Value(std::string_view key, int64_t v);
  YamlWriter& Value(std::string_view key, uint32_t v) {
    return Value(key, static_cast<int64_t>(v));
  }
  YamlWriter& Value(std::string_view key, double v);
  YamlWriter& Value(std::string_view key, Duration v);
  YamlWriter& Size(std::string_view key, uint64_t bytes);
  YamlWriter& Value(std::string_view key, const std::vector<std::string>& v);
  YamlWriter& Value(std::string_view key, const std::map<std::string, std::string>& v);
  YamlWriter& Value(std::string_view key, const std::map<std::string, std::vector<std::string>>& v);
  // Secrets are never printed, only whether one is set.
  YamlWriter& Secret(std::string_view key, const std::string& v);
  std::string str() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hw::config
