#include "rediscache/redis_cluster.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "common/strings/strings.h"

namespace hw::rediscache {

uint16_t Crc16(std::string_view data) {
  uint16_t crc = 0;
  for (char ch : data) {
    crc ^= static_cast<uint16_t>(static_cast<unsigned char>(ch) << 8);
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

uint16_t KeySlot(std::string_view key) {
  const size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  return Crc16(key) & 16383;
}

bool ParseRedirect(std::string_view error, Redirect* out) {
  if (error.starts_with("MOVED ")) {
    out->ask = false;
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    out->ask = true;
    error.remove_prefix(4);
  } else {
    return false;
  }
  const size_t sp = error.find(' ');
  if (sp == std::string_view::npos) return false;
  std::optional<uint64_t> slot = strings::ParseU64(error.substr(0, sp));
  if (!slot || *slot > 16383) return false;
  Result<RedisAddress> a = ParseRedisUrl(std::string(strings::Trim(error.substr(sp + 1))));
  if (!a.ok()) return false;
  out->slot = static_cast<uint16_t>(*slot);
  out->address = *a;
  return true;
}

ClusterBackend::ClusterBackend(std::vector<RedisAddress> seeds, ConnectOptions options)
    : seeds_(std::move(seeds)), options_(std::move(options)), slots_(16384, -1) {}

std::string ClusterBackend::Describe() const {
  std::string out = "cluster";
  for (const RedisAddress& a : seeds_) out += " " + a.ToString();
  return out;
}

int ClusterBackend::NodeIndex(const RedisAddress& address) {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].address == address) return static_cast<int>(i);
  }
  nodes_.push_back(Node{address, nullptr, {}});
  return static_cast<int>(nodes_.size() - 1);
}

Result<RedisConnection*> ClusterBackend::Connection(int node) {
  Node& n = nodes_[static_cast<size_t>(node)];
  if (n.conn == nullptr || n.conn->broken()) {
    n.conn.reset();
    HW_ASSIGN_OR_RETURN(n.conn, RedisConnection::Connect(n.address, options_));
    if (!n.run_id.empty() && n.conn->run_id() != n.run_id) restarted_ = true;
    n.run_id = n.conn->run_id();
  }
  return n.conn.get();
}

Status ClusterBackend::Refresh() {
  ++refreshes_;
  std::vector<RedisAddress> candidates;
  for (const Node& n : nodes_) candidates.push_back(n.address);
  for (const RedisAddress& s : seeds_) {
    if (std::find(candidates.begin(), candidates.end(), s) == candidates.end())
      candidates.push_back(s);
  }
  Status last = Status::Unavailable("no cluster node reachable");
  for (const RedisAddress& a : candidates) {
    Result<RedisConnection*> conn = Connection(NodeIndex(a));
    if (!conn.ok()) {
      last = conn.status();
      continue;
    }
    Result<Reply> r = (*conn)->RunOne(Command{{"CLUSTER", "SLOTS"}});
    if (!r.ok() || r->type != Reply::Type::kArray) {
      last = r.ok() ? Status::Unavailable("CLUSTER SLOTS from " + a.ToString() + ": " + r->str)
                    : r.status();
      continue;
    }
    std::vector<int> slots(16384, -1);
    for (const Reply& range : r->elements) {
      if (range.elements.size() < 3 || range.elements[2].elements.size() < 2) continue;
      const Reply& master = range.elements[2];
      RedisAddress addr{master.elements[0].str, static_cast<uint16_t>(master.elements[1].integer)};
      if (addr.host.empty()) addr.host = a.host;  // a node announcing "" means "the one you asked"
      const int idx = NodeIndex(addr);
      for (long long s = range.elements[0].integer; s <= range.elements[1].integer && s < 16384;
           ++s) {
        if (s >= 0) slots[static_cast<size_t>(s)] = idx;
      }
    }
    slots_ = std::move(slots);
    have_topology_ = true;
    return Status::Ok();
  }
  return last;
}

