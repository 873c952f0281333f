// Rebuilding member sets (vblk(5), MEMBER SETS, Rebuild) on real member
// files: a failed member rebuilt onto a spare reads back with its own file
// gone, and the set then tolerates the layout's full two failures again; a
// stale member rebuilt in place after a restore; a rebuild stopped half way
// resumes from rebuilt_rows after a reopen; writes while a rebuild runs
// land on the spare; a spare that fails is itself rebuilt onto the next;
// and the refusals (nothing to rebuild, no free spare, a lost group, a
// read-only image, a second rebuild while one runs).
#include <gtest/gtest.h>

#include <unistd.h>

#include <map>

#include "format/member_set.h"
#include "store/member_backend.h"
#include "store/member_set_open.h"
#include "store/open.h"
#include "member_test_util.h"
#include "test_util.h"
#include "vblk/image_store.h"

namespace vblk {
namespace {

using format::MemberState;
using store::MemberBackend;
using store::MemberChange;
using Refusal = MemberBackend::RebuildRefusal;

// test::small_member_format with `spares` spares (members 7..).
FormatOptions rebuild_format(uint32_t spares) {
  FormatOptions f = test::small_member_format();
  f.members.spares = spares;
  return f;
}

class MemberRebuildTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = dir_.path("disk.img"); }

  test::MemberStore open() {
    auto o = test::open_member_store(path_);
    EXPECT_TRUE(o) << o.status().to_string();
    return o ? std::move(*o) : test::MemberStore{};
  }

  void write_some(ImageStore& st, uint64_t version, uint64_t count = 500) {
    test::write_spread(st, version, count, expected_);
  }

  void expect_all(ImageStore& st) { test::expect_blocks(st, expected_); }

  // The image closed and opened again, checked.
  void reopen_and_check() {
    auto o = open();
    ASSERT_TRUE(o.store);
    expect_all(*o.store);
    ASSERT_TRUE(o.store->close());
  }

  // An image of `spares` spares written, member `failed` failed, written
  // again without it (stale), closed.
  void make_stale(uint32_t spares, uint32_t failed) {
    ASSERT_TRUE(ImageStore::create(path_, rebuild_format(spares)));
    auto o = open();
    ASSERT_TRUE(o.store);
    write_some(*o.store, 1);
    ASSERT_TRUE(o.backend->fail_member(failed));
    write_some(*o.store, 2);
    ASSERT_TRUE(o.store->close());
  }

  std::string member_path(uint32_t m) { return test::member_file(path_, m); }

  test::TempDir dir_;
  std::string path_;
  std::map<uint64_t, uint64_t> expected_;
};

TEST_F(MemberRebuildTest, RebuildOntoSpareReadsOnlyTheGroupAndTheOriginalCanGo) {
  ASSERT_NO_FATAL_FAILURE(make_stale(1, 1));
  {
    auto o = open();
    ASSERT_TRUE(o.store);
    EXPECT_TRUE(o.backend->rebuild_due());
    auto out = o.backend->rebuild();
    ASSERT_TRUE(out) << out.status().to_string();
    ASSERT_EQ(out->rebuilt.size(), 1u);
    EXPECT_EQ(out->refusal, Refusal::kNone);
    const MemberBackend::RebuildReport& r = out->rebuilt[0];
    EXPECT_EQ(r.member, 1u);
    EXPECT_EQ(r.onto, 7u);
    EXPECT_FALSE(r.in_place);
    // Member 1 is alone missing in group 0: its partner and the group's
    // local parity are all a row needs.
    EXPECT_EQ(r.read_from, (std::vector<uint32_t>{0, 4}));
    EXPECT_GT(r.rows, 0u);
    EXPECT_GT(r.bytes_written, 0u);
    EXPECT_EQ(r.bytes_read % 4096, 0u);
    EXPECT_EQ(r.member_state, MemberState::kReplaced);
    const auto table = o.backend->member_table();
    EXPECT_EQ(table.members[1].state, MemberState::kReplaced);
    EXPECT_EQ(table.members[7].state, MemberState::kOk);
    EXPECT_EQ(table.members[7].stands_for, 1u);
    EXPECT_EQ(table.members[7].rebuilt_rows, 0u);
    EXPECT_FALSE(o.backend->rebuild_due());
    expect_all(*o.store);
    ASSERT_TRUE(o.store->close());
  }
  // The failed member's file gone: nothing reads it any more.
  ASSERT_EQ(::unlink(member_path(1).c_str()), 0);
  ASSERT_NO_FATAL_FAILURE(reopen_and_check());
  // Two failures again (the spare and its group partner: global parity).
  ASSERT_TRUE(store::change_members(path_, MemberChange::kFailMember, 7));
  ASSERT_TRUE(store::change_members(path_, MemberChange::kFailMember, 0));
  auto o = open();
  ASSERT_TRUE(o.store);
  expect_all(*o.store);
  write_some(*o.store, 3);
  expect_all(*o.store);
  // A third in group 0 is beyond the parity: the reads that fail name the
  // spare whose file failed in member 1's place.
  ASSERT_TRUE(o.backend->fail_member(4));
  std::vector<uint8_t> got(4096);
  uint64_t failed = 0;
  for (auto [block, version] : expected_) {
    Status s = o.store->read_blocks(block, 1, got);
    if (s) continue;
    ++failed;
    EXPECT_NE(s.message().find("members 0, 1 (on spare 7) and 4 of group 0 failed"), std::string::npos)
        << s.to_string();
  }
  EXPECT_GT(failed, 0u);
}

