// Member-set images (vblk(5), MEMBER SETS) on real member files: the member
// table and headers round trip; data written reads back with every
// recoverable failure pattern (one member, two of one group, one per group,
// a box with --ha), by failing members through the backend and by deleting
// or garbling member files; the unrecoverable pattern fails with an
// IoError naming the members, never wrong bytes; writes go on degraded; a
// member of another image is refused by its UUID.
#include <gtest/gtest.h>

#include <fcntl.h>

#include <atomic>
#include <cerrno>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "format/member_set.h"
#include "store/member_backend.h"
#include "store/open.h"
#include "member_test_util.h"
#include "store/member_set_open.h"
#include "test_util.h"
#include "vblk/image_store.h"

namespace vblk {
namespace {

using format::MemberState;

constexpr uint32_t kBlock = 4096;
constexpr uint32_t kChunk = 4096;  // test::small_member_format's

FormatOptions member_format(uint32_t boxes = 1, bool ha = false, std::vector<std::string> dirs = {}) {
  FormatOptions f = test::small_member_format();
  f.members.boxes = boxes;
  f.members.ha = ha;
  f.members.member_dirs = std::move(dirs);
  return f;
}

Result<test::MemberStore> open_with_backend(const std::string& path, bool read_only = false) {
  OpenOptions oo;
  oo.read_only = read_only;
  return test::open_member_store(path, oo);
}

class MemberSetTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = dir_.path("disk.img"); }

  void create(const FormatOptions& f) { ASSERT_TRUE(ImageStore::create(path_, f)) << path_; }

  // An image of `f` with write_some(version 1) flushed and closed.
  void create_and_write(const FormatOptions& f) {
    ASSERT_NO_FATAL_FAILURE(create(f));
    auto st = ImageStore::open(path_, {});
    ASSERT_TRUE(st) << st.status().to_string();
    ASSERT_NO_FATAL_FAILURE(write_some(**st, 1));
    ASSERT_TRUE((*st)->close());
  }

  // Writes `count` blocks spread over the disk (several segments, partial
  // rows), flushes, and remembers them.
  void write_some(ImageStore& st, uint64_t version, uint64_t count = 600) {
    test::write_spread(st, version, count, expected_);
  }

  void expect_all(ImageStore& st) { test::expect_blocks(st, expected_); }

  std::string member_path(uint32_t m) { return test::member_file(path_, m); }

  test::TempDir dir_;
  std::string path_;
  std::map<uint64_t, uint64_t> expected_;
};

TEST(MemberSetFormat, TableRoundTripAndTornCopy) {
  format::MemberTable t;
  t.generation = 7;
  t.image_uuid[0] = 1;
  t.chunk_size = 65536;
  t.layout[3] = 9;
  for (uint32_t i = 0; i < 3; ++i) {
    format::MemberEntry e;
    e.uuid[1] = static_cast<uint8_t>(i);
    e.role = static_cast<uint8_t>(i);
    e.state = i == 2 ? MemberState::kStale : MemberState::kOk;
    e.box = i;
    e.errors = 3 * i;
    e.name = "disk.img.members/m00" + std::to_string(i);
    t.members.push_back(e);
  }
  t.members[2].stands_for = 0;
  t.members[2].rebuilt_rows = 12345;
  auto bytes = format::encode_member_table(t);
  ASSERT_TRUE(bytes);
  auto back = format::decode_member_table(*bytes);
  ASSERT_TRUE(back) << back.status().to_string();
  EXPECT_EQ(*back, t);
  // A spare standing for a member the table does not have.
  format::MemberTable wrong = t;
  wrong.members[2].stands_for = 3;
  auto wbytes = format::encode_member_table(wrong);
  ASSERT_TRUE(wbytes);
  EXPECT_TRUE(format::decode_member_table(*wbytes).status().is_corruption());
  // The longest name fits; one byte more does not.
  wrong = t;
  wrong.members[0].name.assign(format::kMaxMemberNameBytes, 'n');
  ASSERT_TRUE(format::encode_member_table(wrong));
  wrong.members[0].name += 'n';
  EXPECT_FALSE(format::encode_member_table(wrong));
  // The newer copy torn: the older one is in force.
  format::MemberTable newer = t;
  newer.generation = 8;
  auto nbytes = format::encode_member_table(newer);
  ASSERT_TRUE(nbytes);
  (*nbytes)[200] ^= 1;
  auto picked = format::pick_member_table(*bytes, *nbytes);
  ASSERT_TRUE(picked);
  EXPECT_EQ(picked->slot, 0);
  EXPECT_EQ(picked->table.generation, 7u);
  (*nbytes)[200] ^= 1;
  picked = format::pick_member_table(*bytes, *nbytes);
  ASSERT_TRUE(picked);
  EXPECT_EQ(picked->slot, 1);
  // Neither valid.
  (*bytes)[0] ^= 1;
  (*nbytes)[130] ^= 1;
  EXPECT_TRUE(format::pick_member_table(*bytes, *nbytes).status().is_corruption());
}

