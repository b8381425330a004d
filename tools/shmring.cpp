// shmring: the command-line tool. Lists, inspects and watches the rings on this machine, removes one, and removes
// the stale ones, and dumps a message ring's messages without consuming them (`dump`, tools/dump.cpp). Human output
// by default, --json for scripts.
// May touch: reads any shmring segment it may open, READ-ONLY, through shmring::status() (maps the header only,
// never attaches, never locks, never writes); `watch` also keeps the object it watches open read-only, header
// mapped, to read how the ring ended once its name is gone; `dump` maps the whole segment read-only
// (shmring::message_replay). Only `remove` and `gc` change anything: they remove
// names.
#include "dump.hpp"

#include <shmring/shmring.hpp>
#include <shmring/stale.hpp>
#include <shmring/status.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <pwd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

namespace {

constexpr const char* usage_text =
    R"(usage: shmring <command> [options]

Inspect and manage shmring rings (POSIX shared memory /dev/shm/shmring-NAME).

commands:
  list                    every shmring segment of the machine: name, owner (user name, or uid), age since
                          creation (42s, 5m, 2h, 4d), kind, element size, capacity, segment size in bytes
                          (KiB = 1024 bytes; exact in --json: segment_size), elements or messages in the ring,
                          usage, producer and consumer (alive, DEAD, detached, closed, never attached) with their pids.
                          Entries it cannot read are listed with the error: another user's ring, an unready one,
                          or something that is not a segment (KIND fifo, dir, socket, symlink), never opened
                          for reading nor waited on
  stat NAME               the full status snapshot of one ring and both sides' counters, owner, age, size
  watch NAME              the ring's rates, one line per sample: elements/s (typed rings) or msgs/s (message
                          rings) sent and received, MB/s sent and received (1 MB = 10^6 bytes), and how often
                          per second the producer found the ring full and the consumer found it empty
        --interval MS     time between samples (default 1000)
        --count N         stop after N samples (default: until the ring ends, or until interrupted)
                          The watch ends quietly with exit 0 when the ring ends normally: both sides detached
                          cleanly and the drained ring was removed. A ring removed any other way (a side still
                          attached or dead, data left in it) ends it with exit 1 and a message saying so.
  dump NAME               the messages of a message ring, read without consuming them (read-only, no attach
                          lock: neither side notices): sequence, byte index, type, flags, length, timestamp and
                          payload (text here, hex in --json), fragments reassembled. It reads up to the
                          producer's head and stops; exit 1 if the producer overwrote what it was reading
                          (overrun: dump again from oldest) or the ring is corrupted
        --from WHERE      tail (default: what the consumer receives next), oldest (the oldest record still
                          intact, consumed ones included), or a byte index (a record boundary: the index and
                          next fields of an earlier dump); an index that is not one is an error
        --max N           stop after N messages
        --follow          at the head, look again every --interval ms (default here 100) until the
                          producer is no longer attached and alive, then read what it left and exit 0
                          --json: one object per message, then {"end": "end"|"max"|"overrun"|"corrupted", ...}
  remove NAME             remove the ring's name now. Refuses (exit 1, naming the side and its pid) while a
                          producer or consumer is attached and alive; a ring with no live side is removed.
        --force           remove it even with a live side (attached processes keep their mapping and go on,
                          but nobody new can open the ring)
  gc [NAME...]            remove stale rings: no live side, and a side died attached or the creator died
                          before the ring was ready. Without a name: every stale ring of this user. A NAME that
                          does not exist (or cannot be judged) is an error: exit 1 with a message.
        --dry-run         only list what would be removed

options:
  --json                  machine-readable output: one JSON object (watch: one per line)
  -h, --help              this text
  --version               the shmring version

list, stat, watch and dump only read: they open segments read-only and never attach, lock or write.
Each ring is a plain file /dev/shm/shmring-NAME (`ls -l /dev/shm/shmring-*`), not System V IPC: `ipcs` does not
show it. gc is the safe clean-up (never touches a ring with a live side); remove is for one ring you want gone.
exit status: 0 success, 1 a ring could not be read or removed (the error is printed), 2 bad usage.
)";

