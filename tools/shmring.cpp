// shmring: the command-line tool. Lists, inspects and watches the rings on this machine, removes one, and removes
// the stale ones. Human output by default, --json for scripts.
// May touch: reads any shmring segment it may open, READ-ONLY, through shmring::status() (maps the header only,
// never attaches, never locks, never writes). Only `remove` and `gc` change anything: they remove names.
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
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace {

constexpr const char* usage_text =
    R"(usage: shmring <command> [options]

Inspect and manage shmring rings (POSIX shared memory /dev/shm/shmring-NAME).

commands:
  list                    every shmring segment of the machine: name, kind, element size, capacity, usage,
                          producer and consumer (alive, dead, detached, never attached) with their pids
  stat NAME               the full status snapshot of one ring and both sides' counters
  watch NAME              the ring's rates per second, one line per sample
        --interval MS     time between samples (default 1000)
        --count N         stop after N samples (default: until interrupted)
  remove NAME             remove the ring's name now (attached processes keep their mapping)
  gc [NAME...]            remove stale rings: no live side, and a side died attached or the creator died
                          before the ring was ready (default: every ring of this user)
        --dry-run         only list what would be removed

options:
  --json                  machine-readable output: one JSON object (watch: one per line)
  -h, --help              this text
  --version               the shmring version

list, stat and watch only read: they open segments read-only and never attach, lock or write.
exit status: 0 success, 1 a ring could not be read or removed (the error is printed), 2 bad usage.
)";

struct args {
  std::string command;
  std::vector<std::string> names;
  bool json = false;
  bool dry_run = false;
  std::uint64_t interval_ms = 1000;
  std::optional<std::uint64_t> count;
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
    } else if (s == "--interval") {
      a.interval_ms = parse_number(s, i + 1 < argc ? argv[++i] : nullptr);
      if (a.interval_ms == 0) usage_error("--interval must be at least 1 ms");
    } else if (s == "--count") {
      a.count = parse_number(s, i + 1 < argc ? argv[++i] : nullptr);
      if (*a.count == 0) usage_error("--count must be at least 1");
    } else if (s.size() > 1 && s[0] == '-') {
      usage_error("unknown option " + std::string(s));
    } else if (a.command.empty()) {
      a.command = s;
    } else {
      a.names.emplace_back(s);
    }
  }
  if (a.command.empty()) usage_error("no command given");
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
  if (a.json) {
    std::string o = "{\"rings\":[";
    for (std::size_t i = 0; i < rings.size(); ++i) {
      if (i != 0) o += ",";
      o += with_field(shmring::to_json(rings[i]), std::string("\"looks_stale\":") + (looks_stale(rings[i]) ? "true" : "false"));
    }
    o += "],\"unreadable\":[";
    for (std::size_t i = 0; i < unreadable.size(); ++i) {
      if (i != 0) o += ",";
      o += error_json(unreadable[i].first, unreadable[i].second);
    }
    o += "]}";
    std::printf("%s\n", o.c_str());
    return 0;
  }
  if (rings.empty() && unreadable.empty()) {
    std::printf("no shmring segments\n");
    return 0;
  }
  std::printf("%-24s %-8s %6s %12s %12s %8s  %-16s %-16s\n", "NAME", "KIND", "ELEM", "CAPACITY", "IN RING", "USAGE",
              "PRODUCER", "CONSUMER");
  for (const auto& s : rings) {
    const bool msg = s.kind == shmring::segment_kind::message;
    std::printf("%-24s %-8s %6s %12llu %12llu %7.2f%%  %-16s %-16s%s%s\n", shown(s.name).c_str(),
                std::string(shmring::to_string(s.kind)).c_str(), msg ? "-" : std::to_string(s.element_size).c_str(),
                static_cast<unsigned long long>(s.capacity), static_cast<unsigned long long>(s.messages_in_ring),
                s.usage_percent, side_summary(s.producer).c_str(), side_summary(s.consumer).c_str(),
                s.consistent ? "" : "  INCONSISTENT INDICES", looks_stale(s) ? "  (stale)" : "");
  }
  for (const auto& [n, e] : unreadable)
    std::printf("%-24s %s\n", shown(n).c_str(), e.what());
  return 0;
}