TEST(MemberSetFormat, HeaderAndTailSlotRoundTrip) {
  format::MemberHeader h;
  h.index = 5;
  h.image_uuid[2] = 3;
  h.member_uuid[4] = 5;
  h.role = 2;
  h.chunk_size = 4096;
  std::array<uint8_t, 64> buf{};
  format::encode_member_header(h, buf);
  auto back = format::decode_member_header(buf);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, h);
  buf[13] ^= 1;
  EXPECT_TRUE(format::decode_member_header(buf).status().is_corruption());

  format::TailSlot t{9, 3, 17, 12345, 0xabcdef};
  format::encode_tail_slot(t, buf);
  auto tb = format::decode_tail_slot(buf);
  ASSERT_TRUE(tb);
  EXPECT_EQ(*tb, t);
  buf[30] ^= 1;
  EXPECT_TRUE(format::decode_tail_slot(buf).status().is_corruption());
}

TEST_F(MemberSetTest, CreateWritesImageAndMembers) {
  create(member_format());
  for (uint32_t m = 0; m < 7; ++m) EXPECT_TRUE(std::filesystem::exists(member_path(m))) << m;
  auto st = ImageStore::open(path_, {});
  ASSERT_TRUE(st) << st.status().to_string();
  const auto names = (*st)->info().feature_names;
  EXPECT_NE(std::find(names.begin(), names.end(), "member_set"), names.end());
  write_some(**st, 1);
  expect_all(**st);
  ASSERT_TRUE((*st)->close());
  st->reset();
  // IMAGE itself holds no segment: everything is on the members.
  EXPECT_LE(std::filesystem::file_size(path_), format::kMemberSetDataStart);
  auto again = ImageStore::open(path_, {});
  ASSERT_TRUE(again) << again.status().to_string();
  expect_all(**again);
  auto report = (*again)->check();
  ASSERT_TRUE(report) << report.status().to_string();
}

TEST_F(MemberSetTest, ExistingMembersRefusedWithoutForce) {
  create(member_format());
  std::filesystem::remove(path_);
  Status s = ImageStore::create(path_, member_format());
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("m000: file exists"), std::string::npos) << s.to_string();
  FormatOptions f = member_format();
  f.force = true;
  EXPECT_TRUE(ImageStore::create(path_, f));
}

// Every recoverable pattern: fail members through the backend, read back.
TEST_F(MemberSetTest, RecoverablePatternsReadBack) {
  ASSERT_NO_FATAL_FAILURE(create_and_write(member_format()));
  const std::vector<std::vector<uint32_t>> patterns = {
      {0}, {1}, {2}, {3}, {4}, {5}, {6},  // any one member
      {0, 1},                             // two data of group 0
      {0, 4},                             // data and local parity of group 0
      {0, 2},                             // one per group
      {1, 3},                             //
      {0, 6},                             // data and the global parity
  };
  for (const auto& pattern : patterns) {
    SCOPED_TRACE("members " + ::testing::PrintToString(pattern));
    auto o = open_with_backend(path_, true);
    ASSERT_TRUE(o) << o.status().to_string();
    for (uint32_t m : pattern) ASSERT_TRUE(o->backend->fail_member(m));
    expect_all(*o->store);
  }
}

