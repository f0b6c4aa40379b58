#include "common/config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include "common/strings/strings.h"

namespace hw::config {

struct Document::SectionState {
  YAML::Node node;  // a mapping, or null for an absent/empty section
  std::string path;
  std::set<std::string, std::less<>> read_keys;
};

namespace {

int LineOf(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

// Quotes a value for a message; long values are cut so one bad line never floods the log.
std::string Quote(std::string_view v) {
  std::string out = "\"";
  size_t n = std::min<size_t>(v.size(), 80);
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (n < v.size()) out += "...";
  out += '"';
  return out;
}

std::string_view TypeName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "empty";
    case YAML::NodeType::Undefined:
      return "undefined";
  }
  return "unknown";
}

}  // namespace

// ---- Section ----

const std::string& Section::path() const {
  static const std::string kEmpty;
  return index_ < 0 ? kEmpty : doc_->sections_[index_]->path;
}

std::string Section::KeyPath(std::string_view key) const {
  const std::string& base = path();
  if (base.empty()) return std::string(key);
  if (key.empty()) return base;
  return base + "." + std::string(key);
}

bool Section::Has(std::string_view key) const {
  if (index_ < 0) return false;
  const YAML::Node& node = doc_->sections_[index_]->node;
  if (!node.IsMap()) return false;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return true;
  }
  return false;
}

bool Section::Lookup(std::string_view key, YAML::Node* out) const {
  if (index_ < 0) return false;
  auto& state = *doc_->sections_[index_];
  if (!state.node.IsMap()) return false;
  for (auto it = state.node.begin(); it != state.node.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) {
      state.read_keys.emplace(key);
      *out = it->second;
      return true;
    }
  }
  // Still note the key as known: a later Finish() must not call a present sibling unknown because
  // of it.
  state.read_keys.emplace(key);
  return false;
}

bool Section::Scalar(std::string_view key, std::string* text) {
  YAML::Node node;
  if (!Lookup(key, &node)) return false;
  if (node.IsNull()) return false;
  if (!node.IsScalar()) {
    doc_->AddProblem(LineOf(node), KeyPath(key),
                     "expected a single value, found " + std::string(TypeName(node)));
    return false;
  }
  *text = node.Scalar();
  return true;
}

void Section::Error(std::string_view key, std::string_view message) {
  YAML::Node node;
  int line = 0;
  if (index_ >= 0 && Lookup(key, &node)) {
    line = LineOf(node);
  } else if (index_ >= 0) {
    line = LineOf(doc_->sections_[index_]->node);
  }
  doc_->AddProblem(line, KeyPath(key), message);
}

void Section::Read(std::string_view key, std::string* out) {
  YAML::Node node;
  if (!Lookup(key, &node)) return;
  if (node.IsNull()) {
    out->clear();
    return;
  }
  if (!node.IsScalar()) {
    doc_->AddProblem(LineOf(node), KeyPath(key),
                     "expected a string, found " + std::string(TypeName(node)));
    return;
  }
  *out = node.Scalar();
}

// Every scalar reader is "find the text, parse it, record the parser's complaint at the key".
template <typename T, typename Parse>
void Section::ReadWith(std::string_view key, T* out, Parse parse) {
  std::string text;
  if (!Scalar(key, &text)) return;
  Result<T> v = parse(text);
  if (!v.ok()) {
    Error(key, v.status().message());
    return;
  }
  *out = std::move(v).value();
}

namespace {

Result<bool> ParseBool(const std::string& text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "no" || lower == "off") return false;
  return Status::InvalidArgument(Quote(text) + " is not a boolean (true or false)");
}

template <typename Int>
Result<Int> ParseInteger(const std::string& text, std::string_view what) {
  std::optional<Int> v = strings::ParseNumber<Int>(text);
  if (!v) return Status::InvalidArgument(Quote(text) + " is not " + std::string(what));
  return *v;
}

Result<double> ParseNumber(const std::string& text) {
  std::optional<double> v = strings::ParseNumber<double>(text);
  if (!v || !std::isfinite(*v)) return Status::InvalidArgument(Quote(text) + " is not a number");
  return *v;
}

}  // namespace

void Section::Read(std::string_view key, bool* out) { ReadWith(key, out, ParseBool); }

void Section::Read(std::string_view key, int64_t* out) {
  ReadWith(key, out, [](const std::string& t) { return ParseInteger<int64_t>(t, "an integer"); });
}