struct args {
  std::string command;
  std::vector<std::string> names;
  bool json = false;
  bool dry_run = false;
  bool force = false;
  std::uint64_t interval_ms = 1000;
  std::optional<std::uint64_t> count;
  std::optional<std::string> from;   // dump --from
  std::optional<std::uint64_t> max;  // dump --max
  bool follow = false;               // dump --follow
  bool interval_set = false;         // --interval given (dump --follow's default differs from watch's)
};

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "shmring: %s\n(run `shmring --help` for usage)\n", why.c_str());
  std::exit(2);
}

std::uint64_t parse_number(std::string_view opt, const char* value) {
  if (value == nullptr) usage_error(std::string(opt) + " needs a number");
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(value, &end, 10);
  if (errno != 0 || end == value || *end != '\0' || value[0] == '-')
    usage_error(std::string(opt) + ": not a number: " + value);
  return v;
}

args parse(int argc, char* argv[]) {
  args a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view s = argv[i];
    if (s == "-h" || s == "--help" || s == "help") {
      std::fputs(usage_text, stdout);
      std::exit(0);
    } else if (s == "--version") {
      std::printf("shmring %d.%d.%d (layout version %u)\n", SHMRING_VERSION_MAJOR, SHMRING_VERSION_MINOR,
                  SHMRING_VERSION_PATCH, shmring::layout_version);
      std::exit(0);
    } else if (s == "--json") {
      a.json = true;
    } else if (s == "--dry-run") {
      a.dry_run = true;
    } else if (s == "--force") {
      a.force = true;
    } else if (s == "--interval") {
      a.interval_ms = parse_number(s, i + 1 < argc ? argv[++i] : nullptr);
      if (a.interval_ms == 0) usage_error("--interval must be at least 1 ms");
      a.interval_set = true;
    } else if (s == "--count") {
      a.count = parse_number(s, i + 1 < argc ? argv[++i] : nullptr);
      if (*a.count == 0) usage_error("--count must be at least 1");
    } else if (s == "--from") {
      if (i + 1 >= argc) usage_error("--from needs tail, oldest or a byte index");
      a.from = argv[++i];
    } else if (s == "--follow") {
      a.follow = true;
    } else if (s == "--max") {
      a.max = parse_number(s, i + 1 < argc ? argv[++i] : nullptr);
    } else if (s.size() > 1 && s[0] == '-') {
      usage_error("unknown option " + std::string(s));
    } else if (a.command.empty()) {
      a.command = s;
    } else {
      a.names.emplace_back(s);
    }
  }
  if (a.command.empty()) usage_error("no command given");
  if (a.force && a.command != "remove") usage_error("--force is an option of remove only");
  if ((a.from || a.max || a.follow) && a.command != "dump") usage_error("--from, --max and --follow are options of dump only");
  return a;
}

std::string json_quoted(std::string_view s) {
  std::string out;
  shmring::detail::json_string(out, s);
  return out;
}

// A name as people read it: as is when it is a valid name, JSON-quoted (escaped) otherwise.
std::string shown(std::string_view name) {
  try {
    shmring::validate_name(name);
    return std::string(name);
  } catch (const shmring::error&) {
    return json_quoted(name);
  }
}

std::string error_json(std::string_view name, const shmring::error& e) {
  return "{\"name\":" + json_quoted(name) + ",\"error\":\"" + std::string(shmring::to_string(e.code())) +
         "\",\"message\":" + json_quoted(e.what()) + "}";
}

int report_error(const args& a, std::string_view name, const shmring::error& e) {
  if (a.json) std::printf("%s\n", error_json(name, e).c_str());
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}

// Neither side alive, and one of them died attached: what `gc` would remove (gc decides under the admin lock).
bool looks_stale(const shmring::ring_status& s) {
  return !s.producer.alive && !s.consumer.alive && (s.producer.dead() || s.consumer.dead());
}

std::string with_field(std::string json, const std::string& field) {
  json.insert(json.size() - 1, "," + field);
  return json;
}