TEST_F(MemberSetTest, BeyondToleranceFailsWithIoErrorNamingMembers) {
  ASSERT_NO_FATAL_FAILURE(create_and_write(member_format()));
  auto o = open_with_backend(path_, true);
  ASSERT_TRUE(o);
  // Both data members of group 0 and its local parity: one equation left
  // (the global parity) for two unknowns.
  for (uint32_t m : {0u, 1u, 4u}) ASSERT_TRUE(o->backend->fail_member(m));
  std::vector<uint8_t> got(kBlock);
  uint64_t failed = 0;
  for (auto [block, version] : expected_) {
    Status s = o->store->read_blocks(block, 1, got);
    if (s) {
      // Only blocks whose bytes lie on group 1's members may still read.
      EXPECT_EQ(got, test::member_block_data(block, version)) << "block " << block;
      continue;
    }
    ++failed;
    EXPECT_TRUE(s.is_io_error()) << s.to_string();
    EXPECT_NE(s.message().find("members 0, 1 and 4 of group 0 failed: beyond what the parity can rebuild"),
              std::string::npos)
        << s.to_string();
  }
  EXPECT_GT(failed, 0u);
}

TEST_F(MemberSetTest, WritesGoOnDegradedAndTheFailureIsPersisted) {
  create(member_format());
  {
    auto o = open_with_backend(path_);
    ASSERT_TRUE(o) << o.status().to_string();
    write_some(*o->store, 1);
    ASSERT_TRUE(o->backend->fail_member(2));
    write_some(*o->store, 2);
    expect_all(*o->store);
    ASSERT_TRUE(o->store->close());
  }
  auto o = open_with_backend(path_);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->backend->member_states()[2], MemberState::kStale);
  expect_all(*o->store);
  // A member that missed writes comes back only by a rebuild in place:
  // until its sweep has passed a row, the row is rebuilt from the others.
  ASSERT_TRUE(o->backend->restore_member(2));
  EXPECT_EQ(o->backend->member_states()[2], MemberState::kRebuilding);
  expect_all(*o->store);
  // One more failure in the other group is still within the tolerance.
  ASSERT_TRUE(o->backend->fail_member(1));
  write_some(*o->store, 3);
  expect_all(*o->store);
  ASSERT_TRUE(o->store->close());
  o->store.reset();
  auto again = ImageStore::open(path_, {});
  ASSERT_TRUE(again) << again.status().to_string();
  expect_all(**again);
}

TEST_F(MemberSetTest, FailAndRestoreWithoutWrites) {
  create(member_format());
  auto o = open_with_backend(path_);
  ASSERT_TRUE(o);
  write_some(*o->store, 1);
  ASSERT_TRUE(o->backend->fail_member(5));
  EXPECT_EQ(o->backend->member_states()[5], MemberState::kFailed);
  expect_all(*o->store);
  ASSERT_TRUE(o->backend->restore_member(5));
  EXPECT_EQ(o->backend->member_states()[5], MemberState::kOk);
  ASSERT_TRUE(o->backend->fail_member(0));
  ASSERT_TRUE(o->backend->fail_member(5));  // 0 and its group's parity: global parity rebuilds
  expect_all(*o->store);
  EXPECT_FALSE(o->backend->fail_member(99));
}