void Section::Read(std::string_view key, uint32_t* out) {
  ReadWith(key, out, [](const std::string& t) {
    return ParseInteger<uint32_t>(t, "a non-negative integer below 2^32");
  });
}

void Section::Read(std::string_view key, double* out) { ReadWith(key, out, ParseNumber); }

void Section::Read(std::string_view key, Duration* out) {
  ReadWith(key, out, [](const std::string& t) { return ParseDuration(t); });
}

void Section::ReadSize(std::string_view key, uint64_t* out) {
  ReadWith(key, out, [](const std::string& t) { return ParseSize(t); });
}

void Section::ReadEnum(std::string_view key, std::string* out,
                       std::initializer_list<std::string_view> allowed) {
  std::string text;
  if (!Scalar(key, &text)) return;
  for (std::string_view a : allowed) {
    if (text == a) {
      *out = text;
      return;
    }
  }
  std::string choices;
  for (std::string_view a : allowed) {
    if (!choices.empty()) choices += " | ";
    choices += a;
  }
  Error(key, Quote(text) + " is not one of " + choices);
}

void Section::Read(std::string_view key, std::vector<std::string>* out) {
  YAML::Node node;
  if (!Lookup(key, &node)) return;
  if (node.IsNull()) {
    out->clear();
    return;
  }
  if (node.IsScalar()) {  // a single value where a list is expected: accept it as a list of one
    *out = {node.Scalar()};
    return;
  }
  if (!node.IsSequence()) {
    doc_->AddProblem(LineOf(node), KeyPath(key),
                     "expected a list of strings, found " + std::string(TypeName(node)));
    return;
  }
  std::vector<std::string> items;
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    if (!item.IsScalar()) {
      doc_->AddProblem(LineOf(item), KeyPath(key) + "[" + std::to_string(i) + "]",
                       "expected a string, found " + std::string(TypeName(item)));
      return;
    }
    items.push_back(item.Scalar());
  }
  *out = std::move(items);
}

void Section::Read(std::string_view key, std::map<std::string, std::string>* out) {
  YAML::Node node;
  if (!Lookup(key, &node)) return;
  if (node.IsNull()) {
    out->clear();
    return;
  }
  if (!node.IsMap()) {
    doc_->AddProblem(
        LineOf(node), KeyPath(key),
        "expected a mapping of names to strings, found " + std::string(TypeName(node)));
    return;
  }
  std::map<std::string, std::string> items;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar() || !it->second.IsScalar()) {
      doc_->AddProblem(LineOf(it->first), KeyPath(key), "expected name: value pairs of strings");
      return;
    }
    if (!items.emplace(it->first.Scalar(), it->second.Scalar()).second) {
      doc_->AddProblem(LineOf(it->first), KeyPath(key) + "." + it->first.Scalar(), "duplicate key");
    }
  }
  *out = std::move(items);
}

void Section::Read(std::string_view key, std::map<std::string, std::vector<std::string>>* out) {
  YAML::Node node;
  if (!Lookup(key, &node)) return;
  if (node.IsNull()) {
    out->clear();
    return;
  }
  if (!node.IsMap()) {
    doc_->AddProblem(LineOf(node), KeyPath(key),
                     "expected a mapping of names to lists, found " + std::string(TypeName(node)));
    return;
  }
  std::map<std::string, std::vector<std::string>> items;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string name = it->first.IsScalar() ? it->first.Scalar() : std::string();
    const std::string item_path = KeyPath(key) + "." + name;
    std::vector<std::string> values;
    if (it->second.IsScalar()) {
      values.push_back(it->second.Scalar());
    } else if (it->second.IsSequence()) {
      for (size_t i = 0; i < it->second.size(); ++i) {
        if (!it->second[i].IsScalar()) {
          doc_->AddProblem(LineOf(it->second[i]), item_path, "expected a list of strings");
          return;
        }
        values.push_back(it->second[i].Scalar());
      }
    } else if (!it->second.IsNull()) {
      doc_->AddProblem(LineOf(it->second), item_path, "expected a list of strings");
      return;
    }
    if (!items.emplace(name, std::move(values)).second) {
      doc_->AddProblem(LineOf(it->first), item_path, "duplicate key");
    }
  }
  *out = std::move(items);
}