// The user name of uid, or the uid as a number when it has none.
std::string user_name(std::uint32_t uid) {
  static std::map<std::uint32_t, std::string> known;
  if (const auto it = known.find(uid); it != known.end()) return it->second;
  std::string found = std::to_string(uid);
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* result = nullptr;
  if (::getpwuid_r(static_cast<uid_t>(uid), &pw, buf.data(), buf.size(), &result) == 0 && result != nullptr &&
      result->pw_name != nullptr && result->pw_name[0] != '\0')
    found = result->pw_name;
  return known.emplace(uid, found).first->second;
}

// Whole seconds since created_ns (CLOCK_REALTIME, ns); 0 for a creation time in the future (the clock was set back).
std::uint64_t age_seconds(std::uint64_t created_ns) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const auto now_ns = static_cast<std::uint64_t>(now.tv_sec) * 1000000000u + static_cast<std::uint64_t>(now.tv_nsec);
  return now_ns > created_ns ? (now_ns - created_ns) / 1000000000u : 0;
}

// "42s", "5m", "2h", "4d": the largest unit that fits, rounded down.
std::string human_age(std::uint64_t seconds) {
  if (seconds < 60) return std::to_string(seconds) + "s";
  if (seconds < 3600) return std::to_string(seconds / 60) + "m";
  if (seconds < 86400) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

// "576 B", "4.6 KiB", "1.0 MiB": binary units, one decimal.
std::string human_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static constexpr const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes) / 1024;
  std::size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

// What list and stat --json add to to_json(): looks_stale, owner, age and the segment size for people.
std::string json_with_extras(const shmring::ring_status& s) {
  const std::uint64_t age = age_seconds(s.created_ns);
  std::string o =
      with_field(shmring::to_json(s), std::string("\"looks_stale\":") + (looks_stale(s) ? "true" : "false"));
  o = with_field(o, "\"owner\":" + json_quoted(user_name(s.creator_uid)));
  o = with_field(o, "\"age_s\":" + std::to_string(age) + ",\"age\":\"" + human_age(age) + "\"");
  return with_field(o, "\"segment_size_human\":\"" + human_bytes(s.segment_size) + "\"");
}

std::string side_summary(const shmring::side_status& d) {
  std::string s = d.alive ? "alive" : d.dead() ? "DEAD" : std::string(shmring::to_string(d.state));
  if (d.state != shmring::layout::attach_state::never) s += "(" + std::to_string(d.pid) + ")";
  return s;
}

// The user names of every /dev/shm/shmring-* object, sorted.
std::vector<std::string> segment_names() {
  std::vector<std::string> names;
  std::error_code ec;
  std::filesystem::directory_iterator it("/dev/shm", ec);
  if (ec) return names;
  for (const std::filesystem::directory_iterator end; it != end; it.increment(ec)) {
    if (ec) break;
    const std::string file = it->path().filename().string();
    if (file.size() > shmring::object_prefix.size() &&
        file.compare(0, shmring::object_prefix.size(), shmring::object_prefix) == 0)
      names.push_back(file.substr(shmring::object_prefix.size()));
  }
  std::sort(names.begin(), names.end());
  return names;
}