TEST_F(MemberSetTest, OfflineFailAndRestoreArePersisted) {
  using store::MemberChange;
  ASSERT_NO_FATAL_FAILURE(create_and_write(member_format(4, true, {})));
  ASSERT_TRUE(store::change_members(path_, MemberChange::kFailBox, 1));
  {
    auto o = open_with_backend(path_, true);
    ASSERT_TRUE(o) << o.status().to_string();
    for (uint32_t m : o->backend->layout().box_members(1))
      EXPECT_EQ(o->backend->member_states()[m], MemberState::kFailed) << m;
    expect_all(*o->store);
  }
  ASSERT_TRUE(store::change_members(path_, MemberChange::kRestoreBox, 1));
  ASSERT_TRUE(store::change_members(path_, MemberChange::kFailMember, 3));
  {
    auto o = open_with_backend(path_);
    ASSERT_TRUE(o);
    const auto states = o->backend->member_states();
    for (uint32_t m = 0; m < states.size(); ++m)
      EXPECT_EQ(states[m], m == 3 ? MemberState::kFailed : MemberState::kOk) << m;
    write_some(*o->store, 2);  // without member 3: it is stale now
  }
  // Stale: restoring it starts a rebuild in place.
  ASSERT_TRUE(store::change_members(path_, MemberChange::kRestoreMember, 3));
  {
    auto o = open_with_backend(path_, true);
    ASSERT_TRUE(o);
    EXPECT_EQ(o->backend->member_states()[3], MemberState::kRebuilding);
  }
  EXPECT_FALSE(store::change_members(path_, MemberChange::kFailBox, 4));
  auto st = ImageStore::open(path_, {});
  ASSERT_TRUE(st) << st.status().to_string();
  expect_all(**st);
}

TEST_F(MemberSetTest, DeletedMemberFileIsMarkedFailed) {
  ASSERT_NO_FATAL_FAILURE(create_and_write(member_format()));
  std::filesystem::remove(member_path(1));
  {
    auto o = open_with_backend(path_);
    ASSERT_TRUE(o) << o.status().to_string();
    EXPECT_EQ(o->backend->member_states()[1], MemberState::kFailed);
    expect_all(*o->store);
    ASSERT_TRUE(o->store->close());
  }
  // Deleted too: one member of the other group.
  std::filesystem::remove(member_path(3));
  auto st = ImageStore::open(path_, {});
  ASSERT_TRUE(st) << st.status().to_string();
  expect_all(**st);
}

