// StateStore: the alerter's state on disk, written incrementally (alerter/README.md, Writes).
//
//   <state_dir>/state.pb          a snapshot: one AlerterState, replaced atomically (temp + rename)
//   <state_dir>/journal-<G>.log   the deltas after it: [u32 length][u32 crc32c][AlerterState]...,
//                                 each fsynced before the deliveries it reflects are finished
//
// A delta holds only what changed since the one before (series, alerts, groups, hosts by key;
// removed alert keys by name) plus every position. Reading merges the journal's deltas over the
// snapshot in order; a torn last record (a crash mid-append) is cut off: the deliveries it would
// have reflected were never finished, so the broker delivers them again.
//
// Compaction: the store keeps the merged state in memory (StateImage) and, when the journal has
// grown past twice the snapshot (and a floor), writes that image as the next snapshot, naming a
// new journal generation, and removes the old journal. A crash between the two leaves a snapshot
// naming a journal that does not exist yet (nothing to merge) or an old journal nobody names
// (ignored, removed on the next compaction): never an old delta over a newer snapshot.
//
// Threads: with Options::background the writes (and the merging and compaction) run on the
// store's own thread, so the sink thread never waits for a disk; Submit returns at once and the
// deliveries are finished from that thread once their delta is durable. Without it (tests,
// test-alerts) Submit writes before it returns.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "alerter/alerter_state.pb.h"
#include "common/base/mutex.h"
#include "common/consumer/consumer_kit.h"
#include "common/status/status.h"

namespace hw::alerter {

// The merged state, keyed: what a snapshot holds, with deltas applied in place.
class StateImage {
 public:
  void Replace(const hostwatch::alerter::v1::AlerterState& whole);
  void Apply(const hostwatch::alerter::v1::AlerterState& delta);
  hostwatch::alerter::v1::AlerterState ToProto() const;

 private:
  uint32_t version_ = 0;
  int64_t saved_ms_ = 0;
  std::string epoch_;
  std::map<std::pair<uint64_t, uint32_t>, uint64_t> positions_;
  std::unordered_map<std::string, hostwatch::alerter::v1::SeriesState> series_;
  std::map<std::string, hostwatch::alerter::v1::EventWindowState> events_;
  std::map<std::string, hostwatch::alerter::v1::HostState> hosts_;
  std::map<std::string, hostwatch::v1::Alert> alerts_;
  std::map<std::string, hostwatch::alerter::v1::GroupState> groups_;
  std::map<std::string, hostwatch::alerter::v1::ReceiverState> receivers_;
};

struct StateStoreStats {
  uint64_t appends = 0;    // deltas written to the journal
  uint64_t snapshots = 0;  // compactions (and whole-state writes)
  uint64_t errors = 0;     // writes that failed (their deliveries wait for the next success)
  uint64_t journal_bytes = 0;
};

class StateStore {
 public:
  struct Options {
    bool background = false;
    // Compact once the journal is larger than this and than twice the last snapshot.
    uint64_t compact_min_bytes = 8ull << 20;
  };
  StateStore(std::filesystem::path dir, Options options);
  ~StateStore();  // drains and stops the writer

  // Before the first Submit: the snapshot with its journal merged in. False in *found when there
  // is no snapshot. A snapshot that does not parse is moved aside (state.pb.corrupt) and reported
  // as not found: refusing to start would keep every alert silent.
  Status Load(hostwatch::alerter::v1::AlerterState* out, bool* found);

  // A delta (or, with whole, the entire state, which replaces the image and is written as a
  // snapshot). `done` are finished through `finisher` once it is durable; after a failed write
  // they wait for the next write that succeeds (a snapshot: the journal may be torn).
  void Submit(hostwatch::alerter::v1::AlerterState delta, bool whole,
              std::vector<consumer::DeliveryId> done, consumer::Finisher* finisher);
  // Waits until everything submitted so far is written (or failed).
  void Drain();
  // A write failed and deliveries wait for one to succeed: submit again (an empty delta will do).
  bool holding() const { return holding_.load(std::memory_order_acquire); }
  StateStoreStats stats() const;

 private:
  struct Job {
    hostwatch::alerter::v1::AlerterState state;
    bool whole = false;
    std::vector<consumer::DeliveryId> done;
    consumer::Finisher* finisher = nullptr;
  };
  void Run();
  void Write(Job& job);
  Status WriteSnapshot();
  Status Append(const std::string& bytes);
  std::filesystem::path JournalPath(uint64_t generation) const;

  const std::filesystem::path dir_;
  const Options options_;

  // Writer state: the writer thread's (or the caller's without background) alone.
  StateImage image_;
  uint64_t generation_ = 0;
  int journal_fd_ = -1;
  uint64_t journal_bytes_ = 0;
  uint64_t snapshot_bytes_ = 0;
  bool must_snapshot_ = true;  // nothing written yet, or the journal may be torn
  std::vector<std::pair<consumer::Finisher*, std::vector<consumer::DeliveryId>>> waiting_;
  std::atomic<bool> holding_{false};  // waiting_ is not empty after a failure

  mutable Mutex mu_;
  CondVar cv_;
  std::vector<Job> queue_ GUARDED_BY(mu_);
  bool busy_ GUARDED_BY(mu_) = false;
  bool stop_ GUARDED_BY(mu_) = false;
  StateStoreStats stats_ GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace hw::alerter
