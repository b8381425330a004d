// shmring tool: `shmring dump NAME --from tail|oldest|INDEX [--max N] [--json]`: the messages of a message ring from
// a byte index on, without consuming them (shmring::message_replay, docs/replay.md). Human output: one line per
// message; --json: one JSON object per message and a last one saying how the dump ended. --follow: at the head it
// looks again every --interval ms, until the producer is no longer attached and alive (shmring::status, read-only).
// May touch: the segment, opened and mapped READ-ONLY through message_replay and status() (no attach lock, no
// write).
#include "dump.hpp"

#include <shmring/message/replay.hpp>
#include <shmring/status.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

namespace shmring_tool {
namespace {

std::string flags_of(shmring::message_flags f) {
  std::string s;
  auto add = [&](shmring::message_flags w, const char* n) {
    if (shmring::has(f, w)) s += s.empty() ? n : std::string(",") + n;
  };
  add(shmring::message_flags::urgent, "urgent");
  add(shmring::message_flags::compressed, "compressed");
  add(shmring::message_flags::encrypted, "encrypted");
  return s;
}

std::string hex_of(const std::vector<std::byte>& p, std::size_t limit) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  const std::size_t n = std::min(p.size(), limit);
  s.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto b = static_cast<unsigned char>(p[i]);
    s.push_back(hex[b >> 4]);
    s.push_back(hex[b & 0xf]);
  }
  return s;
}

std::string quoted(std::string_view s) {
  std::string out;
  shmring::detail::json_string(out, s);
  return out;
}

std::string message_json(const shmring::replay_message& m) {
  const auto& i = m.info;
  return "{\"sequence\":" + std::to_string(i.sequence) + ",\"index\":" + std::to_string(m.index) +
         ",\"next\":" + std::to_string(m.next) + ",\"type\":" + std::to_string(static_cast<std::uint32_t>(i.type)) +
         ",\"flags\":\"" + flags_of(i.flags) + "\",\"timestamp_ns\":" + std::to_string(i.timestamp_ns) +
         ",\"length\":" + std::to_string(i.length) + ",\"type_tag\":" + std::to_string(i.type_tag) +
         ",\"records\":" + std::to_string(m.records) + ",\"resync\":" + (m.resync ? "true" : "false") +
         ",\"payload_hex\":\"" + hex_of(m.payload, m.payload.size()) + "\"}";
}

std::string message_line(const shmring::replay_message& m) {
  const auto& i = m.info;
  const std::string f = flags_of(i.flags);
  std::string text(m.text().substr(0, 64));
  return "#" + std::to_string(i.sequence) + " at " + std::to_string(m.index) + ": type " +
         std::to_string(static_cast<std::uint32_t>(i.type)) + (f.empty() ? "" : ", " + f) + ", " +
         std::to_string(i.length) + " bytes" + (m.records > 1 ? " in " + std::to_string(m.records) + " records" : "") +
         ", t " + std::to_string(i.timestamp_ns) + " ns" + (m.resync ? ", resync" : "") + ": " + quoted(text) +
         (m.payload.size() > 64 ? "..." : "");
}

/// Whether a producer holds the ring now. A ring whose name is gone has none (it ended).
bool producer_alive(const std::string& name) {
  try {
    return shmring::status(name).producer.alive;
  } catch (const shmring::error& e) {
    if (e.code() == shmring::errc::not_found) return false;
    throw;
  }
}

}  // namespace

int run_dump(const dump_args& a) {
  try {
    auto r = shmring::message_replay::open(a.name);
    if (a.from == "oldest") {
      (void)r.seek_oldest();
    } else if (a.from == "tail") {
      r.seek_tail();
    } else {
      char* end = nullptr;
      errno = 0;
      const unsigned long long v = std::strtoull(a.from.c_str(), &end, 10);
      if (errno != 0 || end == a.from.c_str() || *end != '\0' || a.from[0] == '-') {
        std::fprintf(stderr, "shmring: --from takes tail, oldest or a byte index, not %s\n(run `shmring --help` for usage)\n",
                     a.from.c_str());
        return 2;
      }
      r.seek(v);
    }
    const std::uint64_t from = r.position();
    std::uint64_t count = 0;
    shmring::message_replay::status s = shmring::message_replay::status::end;
    shmring::replay_message m;
    bool last_look = false;  // follow: the producer was gone; this pass reads what it left, then we stop
    while (!a.max || count < *a.max) {
      s = r.next(m);
      if (s == shmring::message_replay::status::ready) {
        ++count;
        std::printf("%s\n", (a.json ? message_json(m) : message_line(m)).c_str());
        continue;
      }
      if (s != shmring::message_replay::status::end || !a.follow || last_look) break;
      std::fflush(stdout);
      // Its last index store came before it let go of its attach lock: one more pass reads everything it sent.
      if (!producer_alive(a.name))
        last_look = true;
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(a.interval_ms));
    }
    const bool ok = s == shmring::message_replay::status::ready || s == shmring::message_replay::status::end;
    const std::string ended = s == shmring::message_replay::status::ready ? "max" : std::string(to_string(s));
    const std::string why = s == shmring::message_replay::status::overrun
                                ? "the producer overwrote the record at byte index " + std::to_string(r.overrun_index())
                                : s == shmring::message_replay::status::corrupted && r.why() != nullptr
                                      ? std::string(r.why()) + " (byte index " + std::to_string(r.position()) + ")"
                                      : std::string();
    if (a.json) {
      std::printf("{\"end\":\"%s\",\"messages\":%llu,\"from\":%llu,\"position\":%llu,\"head\":%llu,\"tail\":%llu,"
                  "\"skipped\":%llu%s}\n",
                  ended.c_str(), static_cast<unsigned long long>(count), static_cast<unsigned long long>(from),
                  static_cast<unsigned long long>(r.position()), static_cast<unsigned long long>(r.head()),
                  static_cast<unsigned long long>(r.tail()), static_cast<unsigned long long>(r.skipped()),
                  why.empty() ? "" : (",\"message\":" + quoted(why)).c_str());
    } else {
      std::printf("-- %llu messages from byte index %llu to %llu (%s); head %llu, tail %llu%s\n",
                  static_cast<unsigned long long>(count), static_cast<unsigned long long>(from),
                  static_cast<unsigned long long>(r.position()), ended.c_str(),
                  static_cast<unsigned long long>(r.head()), static_cast<unsigned long long>(r.tail()),
                  r.skipped() != 0 ? (", skipped " + std::to_string(r.skipped()) + " partial").c_str() : "");
    }
    if (!ok) std::fprintf(stderr, "shmring: dump of %s ended: %s\n", a.name.c_str(), why.c_str());
    return ok ? 0 : 1;
  } catch (const shmring::error& e) {
    if (a.json)
      std::printf("{\"name\":%s,\"error\":\"%s\",\"message\":%s}\n", quoted(a.name).c_str(),
                  std::string(shmring::to_string(e.code())).c_str(), quoted(e.what()).c_str());
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}

}  // namespace shmring_tool
