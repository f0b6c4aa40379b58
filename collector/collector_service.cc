#include "collector/collector_service.h"

#include <spdlog/spdlog.h>

#include "collector/builtin_plugins.h"
#include "collector/proc_text.h"
#include "collector/publisher.h"

namespace hw::collector {
namespace {

// Everything after the link that a reload may replace.
struct Running {
  std::unique_ptr<Publisher> publisher;
  std::unique_ptr<Scheduler> scheduler;
};

bool SameLink(const CollectorConfig& a, const CollectorConfig& b) {
  const transport::LinkConfig &x = a.link, &y = b.link;
  return a.EffectiveEndpoint() == b.EffectiveEndpoint() && x.brokers == y.brokers &&
         x.backends == y.backends && x.spool_dir == y.spool_dir &&
         x.spool_max_bytes == y.spool_max_bytes && x.window == y.window &&
         x.curve.enabled == y.curve.enabled && x.curve.secret_key_file == y.curve.secret_key_file &&
         x.curve.public_key_file == y.curve.public_key_file &&
         x.curve.server_public_key_file == y.curve.server_public_key_file;
}

class CollectorService : public daemon::Service<CollectorConfig> {
 public:
  explicit CollectorService(const CollectorConfig& config) : config_(config) {}
  ~CollectorService() override { Stop(); }

  // No health check of its own (a plugin that fails is logged and counted, the rest carry on):
  // the main thread need not wake every second.
  std::chrono::milliseconds HealthInterval() const override { return std::chrono::minutes(1); }

  Status Start() override {
    HW_RETURN_IF_ERROR(StartLink(config_));
    HW_ASSIGN_OR_RETURN(running_, StartPlugins(config_));
    spdlog::info("collecting as {} with {} plugins; publishing to {}", config_.EffectiveEndpoint(),
                 EnabledCount(config_), config_.link.brokers.front());
    return Status::Ok();
  }

  Status Reload(const CollectorConfig& next) override {
    // Create the new plugins before touching the running ones: a plugin that cannot be created
    // leaves the old set running.
    HW_ASSIGN_OR_RETURN(std::vector<ScheduledPlugin> plugins,
                        CreatePlugins(next, HostEnv::Real(next.proc_root, next.sys_root)));
    plugins.clear();
    running_.scheduler->Stop();
    running_ = {};
    if (!SameLink(config_, next)) {
      link_->Stop(std::chrono::seconds(2));
      link_.reset();
      if (Status s = StartLink(next); !s.ok()) {
        // Without a link nothing can be sent; carry on with the old link settings.
        spdlog::error("reload: new link settings failed ({}); keeping the old ones", s.ToString());
        HW_RETURN_IF_ERROR(StartLink(config_));
        HW_ASSIGN_OR_RETURN(running_, StartPlugins(config_));
        return s;
      }
    }
    config_ = next;
    HW_ASSIGN_OR_RETURN(running_, StartPlugins(config_));
    return Status::Ok();
  }

  void Stop() override {
    if (running_.scheduler) running_.scheduler->Stop();
    running_ = {};
    if (link_) {
      // Whatever is not acked by then stays in the spool and is resent by the next start.
      link_->Stop(std::chrono::seconds(3));
      link_.reset();
    }
  }

 private:
  static size_t EnabledCount(const CollectorConfig& c) {
    size_t n = 0;
    for (const PluginConfig& p : c.plugins) n += p.enabled ? 1 : 0;
    return n;
  }

  Status StartLink(const CollectorConfig& c) {
    transport::ProducerOptions o;
    o.endpoint = c.EffectiveEndpoint();
    o.component = "collector";
    o.link = c.link;
    // A collector appends one batch per interval (10 s by default), and a reachable broker acks it
    // within milliseconds; the spool matters during an outage. Syncing it every 10 s rather than
    // every second keeps an agent at a 1 s interval from paying a journal commit per batch, and
    // bounds what a power loss can take from the spool to one default interval.
    o.spool_sync_interval = std::chrono::seconds(10);
    // Checked already, so not again on every envelope: the Publisher validates each sample before
    // encoding it (and drops a bad one alone), host_tags are checked when the config is loaded,
    // and Start checks the endpoint as part of the source. sample_batch_encoder_test proves the
    // encoder's bytes pass the broker's check.
    o.validate = false;
    HW_ASSIGN_OR_RETURN(link_, transport::ProducerLink::Start(o));
    return Status::Ok();
  }