TEST_F(MemberSetTest, GarbledMemberHeaderIsMarkedFailed) {
  ASSERT_NO_FATAL_FAILURE(create_and_write(member_format()));
  {
    std::fstream f(member_path(0), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x77');
  }
  auto o = open_with_backend(path_);
  ASSERT_TRUE(o) << o.status().to_string();
  EXPECT_EQ(o->backend->member_states()[0], MemberState::kFailed);
  expect_all(*o->store);
}

TEST_F(MemberSetTest, TruncatedMemberReadsAsLostAndIsRebuilt) {
  ASSERT_NO_FATAL_FAILURE(create_and_write(member_format()));
  // Emptied (the header gone too): refused as a member, rebuilt from the others.
  std::filesystem::resize_file(member_path(6), 0);
  auto st = ImageStore::open(path_, {});
  ASSERT_TRUE(st) << st.status().to_string();
  expect_all(**st);
}

// Cut short with its header intact (a host file system that lost the
// file's end): the chunks past its end that the rest of the word holds are
// rebuilt, not read as zeros. The member stays live: a power cut leaves
// the same picture in rows written after the last sync.
TEST_F(MemberSetTest, MemberCutShortIsRebuiltNotReadAsZeros) {
  ASSERT_NO_FATAL_FAILURE(create_and_write(member_format()));
  const uint64_t data_start = format::member_data_start(kChunk);
  for (uint32_t m : {0u, 5u}) {  // a data member of group 0, group 1's local parity
    ASSERT_GT(std::filesystem::file_size(member_path(m)), data_start + 8 * kChunk) << m;
    std::filesystem::resize_file(member_path(m), data_start + 3 * kChunk + 100);
  }
  for (bool read_only : {true, false}) {
    SCOPED_TRACE(read_only ? "read-only" : "writable");
    auto o = open_with_backend(path_, read_only);
    ASSERT_TRUE(o) << o.status().to_string();
    expect_all(*o->store);
    // Member 1 failed too: group 0 is rebuilt with the global parity.
    ASSERT_TRUE(o->backend->fail_member(1));
    expect_all(*o->store);
    ASSERT_TRUE(o->backend->restore_member(1));
    EXPECT_EQ(o->backend->member_states()[0], MemberState::kOk);
  }
}

TEST_F(MemberSetTest, MemberOfAnotherImageIsRefusedByUuid) {
  create(member_format());
  const std::string other = dir_.path("other.img");
  ASSERT_TRUE(ImageStore::create(other, member_format()));
  std::filesystem::copy_file(other + ".members/m002", member_path(2),
                             std::filesystem::copy_options::overwrite_existing);
  auto st = ImageStore::open(path_, {});
  ASSERT_FALSE(st);
  EXPECT_NE(st.status().message().find(member_path(2) + ": is a member of image"), std::string::npos)
      << st.status().to_string();
  // Another index of the same image.
  create([] {
    FormatOptions f = member_format();
    f.force = true;
    return f;
  }());
  std::filesystem::copy_file(member_path(3), member_path(2), std::filesystem::copy_options::overwrite_existing);
  st = ImageStore::open(path_, {});
  ASSERT_FALSE(st);
  EXPECT_NE(st.status().message().find("is member 3 of this image, not member 2"), std::string::npos)
      << st.status().to_string();
}

TEST_F(MemberSetTest, HaBoxFailureReadsBack) {
  auto layout = ec::Layout::create({4, 2, 1, 0, 4, true});
  ASSERT_TRUE(layout) << layout.status().to_string();
  std::vector<std::string> dirs;
  for (int b = 0; b < 4; ++b) {
    dirs.push_back(dir_.path("box" + std::to_string(b)));
    std::filesystem::create_directory(dirs.back());
  }
  create(member_format(4, true, dirs));
  EXPECT_TRUE(std::filesystem::exists(dirs[1] + "/disk.img.m001"));
  {
    auto st = ImageStore::open(path_, {});
    ASSERT_TRUE(st) << st.status().to_string();
    write_some(**st, 1);
    ASSERT_TRUE((*st)->close());
  }
  for (uint32_t box = 0; box < 4; ++box) {
    SCOPED_TRACE("box " + std::to_string(box));
    auto o = open_with_backend(path_, true);
    ASSERT_TRUE(o);
    ASSERT_TRUE(o->backend->fail_box(box));
    expect_all(*o->store);
  }
  // A whole box gone on the host, writes go on.
  std::filesystem::remove_all(dirs[2]);
  auto o = open_with_backend(path_);
  ASSERT_TRUE(o) << o.status().to_string();
  write_some(*o->store, 2);
  expect_all(*o->store);
}

TEST_F(MemberSetTest, BoxesWithoutHaHoldAWordEach) {
  std::vector<std::string> dirs;
  for (int b = 0; b < 2; ++b) {
    dirs.push_back(dir_.path("box" + std::to_string(b)));
    std::filesystem::create_directory(dirs.back());
  }
  create(member_format(2, false, dirs));
  auto o = open_with_backend(path_);
  ASSERT_TRUE(o) << o.status().to_string();
  write_some(*o->store, 1);
  // One member of each word.
  ASSERT_TRUE(o->backend->fail_member(0));
  ASSERT_TRUE(o->backend->fail_member(1));
  write_some(*o->store, 2);
  expect_all(*o->store);
  ASSERT_TRUE(o->store->close());
  o->store.reset();
  auto again = ImageStore::open(path_, {});
  ASSERT_TRUE(again) << again.status().to_string();
  expect_all(**again);
}

// A member file whose reads, writes or syncs fail with EIO on demand.
class FailingFile final : public io::File {
 public:
  struct Switches {
    std::atomic<bool> reads{false}, writes{false}, syncs{false};
  };
  FailingFile(std::unique_ptr<io::File> f, Switches& s) : f_(std::move(f)), s_(s) {}
  Result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) override {
    if (s_.reads) return Status::from_errno(EIO, name());
    return f_->read_at(offset, out);
  }
  Status write_at(uint64_t offset, std::span<const uint8_t> data) override {
    if (s_.writes) return Status::from_errno(EIO, name());
    return f_->write_at(offset, data);
  }
  Status sync() override { return s_.syncs ? Status::from_errno(EIO, name()) : f_->sync(); }
  Status punch_hole(uint64_t offset, uint64_t length) override { return f_->punch_hole(offset, length); }
  Result<uint64_t> size() override { return f_->size(); }
  Result<uint64_t> allocated_bytes() override { return f_->allocated_bytes(); }
  const std::string& name() const override { return f_->name(); }

 private:
  std::unique_ptr<io::File> f_;
  Switches& s_;
};