int cmd_list(const args& a) {
  if (!a.names.empty()) usage_error("list takes no name");
  std::vector<shmring::ring_status> rings;
  std::vector<std::pair<std::string, shmring::error>> unreadable;
  for (const std::string& n : segment_names()) {
    try {
      rings.push_back(shmring::status(n));
    } catch (const shmring::error& e) {
      unreadable.emplace_back(n, e);
    }
  }
  // An unreadable segment's owner and size come from the file (its header may not say); lstat, so that a
  // symbolic link in a segment's place shows itself, not its target.
  auto file_of = [](const std::string& n) {
    struct stat st{};
    const std::string path = shmring::object_name(n, "/dev/shm/");
    return ::lstat(path.c_str(), &st) == 0 ? std::optional<struct stat>(st) : std::nullopt;
  };
  // The KIND column of an unreadable entry: what the file is when it is not a segment at all.
  auto kind_of = [](const std::optional<struct stat>& st) -> const char* {
    if (!st || S_ISREG(st->st_mode)) return "?";
    if (S_ISFIFO(st->st_mode)) return "fifo";
    if (S_ISDIR(st->st_mode)) return "dir";
    if (S_ISLNK(st->st_mode)) return "symlink";
    if (S_ISSOCK(st->st_mode)) return "socket";
    return "special";
  };
  if (a.json) {
    std::string o = "{\"rings\":[";
    for (std::size_t i = 0; i < rings.size(); ++i) {
      if (i != 0) o += ",";
      o += json_with_extras(rings[i]);
    }
    o += "],\"unreadable\":[";
    for (std::size_t i = 0; i < unreadable.size(); ++i) {
      if (i != 0) o += ",";
      std::string u = error_json(unreadable[i].first, unreadable[i].second);
      if (const auto st = file_of(unreadable[i].first))
        u = with_field(u, "\"owner\":" + json_quoted(user_name(static_cast<std::uint32_t>(st->st_uid))) +
                              ",\"file_size\":" + std::to_string(st->st_size) + ",\"file_type\":\"" +
                              (S_ISREG(st->st_mode) ? "file" : kind_of(st)) + "\"");
      o += u;
    }
    o += "]}";
    std::printf("%s\n", o.c_str());
    return 0;
  }
  if (rings.empty() && unreadable.empty()) {
    std::printf("no shmring segments\n");
    return 0;
  }
  std::printf("%-24s %-10s %5s %-8s %6s %12s %10s %12s %8s  %-16s %-16s\n", "NAME", "OWNER", "AGE", "KIND", "ELEM",
              "CAPACITY", "BYTES", "IN RING", "USAGE", "PRODUCER", "CONSUMER");
  for (const auto& s : rings) {
    const bool msg = s.kind == shmring::segment_kind::message;
    std::printf("%-24s %-10s %5s %-8s %6s %12llu %10s %12llu %7.2f%%  %-16s %-16s%s%s\n", shown(s.name).c_str(),
                user_name(s.creator_uid).c_str(), human_age(age_seconds(s.created_ns)).c_str(),
                std::string(shmring::to_string(s.kind)).c_str(), msg ? "-" : std::to_string(s.element_size).c_str(),
                static_cast<unsigned long long>(s.capacity), human_bytes(s.segment_size).c_str(),
                static_cast<unsigned long long>(s.messages_in_ring), s.usage_percent, side_summary(s.producer).c_str(),
                side_summary(s.consumer).c_str(), s.consistent ? "" : "  INCONSISTENT INDICES",
                looks_stale(s) ? "  (stale)" : "");
  }
  for (const auto& [n, e] : unreadable) {
    const auto st = file_of(n);
    std::printf("%-24s %-10s %5s %-8s %6s %12s %10s  %s\n", shown(n).c_str(),
                st ? user_name(static_cast<std::uint32_t>(st->st_uid)).c_str() : "?", "-", kind_of(st), "-", "-",
                st ? human_bytes(static_cast<std::uint64_t>(st->st_size)).c_str() : "-", e.what());
  }
  return 0;
}

int cmd_stat(const args& a) {
  if (a.names.size() != 1) usage_error("stat takes one name");
  try {
    const shmring::ring_status s = shmring::status(a.names[0]);
    if (a.json)
      std::printf("%s\n", json_with_extras(s).c_str());
    else
      std::printf("%s  owner %s (uid %u), created %s ago, segment %s\n", shmring::to_string(s).c_str(),
                  user_name(s.creator_uid).c_str(), s.creator_uid, human_age(age_seconds(s.created_ns)).c_str(),
                  human_bytes(s.segment_size).c_str());
    return 0;
  } catch (const shmring::error& e) {
    return report_error(a, a.names[0], e);
  }
}

struct rates {
  double sent = 0, received = 0, bytes_sent = 0, bytes_received = 0, full = 0, empty = 0;
};

rates rates_between(const shmring::ring_status& prev, const shmring::ring_status& cur, double seconds) {
  auto per_s = [&](std::uint64_t before, std::uint64_t after) {
    return seconds > 0 ? static_cast<double>(after - before) / seconds : 0.0;
  };
  return {per_s(prev.producer.messages, cur.producer.messages), per_s(prev.consumer.messages, cur.consumer.messages),
          per_s(prev.producer.bytes, cur.producer.bytes),       per_s(prev.consumer.bytes, cur.consumer.bytes),
          per_s(prev.producer.stalls, cur.producer.stalls),     per_s(prev.consumer.stalls, cur.consumer.stalls)};
}