TEST_F(MemberRebuildTest, NothingToRebuildNoSpareAndLostGroupAreRefused) {
  ASSERT_TRUE(ImageStore::create(path_, rebuild_format(1)));
  {
    auto o = open();
    ASSERT_TRUE(o.store);
    write_some(*o.store, 1);
    EXPECT_FALSE(o.backend->rebuild_due());
    auto out = o.backend->rebuild();
    ASSERT_TRUE(out);
    EXPECT_TRUE(out->rebuilt.empty());
    EXPECT_EQ(out->refusal, Refusal::kNothingToRebuild);
    ASSERT_EQ(out->refused.size(), 1u);
    EXPECT_NE(out->refused[0].find("nothing to rebuild"), std::string::npos) << out->refused[0];
    // Three of group 0 (0, 1 and its local parity 4): beyond the parity.
    for (uint32_t m : {0u, 1u, 4u}) ASSERT_TRUE(o.backend->fail_member(m));
    out = o.backend->rebuild();
    ASSERT_TRUE(out);
    EXPECT_TRUE(out->rebuilt.empty());
    EXPECT_EQ(out->refusal, Refusal::kLost);
    ASSERT_EQ(out->refused.size(), 1u);  // one line for the group
    EXPECT_NE(out->refused[0].find("beyond what the parity can rebuild"), std::string::npos) << out->refused[0];
    EXPECT_EQ(o.backend->member_table().members[7].state, MemberState::kOk);  // still free
  }
  // No spare at all.
  path_ = dir_.path("nospare.img");
  expected_.clear();
  ASSERT_NO_FATAL_FAILURE(make_stale(0, 2));
  auto o = open();
  ASSERT_TRUE(o.store);
  EXPECT_FALSE(o.backend->rebuild_due());
  auto out = o.backend->rebuild();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->refusal, Refusal::kNoFreeSpare);
  ASSERT_EQ(out->refused.size(), 1u);
  EXPECT_NE(out->refused[0].find("member 2"), std::string::npos) << out->refused[0];
  EXPECT_NE(out->refused[0].find("no free spare"), std::string::npos) << out->refused[0];
  expect_all(*o.store);
}

TEST_F(MemberRebuildTest, StaleMemberRebuiltInPlaceAfterRestore) {
  ASSERT_NO_FATAL_FAILURE(make_stale(0, 2));
  ASSERT_TRUE(store::change_members(path_, MemberChange::kRestoreMember, 2));
  {
    auto o = open();
    ASSERT_TRUE(o.store);
    EXPECT_EQ(o.backend->member_states()[2], MemberState::kRebuilding);
    expect_all(*o.store);  // not from its old bytes
    EXPECT_TRUE(o.backend->rebuild_due());
    auto out = o.backend->rebuild();
    ASSERT_TRUE(out) << out.status().to_string();
    ASSERT_EQ(out->rebuilt.size(), 1u);
    EXPECT_TRUE(out->rebuilt[0].in_place);
    EXPECT_EQ(out->rebuilt[0].onto, 2u);
    EXPECT_EQ(out->rebuilt[0].read_from, (std::vector<uint32_t>{3, 5}));
    EXPECT_EQ(o.backend->member_states()[2], MemberState::kOk);
    ASSERT_TRUE(o.store->close());
  }
  // Its partner gone: the group is rebuilt from member 2's own bytes.
  ASSERT_TRUE(store::change_members(path_, MemberChange::kFailMember, 3));
  ASSERT_NO_FATAL_FAILURE(reopen_and_check());
}

