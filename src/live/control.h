#pragma once
// Control: the live control interface of a served image. vblkfs carries it
// in extended attributes of the disk file and of the mountpoint directory
// (vblkfs(1), CONTROL INTERFACE); the NBD plugin on a unix socket that
// carries the same names and values (live/socket.h):
//
//   user.vblk.stats     read   JSON: driver and device statistics, faults
//   user.vblk.map       read   JSON: block-state map, up to 4096 cells
//   user.vblk.map.N     read   the same in at most N cells (not listed)
//   user.vblk.faults    read   JSON: BAD ranges and fault rules
//   user.vblk.members   read   JSON: a member set's layout record and its
//                              members' states now (not listed; ENODATA
//                              for a single-file image): members_json()
//   user.vblk.control   write  one command of the fault-injection language
//                              (inject/command.h); takes effect on the next
//                              request; or "scrub [RATE]" / "scrub stop"
//                              (live/scrub.h); or "resize SIZE [discard]"
//                              (inject/resize.h; only where on_resized is
//                              set: a server whose clients can see a new size);
//                              or, on a member set, "member N fail|restore",
//                              "box N fail|restore" (the running backend's
//                              members), "rebuild" (starts one; live/rebuilder.h)
//                              and "rebuild status" 
//                       read   the reply to the caller's last command
//   user.vblk.control.json  read   the same reply as one JSON object (not
//                              listed): what the command did, as
//                              inject::outcome_json and inject::resized_json
//                              give it, with "image" and "message"; or
//                              {"error": cause}
//
// Only the user who mounted and root may read or write them (EACCES).
// A getxattr size probe (size 0) computes the value once and keeps it for
// the same process and name for a few seconds, so the read that follows the
// probe gets exactly the bytes whose length it was told.
// Thread safety: every method may be called from any FUSE worker thread;
// commands are serialized among themselves (see the lock order below) and
// run concurrently with I/O.

#include <sys/types.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "inject/injector.h"
#include "live/rebuilder.h"
#include "live/scrub.h"
#include "util/json.h"
#include "util/mutex.h"
#include "vblk/admin_interface.h"
#include "vblk/driver.h"
#include "vblk/image_store.h"

namespace vblk::live {

struct ControlOptions {
  std::string image;        // the image path (absolute)
  std::string mountpoint;   // for messages; empty when served over NBD
  std::string server = "vblkfs";  // the serving program, in the statistics
  std::string rules_file;   // where the fault rules are saved
  bool read_only = false;   // commands refused with EROFS
  uid_t owner = 0;          // the user who mounted
  // Called after a resize with the old and new size in bytes, to tell the
  // clients (vblkfs: the kernel's cached size of the disk file). Null: the
  // server cannot resize (NBD clients keep the size they were given), and
  // "resize" fails (EIO) saying so.
  std::function<void(uint64_t old_bytes, uint64_t new_bytes)> on_resized;
  // A member set rebuilds a failed member onto a free spare by itself
  // (vblkfs mount --no-auto-rebuild turns it off).
  bool auto_rebuild = false;
};

struct Caller {
  uid_t uid = 0;
  pid_t pid = 0;
};

class Control {
 public:
  static constexpr std::string_view kPrefix = "user.vblk.";
  static constexpr size_t kMaxValue = 65536;  // the kernel's XATTR_SIZE_MAX
  // Refusing another user is a permission check, and EACCES is what one
  // returns: the kernel itself answers EACCES to another user's setxattr
  // of a user.* attribute (the file is 0644) before it reaches the daemon,
  // so reads answer the same and a caller sees one errno both ways.
  static constexpr int kNotAllowed = EACCES;

  // `admin`: the stack's admin interface, guarded against `driver` (an
  // ImageStack's admin()); fault commands reach the stack through it only.
  // `store`: the image below, for statistics, maps, scrub and resize.
  Control(Driver& driver, AdminInterface& admin, ImageStore& store, ControlOptions opts);
  Control(const Control&) = delete;
  Control& operator=(const Control&) = delete;

