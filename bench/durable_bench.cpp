// shmring benchmark: where a ring lives and what durability costs (issue 18). One program, one run, the same
// parameters for every row: one thread that sends a block of --batch items and then receives them, over
//   - a /dev/shm ring (the baseline),
//   - a file-backed ring in a tmpfs directory (/dev/shm/...: page cache only; msync costs little),
//   - a file-backed ring on a disk file system (default /tmp; --disk DIR),
// under each sync_policy (none; batch: sync() every --batch messages, push_n of --batch elements for typed rings;
// commit: every message / element synced before the call returns). Messages of --size bytes (message rings) and
// 8-byte elements (typed rings). Each row runs for --seconds or --count items, whichever comes first, and prints
// items/s, MB/s and syncs/s. Also CRC-32C throughput (the checksum of file rings' records): instruction and table.
// Build: target durable_bench (preset bench), or
//   g++ -std=c++20 -O2 -Iinclude bench/durable_bench.cpp -o /tmp/durable_bench -pthread
// May touch: the rings it creates (removed at the end) and its own files in the directories it is given.
#include <shmring/ring/crc32c.hpp>
#include <shmring/shmring.hpp>
#include <shmring/stale.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using clk = std::chrono::steady_clock;
using namespace shmring;

struct config {
  std::string disk = "/tmp";
  std::string tmpfs = "/dev/shm";
  double seconds = 1.0;
  std::uint64_t count = 2'000'000;
  std::size_t size = 64;
  std::uint64_t batch = 64;
  int repeat = 3;
};

struct result {
  std::uint64_t items = 0;
  double seconds = 0;
};

const char* policy_name(sync_policy p) {
  return p == sync_policy::none ? "none" : p == sync_policy::batch ? "batch" : "commit";
}

// One thread sends a block of --batch items, then receives them: the cost per item of the producer's path with its
// syncs, and of the consumer's, without two threads contending for the machine's two (shared) cores.
result run_message(const std::string& name, sync_policy pol, const config& c) {
  (void)shmring::remove(name);
  options o;
  o.durability = pol;
  o.timestamps = false;
  auto p = message_producer::create(name, 1 << 20, o);
  auto cons = message_consumer::open(name);
  std::vector<std::byte> payload(c.size, std::byte{0x5a});
  std::vector<std::byte> out(c.size);
  const auto t0 = clk::now();
  const auto until = t0 + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(c.seconds));
  std::uint64_t n = 0;
  while (n < c.count && clk::now() < until) {
    for (std::uint64_t k = 0; k < c.batch; ++k) p.send(payload);
    if (pol == sync_policy::batch) p.sync();  // a message producer's batch point
    for (std::uint64_t k = 0; k < c.batch; ++k)
      if (!cons.try_receive(out)) std::abort();
    n += c.batch;
  }
  const auto t1 = clk::now();
  (void)shmring::remove(name);
  return {n, std::chrono::duration<double>(t1 - t0).count()};
}

result run_typed(const std::string& name, sync_policy pol, const config& c) {
  (void)shmring::remove(name);
  options o;
  o.durability = pol;
  auto p = producer<std::uint64_t>::create(name, 1 << 16, o);
  auto cons = consumer<std::uint64_t>::open(name);
  std::vector<std::uint64_t> block(static_cast<std::size_t>(c.batch), 7);
  std::vector<std::uint64_t> out(static_cast<std::size_t>(c.batch));
  const auto t0 = clk::now();
  const auto until = t0 + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(c.seconds));
  std::uint64_t n = 0;
  while (n < c.count && clk::now() < until) {
    if (pol == sync_policy::batch) {
      p.push_n(block);  // a batch call: synced once before it returns
    } else {
      for (std::uint64_t k = 0; k < c.batch; ++k) p.push(k);
    }
    if (cons.try_pop_n(out) != out.size()) std::abort();
    n += c.batch;
  }
  const auto t1 = clk::now();
  (void)shmring::remove(name);
  return {n, std::chrono::duration<double>(t1 - t0).count()};
}

