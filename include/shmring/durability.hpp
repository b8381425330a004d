// shmring: how a producer of a file-backed ring makes what it writes durable (options::durability): the policies
// and what each promises after a crash (docs/durability.md).
// May touch: nothing. Plain values.
#pragma once

#include <cstdint>

namespace shmring {

/// When a producer of a file-backed ring (a ring named by a path) forces what it wrote to the file's storage
/// (msync(MS_SYNC) of the data pages written, then of the header page that holds head). On a /dev/shm ring
/// every policy is accepted and does nothing: its memory is its storage and nothing of it survives a reboot.
enum class sync_policy : std::uint8_t {
  none,    ///< the page cache decides; sync() forces it. After a machine crash any suffix may be lost.
  batch,   ///< every call that publishes a batch is synced before it returns: typed try_push_n/push_n, message
           ///< relay_flush; sync() too. Single pushes and sends wait for the next batch call or sync().
  commit,  ///< every call that publishes (push, send, commit, push_n...) is synced before it returns.
};

}  // namespace shmring