int cmd_stat(const args& a) {
  if (a.names.size() != 1) usage_error("stat takes one name");
  try {
    const shmring::ring_status s = shmring::status(a.names[0]);
    if (a.json)
      std::printf("%s\n", with_field(shmring::to_json(s), std::string("\"looks_stale\":") + (looks_stale(s) ? "true" : "false")).c_str());
    else
      std::fputs(shmring::to_string(s).c_str(), stdout);
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

int cmd_watch(const args& a) {
  if (a.names.size() != 1) usage_error("watch takes one name");
  const std::string& name = a.names[0];
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  std::optional<shmring::ring_status> prev;
  clock::time_point prev_t{};
  if (!a.json) {
    std::printf("shmring watch %s every %llu ms\n", shown(name).c_str(), static_cast<unsigned long long>(a.interval_ms));
    std::printf("%8s %12s %8s %12s %12s %10s %10s %9s %9s  %-16s %-16s\n", "TIME", "IN RING", "USAGE", "SENT/S",
                "RECEIVED/S", "MB/S IN", "MB/S OUT", "FULL/S", "EMPTY/S", "PRODUCER", "CONSUMER");
  }
  for (std::uint64_t sample = 1;; ++sample) {
    shmring::ring_status s;
    try {
      s = shmring::status(name);
    } catch (const shmring::error& e) {
      return report_error(a, name, e);
    }
    const auto now = clock::now();
    const double t = std::chrono::duration<double>(now - t0).count();
    std::optional<rates> r;
    if (prev) r = rates_between(*prev, s, std::chrono::duration<double>(now - prev_t).count());
    if (a.json) {
      std::string o = "{\"sample\":" + std::to_string(sample) + ",\"t\":" + num2(t) + ",\"rates\":";
      if (r)
        o += "{\"sent_per_s\":" + num2(r->sent) + ",\"received_per_s\":" + num2(r->received) +
             ",\"bytes_sent_per_s\":" + num2(r->bytes_sent) + ",\"bytes_received_per_s\":" + num2(r->bytes_received) +
             ",\"full_per_s\":" + num2(r->full) + ",\"empty_per_s\":" + num2(r->empty) + "}";
      else
        o += "null";
      o += ",\"status\":" + shmring::to_json(s) + "}";
      std::printf("%s\n", o.c_str());
    } else {
      auto col = [&](double v, double scale) { return r ? num2(v / scale) : std::string("-"); };
      std::printf("%8s %12llu %7.2f%% %12s %12s %10s %10s %9s %9s  %-16s %-16s\n", num2(t).c_str(),
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

int cmd_remove(const args& a) {
  if (a.names.size() != 1) usage_error("remove takes one name");
  const std::string& name = a.names[0];
  try {
    if (!shmring::remove(name))
      throw shmring::error(shmring::errc::not_found, name, "no segment of that name");
  } catch (const shmring::error& e) {
    return report_error(a, name, e);
  }
  if (a.json)
    std::printf("{\"name\":%s,\"removed\":true}\n", json_quoted(name).c_str());
  else
    std::printf("removed %s\n", shown(name).c_str());
  return 0;
}

int cmd_gc(const args& a) {
  std::vector<std::string> done;
  int rc = 0;
  if (a.names.empty() && !a.dry_run) {
    done = shmring::remove_stale();
  } else {
    const std::vector<std::string> names = a.names.empty() ? segment_names() : a.names;
    for (const std::string& n : names) {
      try {
        if (a.dry_run ? shmring::is_stale(n) : shmring::remove_stale(n)) done.push_back(n);
      } catch (const shmring::error& e) {
        if (!a.names.empty()) {  // a ring named on the command line that cannot be judged is an error
          std::fprintf(stderr, "%s\n", e.what());
          rc = 1;
        }
      }
    }
  }
  if (a.json) {
    std::string o = a.dry_run ? "{\"stale\":[" : "{\"removed\":[";
    for (std::size_t i = 0; i < done.size(); ++i) o += (i != 0 ? "," : "") + json_quoted(done[i]);
    o += "]}";
    std::printf("%s\n", o.c_str());
  } else if (done.empty()) {
    std::printf("no stale rings\n");
  } else {
    for (const std::string& n : done) std::printf("%s %s\n", a.dry_run ? "stale" : "removed", shown(n).c_str());
  }
  return rc;
}

}  // namespace

int main(int argc, char* argv[]) {
  const args a = parse(argc, argv);
  try {
    if (a.command == "list") return cmd_list(a);
    if (a.command == "stat") return cmd_stat(a);
    if (a.command == "watch") return cmd_watch(a);
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