std::string num2(double v) { return shmring::detail::fixed2(v); }

// What a ring counts in: typed rings move elements, message rings messages.
const char* unit_of(const shmring::ring_status& s) {
  return s.kind == shmring::segment_kind::message ? "messages" : "elements";
}

// A watch keeps the object its samples come from open (read-only, header mapped; it never attaches, locks or
// writes) so that, once the name is gone, it can still read how the ring ended.
const shmring::layout::header& header_of(const shmring::segment& seg) {
  return *std::launder(reinterpret_cast<const shmring::layout::header*>(seg.data()));
}

shmring::ring_status held_status(const shmring::segment& seg, const std::string& name) {
  // Values only (nothing is sized from them): status() validated this object's header before it was held.
  const shmring::layout::header& h = header_of(seg);
  return shmring::detail::read_status(h, shmring::layout::read_snapshot(h), name,
                                      [&](shmring::side s) { return seg.locked_by_other(shmring::detail::lock_of(s)); });
}

// Why the end of a ring whose name was removed is not the normal one, or "" when it is: neither side is attached
// any more (each detached cleanly or never attached) and nothing was left in the ring. That is how the library
// retires a drained ring (the last side to detach removes the name).
std::string abnormal_end(const shmring::ring_status& s) {
  for (const auto& [what, d] : {std::pair<const char*, const shmring::side_status&>{"producer", s.producer},
                                std::pair<const char*, const shmring::side_status&>{"consumer", s.consumer}}) {
    if (d.alive) return std::string("the ") + what + " (pid " + std::to_string(d.pid) + ") is still attached";
    if (d.dead()) return std::string("the ") + what + " (pid " + std::to_string(d.pid) + ") died attached";
  }
  if (!s.consistent) return "its indices were inconsistent";
  if (s.head != s.tail)
    return std::to_string(s.messages_in_ring) + " " + unit_of(s) + " (" + std::to_string(s.bytes_used) +
           " bytes) were still in it";
  return {};
}

// One sample of the ring NAME refers to now, taken from the object `held` keeps open. Opens (and holds) that
// object on the first sample and whenever the name has moved to another object since (a ring removed and created
// anew: `replaced` is then true). Throws what status() throws; not_found when the name is gone, `held` then still
// being the last ring seen (if any).
shmring::ring_status sample_ring(const std::string& name, std::optional<shmring::segment>& held, bool& replaced) {
  replaced = false;
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (held && held->still_named()) {
      shmring::ring_status s = shmring::status(name);
      if (held->still_named()) return s;  // named before and after: s is the held object's status
      continue;
    }
    shmring::segment seg = shmring::segment::open(name, shmring::segment::access::read_only);
    shmring::ring_status s = shmring::status(name);  // validates the header before we map it
    if (!seg.still_named()) continue;               // replaced between the open and status(): again
    seg.map(sizeof(shmring::layout::header));
    replaced = held.has_value();
    held.emplace(std::move(seg));
    return s;
  }
  throw shmring::error(shmring::errc::system_error, name, "the name kept moving to new segments while watching it");
}

void print_watch_header(const std::string& name, const shmring::ring_status& s, std::uint64_t interval_ms) {
  const bool msg = s.kind == shmring::segment_kind::message;
  const std::string per = msg ? "msgs/s" : "elements/s";
  std::printf("shmring watch %s: %s ring%s, a sample every %llu ms; rates in %s and MB/s (1 MB = 10^6 bytes)\n",
              shown(name).c_str(), std::string(shmring::to_string(s.kind)).c_str(),
              msg ? "" : (" of " + std::to_string(s.element_size) + "-byte elements").c_str(),
              static_cast<unsigned long long>(interval_ms), per.c_str());
  std::printf("%8s %12s %8s %16s %16s %10s %10s %9s %9s  %-16s %-16s\n", "TIME(s)",
              msg ? "IN RING msgs" : "IN RING elems", "USAGE", ("SENT " + per).c_str(), ("RECV " + per).c_str(),
              "SENT MB/s", "RECV MB/s", "FULL/s", "EMPTY/s", "PRODUCER", "CONSUMER");
}