TEST_F(MemberRebuildTest, StoppedRebuildResumesFromRebuiltRowsAfterReopen) {
  ASSERT_NO_FATAL_FAILURE(make_stale(1, 5));  // a parity member: its tail slots move too
  uint64_t persisted = 0;
  {
    auto o = open();
    ASSERT_TRUE(o.store);
    int steps = 0;
    auto out = o.backend->rebuild([&](const MemberBackend::RebuildProgress& p) {
      EXPECT_EQ(p.member, 5u);
      EXPECT_EQ(p.onto, 7u);
      EXPECT_LE(p.rows_done, p.rows_total);
      // One rebuild at a time.
      if (steps == 0) {
        EXPECT_EQ(o.backend->rebuild().status().code(), Status::Code::kBusy);
      }
      return ++steps < 3;
    });
    ASSERT_TRUE(out) << out.status().to_string();
    EXPECT_TRUE(out->stopped);
    EXPECT_TRUE(out->rebuilt.empty());
    const auto table = o.backend->member_table();
    EXPECT_EQ(table.members[7].state, MemberState::kRebuilding);
    EXPECT_EQ(table.members[7].stands_for, 5u);
    persisted = table.members[7].rebuilt_rows;
    EXPECT_EQ(persisted, 3u * MemberBackend::kRebuildStepRows);
    expect_all(*o.store);
    write_some(*o.store, 3, 200);  // rows both sides of the sweep
    expect_all(*o.store);
    // Not closed: the power goes here (what the last flush acknowledged stays).
    ASSERT_TRUE(o.store->power_cut());
    o.store.reset();
  }
  {
    auto o = open();
    ASSERT_TRUE(o.store);
    EXPECT_EQ(o.backend->member_table().members[7].rebuilt_rows, persisted);
    expect_all(*o.store);
    auto out = o.backend->rebuild();
    ASSERT_TRUE(out) << out.status().to_string();
    ASSERT_EQ(out->rebuilt.size(), 1u);
    EXPECT_EQ(out->rebuilt[0].resumed_from, persisted);
    EXPECT_EQ(o.backend->member_states()[5], MemberState::kReplaced);
    ASSERT_TRUE(o.store->close());
  }
  ASSERT_EQ(::unlink(member_path(5).c_str()), 0);
  ASSERT_NO_FATAL_FAILURE(reopen_and_check());
  // Group 1 loses its data member 3 as well: rebuilt through the spare's
  // local parity.
  ASSERT_TRUE(store::change_members(path_, MemberChange::kFailMember, 3));
  ASSERT_NO_FATAL_FAILURE(reopen_and_check());
}

TEST_F(MemberRebuildTest, WritesDuringTheRebuildLandOnTheSpare) {
  ASSERT_NO_FATAL_FAILURE(make_stale(1, 0));
  {
    auto o = open();
    ASSERT_TRUE(o.store);
    uint64_t version = 10;
    auto out = o.backend->rebuild([&](const MemberBackend::RebuildProgress&) {
      // Between steps, as a live disk would: the writes take the mutex the
      // sweep let go of.
      for (uint64_t i = 0; i < 20; ++i) {
        const uint64_t block = (i * 131 + version * 7) % 4000;
        EXPECT_TRUE(o.store->write_blocks(block, test::member_block_data(block, version)));
        expected_[block] = version;
      }
      EXPECT_TRUE(o.store->flush());
      ++version;
      return true;
    });
    ASSERT_TRUE(out) << out.status().to_string();
    ASSERT_EQ(out->rebuilt.size(), 1u);
    expect_all(*o.store);
    ASSERT_TRUE(o.store->close());
  }
  ASSERT_EQ(::unlink(member_path(0).c_str()), 0);
  ASSERT_NO_FATAL_FAILURE(reopen_and_check());
}

TEST_F(MemberRebuildTest, ASpareThatFailsIsRebuiltOntoTheNext) {
  ASSERT_NO_FATAL_FAILURE(make_stale(2, 6));  // the global parity
  {
    auto o = open();
    ASSERT_TRUE(o.store);
    auto out = o.backend->rebuild();
    ASSERT_TRUE(out && out->rebuilt.size() == 1u);
    EXPECT_EQ(out->rebuilt[0].onto, 7u);
    ASSERT_TRUE(o.backend->fail_member(7));
    write_some(*o.store, 4);
    out = o.backend->rebuild();
    ASSERT_TRUE(out) << out.status().to_string();
    ASSERT_EQ(out->rebuilt.size(), 1u);
    EXPECT_EQ(out->rebuilt[0].member, 7u);
    EXPECT_EQ(out->rebuilt[0].onto, 8u);
    const auto table = o.backend->member_table();
    EXPECT_EQ(table.members[6].state, MemberState::kReplaced);
    EXPECT_EQ(table.members[7].state, MemberState::kReplaced);
    EXPECT_EQ(table.members[8].stands_for, 7u);
    // No spare is left.
    ASSERT_TRUE(o.backend->fail_member(2));
    out = o.backend->rebuild();
    ASSERT_TRUE(out);
    EXPECT_EQ(out->refusal, Refusal::kNoFreeSpare);
    ASSERT_TRUE(o.store->close());
  }
  ASSERT_EQ(::unlink(member_path(6).c_str()), 0);
  ASSERT_EQ(::unlink(member_path(7).c_str()), 0);
  // Member 2 failed and its partner 3 too: the global parity, on member 8.
  ASSERT_TRUE(store::change_members(path_, MemberChange::kFailMember, 3));
  ASSERT_NO_FATAL_FAILURE(reopen_and_check());
}

TEST_F(MemberRebuildTest, ReadOnlyImageIsRefused) {
  ASSERT_NO_FATAL_FAILURE(make_stale(1, 1));
  OpenOptions ro;
  ro.read_only = true;
  auto st = ImageStore::open(path_, ro);
  ASSERT_TRUE(st);
  auto out = (*st)->member_backend()->rebuild();
  EXPECT_EQ(out.status().code(), Status::Code::kReadOnly) << out.status().to_string();
}

}  // namespace
}  // namespace vblk