Section Section::Child(std::string_view key) {
  YAML::Node node;
  if (!Lookup(key, &node) || node.IsNull()) return Section(doc_, -1);
  if (!node.IsMap()) {
    doc_->AddProblem(LineOf(node), KeyPath(key),
                     "expected a mapping, found " + std::string(TypeName(node)));
    return Section(doc_, -1);
  }
  return Section(doc_, doc_->AddSection(node, KeyPath(key)));
}

std::vector<Section> Section::List(std::string_view key) {
  std::vector<Section> out;
  YAML::Node node;
  if (!Lookup(key, &node) || node.IsNull()) return out;
  if (!node.IsSequence()) {
    doc_->AddProblem(LineOf(node), KeyPath(key),
                     "expected a list, found " + std::string(TypeName(node)));
    return out;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    std::string item_path = KeyPath(key) + "[" + std::to_string(i) + "]";
    if (!item.IsMap()) {
      doc_->AddProblem(LineOf(item), item_path,
                       "expected a mapping, found " + std::string(TypeName(item)));
      continue;
    }
    out.push_back(Section(doc_, doc_->AddSection(item, std::move(item_path))));
  }
  return out;
}

std::vector<std::pair<std::string, Section>> Section::Entries(std::string_view key) {
  std::vector<std::pair<std::string, Section>> out;
  YAML::Node node;
  if (!Lookup(key, &node) || node.IsNull()) return out;
  if (!node.IsMap()) {
    doc_->AddProblem(LineOf(node), KeyPath(key),
                     "expected a mapping, found " + std::string(TypeName(node)));
    return out;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) continue;  // Finish() reports non-scalar keys
    std::string name = it->first.Scalar();
    std::string item_path = KeyPath(key) + "." + name;
    if (it->second.IsNull()) {
      // `ops:` with nothing under it: a section with every default.
      out.emplace_back(name,
                       Section(doc_, doc_->AddSection(YAML::Node(YAML::NodeType::Map), item_path)));
      continue;
    }
    if (!it->second.IsMap()) {
      doc_->AddProblem(LineOf(it->second), item_path,
                       "expected a mapping, found " + std::string(TypeName(it->second)));
      continue;
    }
    out.emplace_back(name, Section(doc_, doc_->AddSection(it->second, item_path)));
  }
  return out;
}

// ---- Document ----

Document::Document(std::string name) : name_(std::move(name)) {}
Document::~Document() = default;

int Document::AddSection(const YAML::Node& node, std::string path) {
  auto state = std::make_unique<SectionState>();
  state->node = node;
  state->path = std::move(path);
  sections_.push_back(std::move(state));
  return static_cast<int>(sections_.size() - 1);
}

void Document::AddProblem(int line, std::string_view key_path, std::string_view message) {
  std::string text = name_;
  if (line > 0) text += ":" + std::to_string(line);
  text += ": ";
  if (!key_path.empty()) {
    text += key_path;
    text += ": ";
  }
  text += message;
  problems_.push_back({line, std::move(text)});
}

Result<std::unique_ptr<Document>> Document::LoadFileOrDefaults(const std::string& path) {
  if (path.empty()) return Empty("<defaults>");
  return LoadFile(path);
}

std::unique_ptr<Document> Document::Empty(std::string display_name) {
  std::unique_ptr<Document> doc(new Document(std::move(display_name)));
  doc->AddSection(YAML::Node(YAML::NodeType::Map), "");
  return doc;
}

Result<std::unique_ptr<Document>> Document::LoadString(std::string_view yaml,
                                                       std::string display_name) {
  std::unique_ptr<Document> doc(new Document(std::move(display_name)));
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    std::string where = doc->name_;
    if (!e.mark.is_null()) where += ":" + std::to_string(e.mark.line + 1);
    return Status::InvalidArgument(where + ": invalid YAML: " + e.msg);
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);  // an empty file means all defaults
  if (!root.IsMap()) {
    return Status::InvalidArgument(doc->name_ + ":" + std::to_string(LineOf(root)) +
                                   ": the top level must be a mapping of sections, found " +
                                   std::string(TypeName(root)));
  }
  doc->AddSection(root, "");
  return doc;
}

Result<std::unique_ptr<Document>> Document::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot read config file " + path, errno);
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Status::IoError("cannot read config file " + path, errno);
  return LoadString(buf.str(), path);
}

