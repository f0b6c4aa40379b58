#include "graphite/graphite_events.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include "common/consumer/backoff.h"
#include "common/strings/strings.h"

namespace hw::graphite {
namespace {

using strings::AppendJsonString;

// A tag is one word: graphite-web joins a list of tags with spaces and splits them again.
std::string TagWord(std::string_view s) {
  std::string out;
  for (unsigned char c : s) out.push_back(c <= ' ' || c == 0x7f ? '_' : static_cast<char>(c));
  return out.empty() ? "_" : out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

}  // namespace

std::string GraphiteEventJson(const hostwatch::v1::Alert& a) {
  const std::string state = hostwatch::v1::Alert::State_Name(a.state());
  const std::string severity = hostwatch::v1::Severity_Name(a.severity());
  std::string what = "[" + state + "] " + a.rule() + " on " + a.endpoint();
  if (!a.series().empty()) what += ": " + a.series();
  char value[64];
  std::snprintf(value, sizeof(value), "%.17g", a.value());
  std::string data = a.summary().empty() ? std::string() : a.summary() + " ";
  data += "(value " + std::string(value) + ")";
  std::string out = "{\"what\":";
  AppendJsonString(what, &out);
  out += ",\"tags\":[\"hostwatch\",\"alert\"";
  for (const std::string& t :
       {Lower(state), Lower(severity), TagWord(a.rule()), TagWord(a.endpoint())}) {
    out += ",";
    AppendJsonString(t, &out);
  }
  out += "]";
  // Without a time graphite-web files the event at its own now().
  if (a.time_ms() > 0) out += ",\"when\":" + std::to_string(a.time_ms() / 1000);
  out += ",\"data\":";
  AppendJsonString(data, &out);
  out += "}";
  return out;
}

GraphiteEvents::GraphiteEvents(std::string base_url, std::chrono::milliseconds timeout)
    : url_([&] {
        while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
        return base_url + "/events/";
      }()),
      timeout_(timeout) {
  thread_ = std::thread([this] { Run(); });
}

GraphiteEvents::~GraphiteEvents() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  thread_.join();
}

void GraphiteEvents::Post(const hostwatch::v1::AlertBatch& batch, uint64_t ticket) {
  Job job;
  job.ticket = ticket;
  for (const auto& a : batch.alerts()) job.bodies.push_back(GraphiteEventJson(a));
  MutexLock lock(&mu_);
  queue_.push_back(std::move(job));
  cv_.Signal();
}

bool GraphiteEvents::Drain(std::chrono::milliseconds max_wait) {
  const auto until = std::chrono::steady_clock::now() + max_wait;
  MutexLock lock(&mu_);
  while (!queue_.empty() || busy_) {
    if (!idle_cv_.WaitUntil(&mu_, until)) return queue_.empty() && !busy_;
  }
  return true;
}

std::vector<uint64_t> GraphiteEvents::TakeDone() {
  MutexLock lock(&mu_);
  std::vector<uint64_t> out;
  out.swap(done_);
  return out;
}

long GraphiteEvents::PostOne(const std::string& body, std::string* error) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    *error = "curl_easy_init failed";
    return -1;
  }
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Discard);
  CURLcode rc = curl_easy_perform(curl);
  long status = -1;
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300)
      status = 0;
    else
      *error = "HTTP " + std::to_string(status);
  } else {
    *error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return status;
}

void GraphiteEvents::Run() {
  consumer::Backoff backoff;
  for (;;) {
    Job job;
    {
      MutexLock lock(&mu_);
      while (!stop_ && queue_.empty()) cv_.Wait(&mu_);
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    for (const std::string& body : job.bodies) {
      for (int attempt = 1;; ++attempt) {
        std::string error;
        long status = PostOne(body, &error);
        if (status == 0) {
          ++posted;
          backoff.Reset();
          break;
        }
        const bool final = (status >= 400 && status < 500) || attempt >= kMaxAttempts;
        if (final) {
          ++failed;
          spdlog::error("graphite event to {} dropped after {} attempt(s): {}", url_, attempt,
                        error);
          break;
        }
        ++retries;
        MutexLock lock(&mu_);
        (void)cv_.WaitUntil(&mu_, std::chrono::steady_clock::now() + backoff.Next());
        if (stop_) return;
      }
    }
    MutexLock lock(&mu_);
    done_.push_back(job.ticket);
    busy_ = false;
    if (queue_.empty()) idle_cv_.SignalAll();
  }
}

}  // namespace hw::graphite
