#include "alerter/delivery/outbox.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/io/atomic_file.h"
#include "common/testing/temp_dir.h"

namespace hw::alerter::delivery {
namespace {

namespace fs = std::filesystem;

OutboxJob MakeJob(const std::string& id, Channel ch, int64_t created_ms) {
  OutboxJob j;
  j.name = Outbox::JobName(id, ch);
  j.channel = ch;
  j.receiver = "ops";
  j.notification_id = id;
  j.target = "http://127.0.0.1:9/hook";
  j.recipients = {"a@example.com", "b@example.com"};
  j.summary = "[FIRING] x";
  j.payload = std::string("payload\0with nul", 16);
  j.created_ms = created_ms;
  return j;
}

TEST(OutboxTest, JobsRoundTrip) {
  const OutboxJob j = MakeJob("ops/g/1", Channel::kWebhook, 42);
  auto back = DecodeJob(EncodeJob(j));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->channel, Channel::kWebhook);
  EXPECT_EQ(back->receiver, "ops");
  EXPECT_EQ(back->notification_id, "ops/g/1");
  EXPECT_EQ(back->target, j.target);
  EXPECT_EQ(back->recipients, j.recipients);
  EXPECT_EQ(back->payload, j.payload);
  EXPECT_EQ(back->created_ms, 42);
  std::string bad = EncodeJob(j);
  bad[bad.size() - 3] ^= 1;
  EXPECT_FALSE(DecodeJob(bad).ok());
  EXPECT_FALSE(DecodeJob(EncodeJob(j).substr(0, 30)).ok());
}

TEST(OutboxTest, NamesAreSafeDistinctAndBounded) {
  EXPECT_EQ(Outbox::JobName("ops/cpu high/1", Channel::kMail), "ops_2Fcpu_20high_2F1.mail");
  EXPECT_NE(Outbox::JobName("a/b", Channel::kMail), Outbox::JobName("a_b", Channel::kMail));
  EXPECT_NE(Outbox::JobName("a", Channel::kMail), Outbox::JobName("a", Channel::kExec));
  const std::string long1 = Outbox::JobName(std::string(500, 'x') + "1", Channel::kMail);
  const std::string long2 = Outbox::JobName(std::string(500, 'x') + "2", Channel::kMail);
  EXPECT_LT(long1.size(), 200u);
  EXPECT_NE(long1, long2);
}

TEST(OutboxTest, RecoversAfterACrashInOrderAndDropsTempFiles) {
  testing::TempDir dir;
  const fs::path box = dir.path() / "outbox";
  {
    auto outbox = Outbox::Open(box);
    ASSERT_TRUE(outbox.ok());
    ASSERT_TRUE(outbox->Put(MakeJob("ops/g/2", Channel::kMail, 200)).ok());
    ASSERT_TRUE(outbox->Put(MakeJob("ops/g/1", Channel::kMail, 100)).ok());
    ASSERT_TRUE(outbox->Put(MakeJob("ops/g/1", Channel::kExec, 100)).ok());
    OutboxJob done = MakeJob("ops/g/0", Channel::kMail, 50);
    ASSERT_TRUE(outbox->Put(done).ok());
    ASSERT_TRUE(outbox->Remove(done).ok());
  }
  // What a crash in the middle of Put leaves: a temp file never renamed, and one torn job file
  // (a disk fault) that must be set aside rather than stop the recovery.
  std::ofstream(box / "ops_2Fg_2F3.mail.job.tmp") << "half a job";
  std::ofstream(box / "torn.mail.job") << "HWOBOX1\nxx";

  auto outbox = Outbox::Open(box);
  ASSERT_TRUE(outbox.ok());
  EXPECT_FALSE(fs::exists(box / "ops_2Fg_2F3.mail.job.tmp"));
  size_t corrupt = 0;
  auto jobs = outbox->Recover(&corrupt);
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  EXPECT_EQ(corrupt, 1u);
  EXPECT_TRUE(fs::exists(box / "failed" / "torn.mail.job.corrupt"));
  ASSERT_EQ(jobs->size(), 3u);
  EXPECT_EQ((*jobs)[0].notification_id, "ops/g/1");
  EXPECT_EQ((*jobs)[0].channel, Channel::kExec);  // same time: by name ("exec" < "mail")
  EXPECT_EQ((*jobs)[1].notification_id, "ops/g/1");
  EXPECT_EQ((*jobs)[1].channel, Channel::kMail);
  EXPECT_EQ((*jobs)[2].notification_id, "ops/g/2");
  EXPECT_EQ((*jobs)[2].name, Outbox::JobName("ops/g/2", Channel::kMail));

  ASSERT_TRUE(outbox->WriteSent((*jobs)[1]).ok());
  EXPECT_TRUE(fs::exists(box / "sent" / ((*jobs)[1].name + ".eml")));
  ASSERT_TRUE(outbox->MoveToFailed((*jobs)[2]).ok());
  EXPECT_TRUE(fs::exists(box / "failed" / ((*jobs)[2].name + ".job")));
  corrupt = 0;
  auto left = outbox->Recover(&corrupt);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].channel, Channel::kExec);
}

TEST(OutboxTest, PruneRemovesOldSentAndFailedFilesOnly) {
  testing::TempDir dir;
  auto box = Outbox::Open(dir.path() / "outbox");
  ASSERT_TRUE(box.ok()) << box.status().ToString();
  const OutboxJob pending = MakeJob("ops/g/1", Channel::kMail, 1);
  ASSERT_TRUE(box->Put(pending).ok());
  const OutboxJob sent_old = MakeJob("ops/g/2", Channel::kMail, 2);
  const OutboxJob sent_new = MakeJob("ops/g/3", Channel::kMail, 3);
  const OutboxJob failed_old = MakeJob("ops/g/4", Channel::kWebhook, 4);
  for (const OutboxJob* j : {&sent_old, &sent_new, &failed_old}) ASSERT_TRUE(box->Put(*j).ok());
  ASSERT_TRUE(box->WriteSent(sent_old).ok());
  ASSERT_TRUE(box->WriteSent(sent_new).ok());
  ASSERT_TRUE(box->MoveToFailed(failed_old).ok());
  const fs::path old_eml = dir.path() / "outbox" / "sent" / (sent_old.name + ".eml");
  const fs::path new_eml = dir.path() / "outbox" / "sent" / (sent_new.name + ".eml");
  const fs::path old_failed = dir.path() / "outbox" / "failed" / (failed_old.name + ".job");
  ASSERT_TRUE(fs::exists(old_eml) && fs::exists(new_eml) && fs::exists(old_failed));
  const auto now = fs::file_time_type::clock::now();
  fs::last_write_time(old_eml, now - std::chrono::hours(200));
  fs::last_write_time(old_failed, now - std::chrono::hours(200));
  // The pending job is old too, but it is still to be sent.
  fs::last_write_time(box->JobPath(pending), now - std::chrono::hours(200));

  auto removed = box->Prune(now - std::chrono::hours(168));
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 2u);
  EXPECT_FALSE(fs::exists(old_eml));
  EXPECT_FALSE(fs::exists(old_failed));
  EXPECT_TRUE(fs::exists(new_eml));
  size_t corrupt = 0;
  auto jobs = box->Recover(&corrupt);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].notification_id, "ops/g/1");
}

}  // namespace
}  // namespace hw::alerter::delivery