Status Document::Finish() {
  // Unknown and duplicate keys, in every section that code opened. Sections nobody opened were
  // either reported as unknown keys of their parent or read as whole values.
  for (const auto& state : sections_) {
    if (!state->node.IsMap()) continue;
    std::set<std::string, std::less<>> seen;
    for (auto it = state->node.begin(); it != state->node.end(); ++it) {
      const YAML::Node key = it->first;  // a copy: it-> yields a temporary proxy
      std::string key_text = key.IsScalar() ? key.Scalar() : std::string("<non-scalar key>");
      std::string key_path = state->path.empty() ? key_text : state->path + "." + key_text;
      if (!seen.insert(key_text).second) {
        AddProblem(LineOf(key), key_path, "duplicate key");
        continue;
      }
      if (!key.IsScalar() || !state->read_keys.contains(key_text)) {
        AddProblem(LineOf(key), key_path, "unknown key");
      }
    }
  }
  if (problems_.empty()) return Status::Ok();
  std::stable_sort(problems_.begin(), problems_.end(),
                   [](const Problem& a, const Problem& b) { return a.line < b.line; });
  std::string all;
  for (const Problem& p : problems_) {
    if (!all.empty()) all += "\n";
    all += p.text;
  }
  problems_.clear();
  return Status::InvalidArgument(std::move(all));
}

// ---- YamlWriter ----

struct YamlWriter::Impl {
  YAML::Emitter out;
  bool started = false;
};

YamlWriter::YamlWriter() : impl_(std::make_unique<Impl>()) {}
YamlWriter::~YamlWriter() = default;

YamlWriter& YamlWriter::BeginMap(std::string_view key) {
  if (!key.empty()) impl_->out << YAML::Key << std::string(key) << YAML::Value;
  impl_->out << YAML::BeginMap;
  return *this;
}

YamlWriter& YamlWriter::EndMap() {
  impl_->out << YAML::EndMap;
  return *this;
}

YamlWriter& YamlWriter::Value(std::string_view key, std::string_view v) {
  impl_->out << YAML::Key << std::string(key) << YAML::Value << YAML::DoubleQuoted
             << std::string(v);
  return *this;
}

YamlWriter& YamlWriter::Value(std::string_view key, bool v) {
  impl_->out << YAML::Key << std::string(key) << YAML::Value << YAML::TrueFalseBool << v;
  return *this;
}

YamlWriter& YamlWriter::Value(std::string_view key, int64_t v) {
  impl_->out << YAML::Key << std::string(key) << YAML::Value << v;
  return *this;
}

YamlWriter& YamlWriter::Value(std::string_view key, double v) {
  impl_->out << YAML::Key << std::string(key) << YAML::Value << v;
  return *this;
}

YamlWriter& YamlWriter::Value(std::string_view key, Duration v) {
  impl_->out << YAML::Key << std::string(key) << YAML::Value << FormatDuration(v);
  return *this;
}

YamlWriter& YamlWriter::Size(std::string_view key, uint64_t bytes) {
  impl_->out << YAML::Key << std::string(key) << YAML::Value << FormatSize(bytes);
  return *this;
}

YamlWriter& YamlWriter::Value(std::string_view key, const std::vector<std::string>& v) {
  impl_->out << YAML::Key << std::string(key) << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& s : v) impl_->out << YAML::DoubleQuoted << s;
  impl_->out << YAML::EndSeq;
  return *this;
}

YamlWriter& YamlWriter::Value(std::string_view key, const std::map<std::string, std::string>& v) {
  impl_->out << YAML::Key << std::string(key) << YAML::Value << YAML::Flow << YAML::BeginMap;
  for (const auto& [k, val] : v)
    impl_->out << YAML::Key << k << YAML::Value << YAML::DoubleQuoted << val;
  impl_->out << YAML::EndMap;
  return *this;
}

YamlWriter& YamlWriter::Value(std::string_view key,
                              const std::map<std::string, std::vector<std::string>>& v) {
  impl_->out << YAML::Key << std::string(key) << YAML::Value << YAML::BeginMap;
  for (const auto& [k, list] : v) {
    impl_->out << YAML::Key << k << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& s : list) impl_->out << YAML::DoubleQuoted << s;
    impl_->out << YAML::EndSeq;
  }
  impl_->out << YAML::EndMap;
  return *this;
}

YamlWriter& YamlWriter::Secret(std::string_view key, const std::string& v) {
  impl_->out << YAML::Key << std::string(key) << YAML::Value << (v.empty() ? "" : "<set>");
  return *this;
}

std::string YamlWriter::str() const { return std::string(impl_->out.c_str()) + "\n"; }

}  // namespace hw::config