  Result<Running> StartPlugins(const CollectorConfig& c) {
    HW_ASSIGN_OR_RETURN(std::vector<ScheduledPlugin> plugins,
                        CreatePlugins(c, HostEnv::Real(c.proc_root, c.sys_root)));
    Running r;
    std::map<std::string, std::string> host_tags = c.host_tags;
    r.publisher =
        std::make_unique<Publisher>(c.EffectiveEndpoint(), std::move(host_tags), link_.get());
    Publisher* publisher = r.publisher.get();
    transport::ProducerLink* link = link_.get();
    r.scheduler = std::make_unique<Scheduler>(
        std::move(plugins), c.interval.count(),
        [publisher, link, statm = std::make_shared<ProcFile>("/proc/self/statm", true)](
            const CollectTime&, Scheduler& s, std::vector<Point>* out) {
          SelfMetrics(s, *publisher, *link, statm.get(), out);
        },
        publisher);
    HW_RETURN_IF_ERROR(r.scheduler->Start());
    return r;
  }

  static void SelfMetrics(Scheduler& s, const Publisher& publisher,
                          const transport::ProducerLink& link, ProcFile* statm,
                          std::vector<Point>* out) {
    Emit(out, "agent.alive", 1);
    auto counter = [out](std::string metric, uint64_t v, Tags tags = {}) {
      Emit(out, std::move(metric), static_cast<double>(v), std::move(tags));
      out->back().counter = true;
    };
    for (const PluginRunStats& p : s.stats()) {
      if (p.name == "agent") continue;
      const Tags tags = {{"plugin", p.name}};
      if (p.runs > 0) Emit(out, "hostwatch.collector.collect_ms", p.last_collect_ms, tags);
      counter("hostwatch.collector.overruns", p.overruns, tags);
      counter("hostwatch.collector.errors", p.errors, tags);
    }
    s.PluginSelfMetrics(out);
    const PublisherStats ps = publisher.stats();
    counter("hostwatch.collector.samples_sent", ps.samples_sent);
    counter("hostwatch.collector.samples_invalid", ps.samples_invalid);
    counter("hostwatch.collector.publish_errors", ps.publish_errors);
    const transport::ProducerStats ls = link.stats();
    Emit(out, "hostwatch.collector.spool_bytes", static_cast<double>(ls.spool_bytes));
    Emit(out, "hostwatch.collector.spool_records", static_cast<double>(ls.spool_records));
    counter("hostwatch.collector.drops", ls.spool_dropped);
    counter("hostwatch.collector.rejected", ls.rejected);
    // Our own footprint, so a fleet-wide chart shows an agent that grows.
    std::string text;
    if (statm->Read(&text).ok()) {
      std::vector<std::string_view> f = SplitFields(text);
      if (f.size() >= 2) {
        if (auto pages = ParseU64(f[1])) {
          Emit(out, "hostwatch.collector.rss_bytes", static_cast<double>(*pages * 4096));
        }
      }
    }
  }

  CollectorConfig config_;
  std::unique_ptr<transport::ProducerLink> link_;
  Running running_;
};

}  // namespace

Result<std::vector<ScheduledPlugin>> CreatePlugins(const CollectorConfig& config,
                                                   const HostEnv& env) {
  std::vector<ScheduledPlugin> out;
  for (const PluginConfig& pc : config.plugins) {
    if (!pc.enabled) continue;
    const PluginDescriptor* d = FindBuiltinPlugin(pc.name);
    if (d == nullptr) return Status::Internal("no built-in plugin " + pc.name);
    PluginSetup setup;
    setup.env = &env;
    setup.interval_ms = pc.interval.count();
    setup.options = pc.options.get();
    Result<std::unique_ptr<Plugin>> p = d->create(setup);
    if (!p.ok()) return p.status().WithContext("plugin " + pc.name);
    out.push_back({pc.name, std::move(p).value(), pc.interval.count()});
  }
  return out;
}

Result<std::unique_ptr<daemon::Service<CollectorConfig>>> MakeCollectorService(
    const CollectorConfig& config) {
  return std::unique_ptr<daemon::Service<CollectorConfig>>(
      std::make_unique<CollectorService>(config));
}

}  // namespace hw::collector