Result<std::vector<Reply>> ClusterBackend::Run(const Pipeline& pipeline) {
  if (!have_topology_) HW_RETURN_IF_ERROR(Refresh());
  struct Todo {
    size_t index;
    int node;
    bool asking;
  };
  std::vector<Reply> out(pipeline.size());
  std::vector<Todo> todo;
  todo.reserve(pipeline.size());
  for (size_t i = 0; i < pipeline.size(); ++i) {
    const std::string_view key =
        pipeline[i].argv.size() > 1 ? std::string_view(pipeline[i].argv[1]) : std::string_view();
    const int node = slots_[KeySlot(key)];
    if (node < 0) {
      have_topology_ = false;
      return Status::Unavailable("redis cluster: slot " + std::to_string(KeySlot(key)) +
                                 " is not served");
    }
    todo.push_back({i, node, false});
  }
  static const Command kAsking{{"ASKING"}};
  bool moved = false;
  for (int round = 0; !todo.empty(); ++round) {
    if (round == 5) return Status::Unavailable("redis cluster: too many redirects");
    // One pipeline per node, each in the order of the batch (so a key's commands keep theirs).
    std::map<int, std::vector<const Todo*>> by_node;
    for (const Todo& t : todo) by_node[t.node].push_back(&t);
    std::vector<Todo> next;
    // Every master's pipeline goes out first, then the replies are read: one round trip for the
    // cluster, and no gap (a crash between two masters' pipelines) wider than it has to be.
    std::map<int, std::vector<const Command*>> sent;
    for (const auto& [node, items] : by_node) {
      std::vector<const Command*>& cmds = sent[node];
      for (const Todo* t : items) {
        if (t->asking) cmds.push_back(&kAsking);
        cmds.push_back(&pipeline[t->index]);
      }
      Result<RedisConnection*> conn = Connection(node);
      Status s = conn.ok() ? (*conn)->Send(cmds) : conn.status();
      if (!s.ok()) {
        nodes_[static_cast<size_t>(node)].conn.reset();
        have_topology_ = false;  // the node may be gone: ask the others next time
        return s;
      }
    }
    Status failure;
    for (const auto& [node, items] : by_node) {
      std::unique_ptr<RedisConnection>& conn = nodes_[static_cast<size_t>(node)].conn;
      if (!failure.ok()) {
        conn.reset();  // its replies were not read: the connection is out of step
        continue;
      }
      Result<std::vector<Reply>> replies = conn->Receive(sent[node].size());
      if (!replies.ok()) {
        conn.reset();
        have_topology_ = false;
        failure = replies.status();
        continue;
      }
      size_t r = 0;
      for (const Todo* t : items) {
        if (t->asking) ++r;  // ASKING's +OK
        Reply& reply = (*replies)[r++];
        Redirect redirect;
        if (reply.error() && ParseRedirect(reply.str, &redirect)) {
          ++redirects_;
          const int target = NodeIndex(redirect.address);
          if (!redirect.ask) {
            slots_[redirect.slot] = target;
            moved = true;
          }
          next.push_back({t->index, target, redirect.ask});
        } else if (IsTransientError(reply)) {
          if (failure.ok()) {
            failure = Status::Unavailable("redis cluster " +
                                          nodes_[static_cast<size_t>(node)].address.ToString() +
                                          ": " + reply.str);
          }
        } else {
          out[t->index] = std::move(reply);
        }
      }
    }
    if (!failure.ok()) return failure;
    std::sort(next.begin(), next.end(),
              [](const Todo& a, const Todo& b) { return a.index < b.index; });
    todo = std::move(next);
  }
  if (moved) {
    // Slots moved: learn the whole new map, not one slot at a time.
    const Status s = Refresh();
    spdlog::info("redis cluster: slots moved, topology refreshed{} ({} redirects so far)",
                 s.ok() ? "" : " failed: " + s.message(), redirects_);
  }
  return out;
}

bool ClusterBackend::TakeRestarted() {
  const bool r = restarted_;
  restarted_ = false;
  return r;
}

}  // namespace hw::rediscache
