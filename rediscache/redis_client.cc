#include "rediscache/redis_client.h"

#include <hiredis/hiredis.h>

#include <charconv>

#include "rediscache/redis_cluster.h"

namespace hw::rediscache {
namespace {

timeval ToTimeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

Reply Convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
  }
  return out;
}

}  // namespace

std::string ParseRunId(std::string_view info) {
  const size_t at = info.find("run_id:");
  if (at == std::string_view::npos) return {};
  std::string_view rest = info.substr(at + 7);
  const size_t end = rest.find_first_of("\r\n");
  return std::string(rest.substr(0, end));
}

Result<std::unique_ptr<RedisConnection>> RedisConnection::Connect(const RedisAddress& address,
                                                                  const ConnectOptions& options) {
  redisContext* ctx =
      redisConnectWithTimeout(address.host.c_str(), address.port, ToTimeval(options.timeout));
  if (ctx == nullptr) return Status::Unavailable("redis " + address.ToString() + ": out of memory");
  if (ctx->err != 0) {
    std::string why = ctx->errstr;
    redisFree(ctx);
    return Status::Unavailable("redis " + address.ToString() + ": " + why);
  }
  redisSetTimeout(ctx, ToTimeval(options.timeout));
  std::unique_ptr<RedisConnection> conn(new RedisConnection(ctx, address));
  if (!options.password.empty()) {
    Command auth{{"AUTH"}};
    if (!options.username.empty()) auth.argv.push_back(options.username);
    auth.argv.push_back(options.password);
    HW_ASSIGN_OR_RETURN(Reply r, conn->RunOne(auth));
    // The reply text names neither the user's password nor ours; it is safe to pass on.
    if (r.error()) {
      return Status::FailedPrecondition("redis " + address.ToString() + ": AUTH refused: " + r.str);
    }
  }
  HW_ASSIGN_OR_RETURN(Reply info, conn->RunOne(Command{{"INFO", "server"}}));
  if (info.error()) {
    return Status::FailedPrecondition("redis " + address.ToString() + ": INFO: " + info.str);
  }
  conn->run_id_ = ParseRunId(info.str);
  return conn;
}

RedisConnection::~RedisConnection() { redisFree(ctx_); }

Status RedisConnection::Send(const std::vector<const Command*>& commands) {
  if (broken_) return Status::Unavailable("redis " + address_.ToString() + ": connection lost");
  // The protocol's multi-bulk form of each argv, written here into one reused buffer and handed to
  // hiredis once per pipeline: its per-command formatting (an sds per command, grown per argument)
  // was a tenth of the cacher's CPU. The same bytes as redisAppendCommandArgv's; arguments are
  // length-prefixed, never interpreted.
  out_.clear();
  char num[24];
  auto append_count = [&](char kind, size_t n) {
    out_ += kind;
    out_.append(num, std::to_chars(num, num + sizeof num, n).ptr);
    out_ += "\r\n";
  };
  for (const Command* c : commands) {
    append_count('*', c->argv.size());
    for (const std::string& a : c->argv) {
      append_count('$', a.size());
      out_ += a;
      out_ += "\r\n";
    }
  }
  if (!out_.empty() && redisAppendFormattedCommand(ctx_, out_.data(), out_.size()) != REDIS_OK) {
    broken_ = true;
    return Status::Unavailable("redis " + address_.ToString() + ": " + ctx_->errstr);
  }
  // Written out now (blocking, bounded by the timeout), not on the first read.
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(ctx_, &done) != REDIS_OK) {
      broken_ = true;
      return Status::Unavailable("redis " + address_.ToString() + ": " + ctx_->errstr);
    }
  }
  return Status::Ok();
}

Result<std::vector<Reply>> RedisConnection::Receive(size_t count) {
  std::vector<Reply> replies;
  replies.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
      broken_ = true;
      return Status::Unavailable("redis " + address_.ToString() + ": " +
                                 (ctx_->err != 0 ? std::string(ctx_->errstr) : "no reply"));
    }
    replies.push_back(Convert(static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  return replies;
}

Result<std::vector<Reply>> RedisConnection::Run(const std::vector<const Command*>& commands) {
  HW_RETURN_IF_ERROR(Send(commands));
  return Receive(commands.size());
}

Result<std::vector<Reply>> RedisConnection::Run(const Pipeline& commands) {
  std::vector<const Command*> ptrs;
  ptrs.reserve(commands.size());
  for (const Command& c : commands) ptrs.push_back(&c);
  return Run(ptrs);
}

Result<Reply> RedisConnection::RunOne(const Command& command) {
  HW_ASSIGN_OR_RETURN(std::vector<Reply> r, Run(std::vector<const Command*>{&command}));
  return std::move(r.front());
}

bool IsTransientError(const Reply& r) {
  if (!r.error()) return false;
  for (std::string_view p :
       {"BUSY", "LOADING", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "OOM"}) {
    if (std::string_view(r.str).starts_with(p)) return true;
  }
  return false;
}

Result<std::vector<Reply>> SingleBackend::Run(const Pipeline& pipeline) {
  if (conn_ == nullptr || conn_->broken()) {
    conn_.reset();
    HW_ASSIGN_OR_RETURN(conn_, RedisConnection::Connect(address_, options_));
    if (!run_id_.empty() && conn_->run_id() != run_id_) restarted_ = true;
    run_id_ = conn_->run_id();
  }
  Result<std::vector<Reply>> r = conn_->Run(pipeline);
  if (!r.ok()) {
    conn_.reset();
    return r;
  }
  for (const Reply& reply : *r) {
    if (IsTransientError(reply))
      return Status::Unavailable("redis " + address_.ToString() + ": " + reply.str);
  }
  return r;
}

bool SingleBackend::TakeRestarted() {
  const bool r = restarted_;
  restarted_ = false;
  return r;
}

std::unique_ptr<RedisBackend> MakeBackend(const std::vector<RedisAddress>& addresses,
                                          const ConnectOptions& options) {
  if (addresses.size() == 1) return std::make_unique<SingleBackend>(addresses[0], options);
  return std::make_unique<ClusterBackend>(addresses, options);
}

}  // namespace hw::rediscache
