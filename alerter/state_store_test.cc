#include "alerter/state_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "common/testing/temp_dir.h"

namespace hw::alerter {
namespace {

namespace pb = hostwatch::v1;
namespace st = hostwatch::alerter::v1;

// Finish may come from the store's thread.
class RecordingFinisher : public consumer::Finisher {
 public:
  void Finish(std::span<const consumer::DeliveryId> done) override {
    MutexLock lock(&mu_);
    for (const auto& d : done) finished_.push_back(d.offset);
  }
  using consumer::Finisher::Finish;
  std::vector<uint64_t> finished() const {
    MutexLock lock(&mu_);
    return finished_;
  }

 private:
  mutable Mutex mu_;
  std::vector<uint64_t> finished_ GUARDED_BY(mu_);
};

std::vector<consumer::DeliveryId> Ids(std::initializer_list<uint64_t> offsets) {
  std::vector<consumer::DeliveryId> ids;
  for (uint64_t o : offsets) ids.push_back({0, 1, o});
  return ids;
}

st::SeriesState* AddSeries(st::AlerterState* s, const std::string& ep, double last_value) {
  st::SeriesState* ss = s->add_series();
  ss->set_endpoint(ep);
  ss->set_metric("cpu.busy");
  (*ss->mutable_tags())["cpu"] = "total";
  ss->add_times(1000);
  ss->add_values(last_value);
  ss->set_last_ms(1000);
  return ss;
}

void AddAlert(st::AlerterState* s, const std::string& key) {
  pb::Alert* a = s->add_alerts();
  a->set_key(key);
  a->set_rule("cpu_high");
  a->set_state(pb::Alert::FIRING);
}

void SetPosition(st::AlerterState* s, uint64_t offset) {
  st::Position* p = s->add_positions();
  p->set_partition(1);
  p->set_offset(offset);
}

class StateStoreTest : public ::testing::Test {
 protected:
  st::AlerterState Reload(bool* found) {
    StateStore store(dir_.path(), {});
    st::AlerterState out;
    EXPECT_TRUE(store.Load(&out, found).ok());
    return out;
  }
  testing::TempDir dir_;
};

TEST_F(StateStoreTest, DeltasMergeOverTheSnapshotByKeyAndClosedAlertsLeave) {
  RecordingFinisher f;
  {
    StateStore store(dir_.path(), {});
    st::AlerterState whole;
    whole.set_epoch("e1");
    SetPosition(&whole, 10);
    AddSeries(&whole, "web-01", 1);
    AddSeries(&whole, "web-02", 2);
    AddAlert(&whole, "cpu_high|web-01|cpu.busy;cpu=total");
    store.Submit(whole, true, Ids({10}), &f);
    st::AlerterState delta;
    SetPosition(&delta, 20);
    AddSeries(&delta, "web-01", 99);
    AddAlert(&delta, "cpu_high|web-02|cpu.busy;cpu=total");
    delta.add_removed_alerts("cpu_high|web-01|cpu.busy;cpu=total");
    store.Submit(delta, false, Ids({11, 20}), &f);
    EXPECT_EQ(store.stats().appends, 1u);
    EXPECT_EQ(store.stats().snapshots, 1u);
  }
  EXPECT_EQ(f.finished(), (std::vector<uint64_t>{10, 11, 20}));
  bool found = false;
  st::AlerterState got = Reload(&found);
  ASSERT_TRUE(found);
  EXPECT_EQ(got.epoch(), "e1");
  ASSERT_EQ(got.positions_size(), 1);
  EXPECT_EQ(got.positions(0).offset(), 20u);
  ASSERT_EQ(got.series_size(), 2);
  for (const st::SeriesState& s : got.series()) {
    EXPECT_EQ(s.values(0), s.endpoint() == "web-01" ? 99 : 2) << s.endpoint();
  }
  ASSERT_EQ(got.alerts_size(), 1);
  EXPECT_EQ(got.alerts(0).key(), "cpu_high|web-02|cpu.busy;cpu=total");
}

TEST_F(StateStoreTest, ATornLastRecordIsCutOffAndTheNextWriteStartsAFreshJournal) {
  RecordingFinisher f;
  {
    StateStore store(dir_.path(), {});
    st::AlerterState whole;
    SetPosition(&whole, 1);
    store.Submit(whole, true, {}, &f);
    st::AlerterState delta;
    SetPosition(&delta, 2);
    store.Submit(delta, false, Ids({2}), &f);
  }
  // A crash in the middle of the next append.
  std::filesystem::path journal;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    if (e.path().filename().string().starts_with("journal-")) journal = e.path();
  }
  ASSERT_FALSE(journal.empty());
  {
    std::ofstream out(journal, std::ios::app | std::ios::binary);
    out << std::string("\x40\x00\x00\x00\x12\x34", 6);
  }
  {
    StateStore store(dir_.path(), {});
    st::AlerterState got;
    bool found = false;
    ASSERT_TRUE(store.Load(&got, &found).ok());
    ASSERT_TRUE(found);
    ASSERT_EQ(got.positions_size(), 1);
    EXPECT_EQ(got.positions(0).offset(), 2u) << "the whole record before the torn one counts";
    st::AlerterState delta;
    SetPosition(&delta, 3);
    store.Submit(delta, false, Ids({3}), &f);
    EXPECT_EQ(store.stats().snapshots, 1u) << "no append after a torn record";
    SetPosition(&delta, 4);
    store.Submit(delta, false, Ids({4}), &f);
    EXPECT_EQ(store.stats().appends, 1u);
  }
  EXPECT_FALSE(std::filesystem::exists(journal)) << "the superseded journal is removed";
  bool found = false;
  st::AlerterState got = Reload(&found);
  ASSERT_EQ(got.positions_size(), 1);
  EXPECT_EQ(got.positions(0).offset(), 4u);
}

TEST_F(StateStoreTest, CompactsOnItsOwnThreadAndFinishesOnlyWhatIsDurable) {
  RecordingFinisher f;
  {
    StateStore::Options o;
    o.background = true;
    o.compact_min_bytes = 0;  // compact as soon as the journal outgrows twice the snapshot
    StateStore store(dir_.path(), o);
    st::AlerterState whole;
    SetPosition(&whole, 0);
    for (int h = 0; h < 50; ++h) AddSeries(&whole, "web-" + std::to_string(h), 0);
    store.Submit(whole, true, {}, &f);
    for (uint64_t i = 1; i <= 200; ++i) {
      st::AlerterState delta;
      SetPosition(&delta, i);
      AddSeries(&delta, "web-" + std::to_string(i % 50), static_cast<double>(i));
      store.Submit(delta, false, Ids({i}), &f);
    }
    store.Drain();
    EXPECT_EQ(f.finished().size(), 200u);
    EXPECT_GT(store.stats().snapshots, 1u) << "the journal was compacted";
    EXPECT_GT(store.stats().appends, 100u);
    EXPECT_EQ(store.stats().errors, 0u);
  }
  bool found = false;
  st::AlerterState got = Reload(&found);
  ASSERT_EQ(got.series_size(), 50);
  for (const st::SeriesState& s : got.series()) {
    const int h = std::stoi(s.endpoint().substr(4));
    // The last delta for host h carried value 150 + h (h > 0) or 200 (h == 0).
    EXPECT_EQ(s.values(0), h == 0 ? 200 : 150 + h) << s.endpoint();
  }
  EXPECT_EQ(got.positions(0).offset(), 200u);
}

TEST_F(StateStoreTest, AFailedWriteFinishesNothingUntilAWriteSucceeds) {
  RecordingFinisher f;
  StateStore store(dir_.path() / "state", {});
  std::filesystem::create_directories(dir_.path() / "state");
  st::AlerterState whole;
  store.Submit(whole, true, {}, &f);
  std::filesystem::remove_all(dir_.path() / "state");
  std::ofstream(dir_.path() / "state") << "not a directory";
  st::AlerterState delta;
  SetPosition(&delta, 1);
  store.Submit(delta, false, Ids({1}), &f);
  // The append itself may land in the open (unlinked) journal; the point is the next snapshot.
  SetPosition(&delta, 2);
  store.Submit(delta, true, Ids({2}), &f);
  EXPECT_GT(store.stats().errors, 0u);
  const size_t before = f.finished().size();
  EXPECT_LT(before, 2u) << "the snapshot failed: its deliveries are not finished";
  std::filesystem::remove(dir_.path() / "state");
  std::filesystem::create_directories(dir_.path() / "state");
  SetPosition(&delta, 3);
  store.Submit(delta, false, Ids({3}), &f);
  const std::vector<uint64_t> all = f.finished();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back(), 3u);
  EXPECT_EQ(std::count(all.begin(), all.end(), 2u), 1) << "held back, then finished once";
  bool found = false;
  StateStore again(dir_.path() / "state", {});
  st::AlerterState got;
  ASSERT_TRUE(again.Load(&got, &found).ok());
  ASSERT_TRUE(found);
  EXPECT_EQ(got.positions(0).offset(), 3u);
}

}  // namespace
}  // namespace hw::alerter