int cmd_watch(const args& a) {
  if (a.names.size() != 1) usage_error("watch takes one name");
  const std::string& name = a.names[0];
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  std::optional<shmring::ring_status> prev;
  std::optional<shmring::segment> held;
  clock::time_point prev_t{};
  for (std::uint64_t sample = 1;; ++sample) {
    shmring::ring_status s;
    bool replaced = false;
    try {
      s = sample_ring(name, held, replaced);
    } catch (const shmring::error& e) {
      if (e.code() != shmring::errc::not_found || !held) return report_error(a, name, e);
      // The name is gone after we saw the ring: a normal end ends the watch quietly, anything else is an error.
      const std::string why = abnormal_end(held_status(*held, name));
      if (why.empty()) return 0;
      return report_error(a, name, shmring::error(shmring::errc::not_found, name, "the ring was removed while " + why));
    }
    const auto now = clock::now();
    const double t = std::chrono::duration<double>(now - t0).count();
    if (replaced) prev.reset();  // a new ring under the name: its counters start again
    std::optional<rates> r;
    if (prev) r = rates_between(*prev, s, std::chrono::duration<double>(now - prev_t).count());
    if (a.json) {
      std::string o = "{\"sample\":" + std::to_string(sample) + ",\"t\":" + num2(t) + ",\"unit\":\"" + unit_of(s) +
                      "\",\"rates\":";
      if (r)
        o += "{\"sent_per_s\":" + num2(r->sent) + ",\"received_per_s\":" + num2(r->received) +
             ",\"bytes_sent_per_s\":" + num2(r->bytes_sent) + ",\"bytes_received_per_s\":" + num2(r->bytes_received) +
             ",\"full_per_s\":" + num2(r->full) + ",\"empty_per_s\":" + num2(r->empty) + "}";
      else
        o += "null";
      o += ",\"status\":" + shmring::to_json(s) + "}";
      std::printf("%s\n", o.c_str());
    } else {
      if (sample == 1 || replaced) print_watch_header(name, s, a.interval_ms);
      auto col = [&](double v, double scale) { return r ? num2(v / scale) : std::string("-"); };
      std::printf("%8s %12llu %7.2f%% %16s %16s %10s %10s %9s %9s  %-16s %-16s\n", num2(t).c_str(),
                  static_cast<unsigned long long>(s.messages_in_ring), s.usage_percent,
                  col(r ? r->sent : 0, 1).c_str(), col(r ? r->received : 0, 1).c_str(),
                  col(r ? r->bytes_sent : 0, 1e6).c_str(), col(r ? r->bytes_received : 0, 1e6).c_str(),
                  col(r ? r->full : 0, 1).c_str(), col(r ? r->empty : 0, 1).c_str(), side_summary(s.producer).c_str(),
                  side_summary(s.consumer).c_str());
    }
    std::fflush(stdout);
    if (a.count && sample >= *a.count) return 0;
    prev = s;
    prev_t = now;
    std::this_thread::sleep_until(now + std::chrono::milliseconds(a.interval_ms));
  }
}

// The sides of the ring that a live process holds now, as "the producer (pid 12)". The pids come from the
// header; a segment whose header cannot be read (not ready, damaged) is judged by its attach locks alone.
// Throws not_found when there is no such segment and permission_denied when it may not be opened.
std::vector<std::string> live_sides(const std::string& name) {
  std::vector<std::string> live;
  try {
    const shmring::ring_status s = shmring::status(name);
    if (s.producer.alive) live.push_back("the producer (pid " + std::to_string(s.producer.pid) + ")");
    if (s.consumer.alive) live.push_back("the consumer (pid " + std::to_string(s.consumer.pid) + ")");
    return live;
  } catch (const shmring::error& e) {
    if (e.code() == shmring::errc::not_found || e.code() == shmring::errc::permission_denied) throw;
  }
  const shmring::segment seg = shmring::segment::open(name, shmring::segment::access::read_only);
  if (seg.locked_by_other(shmring::lock_byte::producer))
    live.emplace_back("the producer (pid unknown: unreadable header)");
  if (seg.locked_by_other(shmring::lock_byte::consumer))
    live.emplace_back("the consumer (pid unknown: unreadable header)");
  return live;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? "" : " and ") + parts[i];
  return out;
}

