// shmring tool: the `dump` command (tools/dump.cpp), replaying a message ring read-only.
// May touch: nothing by itself; declares what tools/shmring.cpp calls.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace shmring_tool {

/// What `shmring dump NAME --from WHERE [--max N] [--json]` was given.
struct dump_args {
  std::string name;
  std::string from = "tail";           ///< "tail", "oldest" or a byte index
  std::optional<std::uint64_t> max;    ///< stop after this many messages
  bool json = false;
  bool follow = false;                 ///< at the head, wait for more until the producer is gone
  std::uint64_t interval_ms = 100;     ///< follow: how often to look again
};

/// Runs the command: 0 when it read to the head (or --max; with follow: until the producer is no longer attached
/// and alive, or the ring is gone), 1 on an error, an overrun or a corrupted ring.
int run_dump(const dump_args& a);

}  // namespace shmring_tool