/// Runs f repeat times; prints the median rate, its MB/s, and the lowest and highest rate.
template <class F>
void row(const char* kind, const char* where, sync_policy pol, int repeat, std::size_t bytes_per_item, F&& f) {
  std::vector<double> rates;
  for (int i = 0; i < repeat; ++i) {
    const result r = f();
    rates.push_back(static_cast<double>(r.items) / r.seconds);
  }
  std::sort(rates.begin(), rates.end());
  const double ips = rates[rates.size() / 2];
  std::printf("| %-7s | %-16s | %-6s | %12.0f | %9.1f | %12.0f .. %-12.0f |\n", kind, where, policy_name(pol), ips,
              ips * static_cast<double>(bytes_per_item) / 1e6, rates.front(), rates.back());
  std::fflush(stdout);
}

void crc_rate() {
  std::vector<std::byte> buf(1 << 16, std::byte{0x33});
  for (const bool table : {false, true}) {
    std::uint32_t sink = 0;
    const auto t0 = clk::now();
    std::uint64_t bytes = 0;
    while (clk::now() - t0 < std::chrono::milliseconds(300)) {
      for (int i = 0; i < 64; ++i) {
        sink ^= table ? crc32c::of_by_table(buf.data(), buf.size()) : crc32c::of(buf.data(), buf.size());
        bytes += buf.size();
      }
    }
    const double s = std::chrono::duration<double>(clk::now() - t0).count();
    std::printf("CRC-32C %-34s %8.2f GB/s (sink %08x)\n", table ? "by table (slicing by 8):" : "as used (SSE 4.2 where present):",
                static_cast<double>(bytes) / s / 1e9, sink);
  }
}

}  // namespace

int main(int argc, char** argv) {
  config c;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--disk") c.disk = argv[i + 1];
    else if (a == "--tmpfs") c.tmpfs = argv[i + 1];
    else if (a == "--seconds") c.seconds = std::atof(argv[i + 1]);
    else if (a == "--count") c.count = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--size") c.size = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--batch") c.batch = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--repeat") c.repeat = std::max(1, std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "usage: %s [--disk DIR] [--tmpfs DIR] [--seconds S] [--count N] [--size BYTES] [--batch N] [--repeat R]\n", argv[0]);
      return 2;
    }
  }
  const std::string tag = std::to_string(::getpid());
  std::printf("messages of %zu bytes (1 MiB ring, no timestamps), 8-byte elements (65536 slots); batch = %llu; "
              "each run at most %.1f s or %llu items; median of %d runs (lowest .. highest)\n\n",
              c.size, static_cast<unsigned long long>(c.batch), c.seconds, static_cast<unsigned long long>(c.count),
              c.repeat);
  std::printf("| ring    | where            | policy | items/s      | MB/s      | runs: lowest .. highest     |\n");
  std::printf("|---------|------------------|--------|--------------|-----------|-----------------------------|\n");
  struct place {
    const char* label;
    std::string name;
    bool file;
  };
  const place places[] = {{"/dev/shm segment", "bench-durable-" + tag, false},
                          {"file on tmpfs", c.tmpfs + "/bench-durable-" + tag + ".ring", true},
                          {"file on disk", c.disk + "/bench-durable-" + tag + ".ring", true}};
  for (const bool typed : {false, true}) {
    for (const place& pl : places) {
      for (const sync_policy pol : {sync_policy::none, sync_policy::batch, sync_policy::commit}) {
        if (!pl.file && pol != sync_policy::none) continue;  // no-ops on /dev/shm
        if (typed)
          row("typed", pl.label, pol, c.repeat, 8, [&] { return run_typed(pl.name + "-t", pol, c); });
        else
          row("message", pl.label, pol, c.repeat, c.size, [&] { return run_message(pl.name, pol, c); });
      }
    }
  }
  std::printf("\n");
  crc_rate();
  return 0;
}