int cmd_remove(const args& a) {
  if (a.names.size() != 1) usage_error("remove takes one name");
  const std::string& name = a.names[0];
  std::vector<std::string> live;
  try {
    // Checked just before removing: a process attaching in between keeps its mapping, as with --force.
    try {
      live = live_sides(name);
    } catch (const shmring::error& e) {
      if (!a.force || e.code() == shmring::errc::not_found) throw;
    }
    if (!live.empty() && !a.force)
      throw shmring::error(shmring::errc::already_attached, name,
                           joined(live) + (live.size() == 1 ? " is" : " are") +
                               " attached and alive; not removed (`shmring remove --force` removes the name anyway; "
                               "attached processes keep their mapping)");
    if (!shmring::remove(name))
      throw shmring::error(shmring::errc::not_found, name, "no segment of that name");
  } catch (const shmring::error& e) {
    return report_error(a, name, e);
  }
  if (a.json)
    std::printf("{\"name\":%s,\"removed\":true}\n", json_quoted(name).c_str());
  else if (live.empty())
    std::printf("removed %s\n", shown(name).c_str());
  else
    std::printf("removed %s; %s %s still attached and keep%s the mapping\n", shown(name).c_str(), joined(live).c_str(),
                live.size() == 1 ? "was" : "were", live.size() == 1 ? "s" : "");
  return 0;
}

int cmd_gc(const args& a) {
  std::vector<std::string> done;
  std::vector<std::pair<std::string, shmring::error>> errors;  // the rings named on the command line that failed
  if (a.names.empty() && !a.dry_run) {
    done = shmring::remove_stale();
  } else {
    const std::vector<std::string> names = a.names.empty() ? segment_names() : a.names;
    for (const std::string& n : names) {
      try {
        // is_stale / remove_stale say false for a name that does not exist; a ring named on the command line
        // that does not exist is an error (a typo must not look like "nothing stale").
        if (!a.names.empty()) (void)shmring::segment::open(n, shmring::segment::access::read_only);
        if (a.dry_run ? shmring::is_stale(n) : shmring::remove_stale(n)) done.push_back(n);
      } catch (const shmring::error& e) {
        if (!a.names.empty()) errors.emplace_back(n, e);  // a ring named on the command line that cannot be judged
      }
    }
  }
  for (const auto& [n, e] : errors) std::fprintf(stderr, "%s\n", e.what());
  if (a.json) {
    std::string o = a.dry_run ? "{\"stale\":[" : "{\"removed\":[";
    for (std::size_t i = 0; i < done.size(); ++i) o += (i != 0 ? "," : "") + json_quoted(done[i]);
    o += "],\"errors\":[";
    for (std::size_t i = 0; i < errors.size(); ++i)
      o += (i != 0 ? "," : "") + error_json(errors[i].first, errors[i].second);
    o += "]}";
    std::printf("%s\n", o.c_str());
  } else if (done.empty()) {
    if (errors.empty()) std::printf("no stale rings\n");
  } else {
    for (const std::string& n : done) std::printf("%s %s\n", a.dry_run ? "stale" : "removed", shown(n).c_str());
  }
  return errors.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char* argv[]) {
  const args a = parse(argc, argv);
  try {
    if (a.command == "list") return cmd_list(a);
    if (a.command == "stat") return cmd_stat(a);
    if (a.command == "watch") return cmd_watch(a);
    if (a.command == "dump") {
      if (a.names.size() != 1) usage_error("dump takes one name");
      return shmring_tool::run_dump(
          {a.names[0], a.from.value_or("tail"), a.max, a.json, a.follow, a.interval_set ? a.interval_ms : 100});
    }
    if (a.command == "remove") return cmd_remove(a);
    if (a.command == "gc") return cmd_gc(a);
  } catch (const shmring::error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmring: %s\n", e.what());
    return 1;
  }
  usage_error("unknown command " + a.command);
}