// Members that start failing I/O while the image is open: EIO on a read,
// a write or a sync marks the member failed (persisted), reads rebuild its
// chunks, writes go on degraded, and past the tolerance they fail.
TEST_F(MemberSetTest, MembersFailingIoAreMarkedFailed) {
  create(member_format());
  std::array<FailingFile::Switches, 7> sw;
  {
    auto image = io::open_posix_file(path_, true, false, io::LockMode::kExclusive);
    ASSERT_TRUE(image);
    std::array<uint8_t, format::kSuperblockSize> buf{};
    ASSERT_TRUE((*image)->read_at(0, buf));
    auto sb = format::decode_superblock(buf, path_);
    ASSERT_TRUE(sb);
    const store::MemberOpener host = store::host_member_opener(path_, true);
    store::MemberOpener opener = [&](const std::string& name, bool create) -> Result<std::unique_ptr<io::File>> {
      auto f = host(name, create);
      if (!f) return f;
      const uint32_t m = static_cast<uint32_t>(std::stoul(name.substr(name.size() - 3)));
      return std::unique_ptr<io::File>(new FailingFile(std::move(*f), sw[m]));
    };
    auto backend = store::open_member_backend(std::move(*image), *sb, opener, false);
    ASSERT_TRUE(backend) << backend.status().to_string();
    store::MemberBackend* b = backend->get();
    OpenOptions oo;
    oo.background_maintenance = false;
    auto st = store::open_image(std::move(*backend), oo);
    ASSERT_TRUE(st) << st.status().to_string();
    write_some(**st, 1);

    sw[1].reads = true;  // a data member of group 0
    expect_all(**st);
    EXPECT_EQ(b->member_states()[1], MemberState::kFailed);

    sw[5].writes = true;  // group 1's local parity
    write_some(**st, 2);
    EXPECT_NE(b->member_states()[5], MemberState::kOk);
    expect_all(**st);

    sw[0].syncs = true;  // group 0's other data member: the global parity rebuilds the group
    write_some(**st, 3);
    EXPECT_NE(b->member_states()[0], MemberState::kOk);
    expect_all(**st);

    sw[6].reads = sw[6].writes = true;  // the global parity too: group 0 is lost
    std::vector<uint8_t> data = test::member_block_data(1, 9);
    Status w = (*st)->write_blocks(1, data);
    if (w) w = (*st)->flush();
    EXPECT_FALSE(w);
    EXPECT_NE(w.message().find("beyond what the parity can rebuild"), std::string::npos) << w.to_string();

  }
  // The failures were recorded: a plain open uses none of those members,
  // and refuses an image whose checkpoint it cannot read, saying why.
  auto o = open_with_backend(path_, true);
  ASSERT_FALSE(o);
  EXPECT_NE(o.status().message().find("members 0 and 1 of group 0 failed: beyond what the parity can rebuild"),
            std::string::npos)
      << o.status().to_string();
}

}  // namespace
}  // namespace vblk