  // The listed names, each followed by a NUL (listxattr's format).
  std::string names() const;
  // 0 and the value in *value, or a positive errno: EACCES (caller not
  // allowed), ENODATA (unknown name), E2BIG (value too large), EIO.
  // probe: this is getxattr's size query; the value is kept for the read.
  int get(const Caller& caller, const std::string& name, bool probe, std::string* value) EXCLUDES(state_mu_);
  // Runs a command written to user.vblk.control. 0 or a positive errno:
  // EACCES, ENOTSUP (another name), EROFS (read-only mount), EINVAL (bad
  // command or range), EIO (the command failed). The reply, success or
  // error, can then be read back from user.vblk.control.
  int set(const Caller& caller, const std::string& name, std::string_view value) EXCLUDES(command_mu_, state_mu_);
  // Writes the rules file (at unmount: flaky counts used since the last
  // change). Does nothing on a read-only mount.
  Status save_rules();
  // Stops a running scrub (at unmount, before the image is closed).
  void stop_scrub() { scrub_.stop(); }
  // Stops a running rebuild (it resumes at the next one) and the
  // auto-rebuild watch, before the image is closed.
  void stop_rebuild() {
    if (rebuilder_) rebuilder_->stop();
  }

 private:
  bool allowed(const Caller& c) const { return c.uid == 0 || c.uid == opts_.owner; }
  std::string stats_json();
  std::string faults_json(size_t max_ranges);
  std::string map_json(size_t max_cells);
  // {"layout": the 40-byte layout record in hex, "members": [{index,
  // state (the member table's name), state_code, stands_for (a spare's:
  // the member whose place it takes, or null), bytes, errors, first_bytes
  // (hex)}]}; empty for a single-file image.
  std::string members_json();
  // A command's reply: the text of user.vblk.control and the object of
  // user.vblk.control.json.
  struct Reply {
    std::string text;
    std::string json;
  };
  // The reply to a failed command: "error: CAUSE" and {"error": CAUSE}.
  static Reply error_reply(const std::string& cause);
  // The reply of a command that did something: `facts` with "image" first
  // and "message" (the text) last.
  Reply done_reply(const std::string& text, const Json& facts) const;
  void remember_reply(const Caller& c, Reply reply) EXCLUDES(state_mu_);
  // Saves the fault rules after a command changed them; when that fails,
  // says so in `text` and as "warning" in `facts`.
  void add_save_warning(std::string& text, Json& facts) REQUIRES(command_mu_);
  // "scrub", "scrub RATE", "scrub stop": 0 or a positive errno; *reply set.
  int scrub_command(std::string_view args, Reply* reply);
  // "resize SIZE [discard]": 0 or a positive errno; *reply set.
  int resize_command(std::string_view args, Reply* reply) REQUIRES(command_mu_);
  // "member N fail|restore", "box N fail|restore", "rebuild [status]" on a
  // member set: 0 or a positive errno; *reply set.
  int member_command(std::string_view value, Reply* reply) REQUIRES(command_mu_);

  Driver& driver_;
  AdminInterface& admin_;
  ImageStore& store_;
  const ControlOptions opts_;
  const std::string name_;  // the image or mountpoint, for messages
  const std::chrono::steady_clock::time_point started_;
  Scrub scrub_;
  std::unique_ptr<Rebuilder> rebuilder_;  // a writable member set only

  // Lock order: command_mu_, then the driver's and device's locks; state_mu_
  // is never held while calling anything else.
  // command_mu_ guards no member: it runs one command at a time (a command
  // makes several calls on the stack, then saves the rules file; two must
  // not interleave).
  Mutex command_mu_ ACQUIRED_BEFORE(state_mu_);
  // Guards the replies and probed values below.
  Mutex state_mu_;
  std::map<pid_t, Reply> reply_by_pid_ GUARDED_BY(state_mu_);  // bounded
  std::map<uid_t, Reply> reply_by_uid_ GUARDED_BY(state_mu_);  // last per user
  struct Probed {
    std::string value;
    std::chrono::steady_clock::time_point at;
  };
  std::map<std::pair<pid_t, std::string>, Probed> probed_ GUARDED_BY(state_mu_);  // bounded
};

}  // namespace vblk::live
