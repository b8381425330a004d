// fan_out: an entry process hands tasks to N worker processes, one typed ring per worker, and each worker reports
// its results back on a ring of its own (the entry/worker layout of a task queue). The entry proves that every
// task was processed exactly once: a bitmap of task ids, every result checked against the task, a checksum over
// all ids, and each worker's own count; it exits non-zero otherwise. It prints tasks/s.
// One thread collects every worker's results: a shmring::poller waits on all the result rings at once (each ring's
// event descriptor), and the collector drains whichever are ready with try_pop.
#include <shmring/shmring.hpp>

#include "common.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static const char* usage =
    "usage: fan_out [--name NAME] [--workers N] [--tasks T] [--strategy round-robin|least-loaded]\n"
    "               [--capacity C] [--work W] [--wait spin|yield|sleep]\n"
    "  The entry process (this one) starts N worker processes (default 2; itself with --role worker) and hands\n"
    "  them T tasks (default 1000000) over one shmring typed ring per worker (NAME-task-I, capacity C, default\n"
    "  1024); each worker computes W rounds of a hash per task (default 100) and reports the result on its own\n"
    "  ring NAME-result-I. --strategy: round-robin (task k to worker k mod N, default) or least-loaded (to the\n"
    "  worker with the fewest tasks outstanding). --wait: how every side waits (default sleep).\n"
    "  Prints tasks/s and per-worker counts, and exits 1 unless every task was processed exactly once.\n"
    "  --role worker --index I is for the started processes only.\n";

namespace {

constexpr std::uint64_t stop_id = ~std::uint64_t{0};

struct task {
  std::uint64_t id;       // 0..T-1, or stop_id: no more tasks
  std::uint64_t payload;  // input of the work
};

struct result {
  std::uint64_t id;      // the task's id, or stop_id in the worker's final report
  std::uint64_t value;   // work(payload), or in the final report the number of tasks the worker processed
  std::uint64_t worker;  // the worker's index
};

constexpr std::uint64_t mix(std::uint64_t x) noexcept {  // splitmix64
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::uint64_t work(std::uint64_t payload, std::uint64_t rounds) {
  for (std::uint64_t r = 0; r < rounds; ++r) payload = mix(payload);
  return payload;
}

std::string task_ring(const std::string& base, std::uint64_t i) { return base + "-task-" + std::to_string(i); }
std::string result_ring(const std::string& base, std::uint64_t i) { return base + "-result-" + std::to_string(i); }

shmring::options wait_options(const example::args& a) {
  shmring::options o;
  o.wait.policy = example::parse_wait(a.str("wait", "sleep"));
  return o;
}

int run_worker(const example::args& a) {
  const std::string base = a.str("name", "fan-out");
  const std::uint64_t index = a.num("index", 0);
  const std::uint64_t rounds = a.num("work", 100);
  auto tasks = shmring::consumer<task>::open(task_ring(base, index), wait_options(a));
  auto results = shmring::producer<result>::open(result_ring(base, index), wait_options(a));
  std::uint64_t processed = 0;
  for (;;) {
    const task t = tasks.pop();
    if (t.id == stop_id) break;
    results.push(result{t.id, work(t.payload, rounds), index});
    ++processed;
  }
  results.push(result{stop_id, processed, index});
  return 0;
}

using example::spawn_self;
using example::wait_exit;

// What the collector found on one worker's result ring.
struct collected {
  std::uint64_t results = 0;       // results received
  std::uint64_t wrong = 0;         // results whose value is not work(payload), or whose id is out of range
  std::uint64_t duplicates = 0;    // ids already marked in the bitmap
  std::uint64_t id_sum = 0;        // sum of mix(id) over the results, mod 2^64
  std::uint64_t reported = 0;      // the worker's own count, from its final report
  bool finished = false;           // the final report arrived
  std::string error;               // what went wrong, if the ring failed (peer_dead, corrupted)
};

int run_entry(const example::args& a) {
  const std::string base = a.str("name", "fan-out");
  const std::uint64_t workers = std::clamp<std::uint64_t>(a.num("workers", 2), 1, 256);
  const std::uint64_t total = a.num("tasks", 1'000'000);
  const std::uint64_t capacity = a.num("capacity", 1024);
  const std::uint64_t rounds = a.num("work", 100);
  const std::string strategy = a.str("strategy", "round-robin");
  const bool least_loaded = strategy == "least-loaded";
  if (!least_loaded && strategy != "round-robin")
    throw std::invalid_argument("--strategy must be round-robin or least-loaded");
  const shmring::options o = wait_options(a);

  // One task ring and one result ring per worker, created before the workers start (they open them).
  std::vector<shmring::producer<task>> to_worker;
  std::vector<shmring::consumer<result>> from_worker;
  for (std::uint64_t i = 0; i < workers; ++i) {
    (void)shmring::remove_stale(task_ring(base, i));  // leftovers of a killed run; a live run's are kept
    (void)shmring::remove_stale(result_ring(base, i));
    to_worker.push_back(shmring::producer<task>::create(task_ring(base, i), capacity, o));
    from_worker.push_back(shmring::consumer<result>::create(result_ring(base, i), capacity, o));
  }
  std::vector<pid_t> pids;
  for (std::uint64_t i = 0; i < workers; ++i)
    pids.push_back(spawn_self({"--role", "worker", "--name", base, "--index", std::to_string(i), "--work",
                               std::to_string(rounds), "--wait", a.str("wait", "sleep")}));

  // Exactly-once bookkeeping: one bit per task id, set by whichever collector sees its result.
  std::vector<std::atomic<std::uint64_t>> seen((total + 63) / 64);
  std::vector<std::atomic<std::uint64_t>> completed(workers);  // results per worker, for least-loaded
  std::vector<collected> found(workers);
  std::atomic<bool> failed{false};

  const auto t0 = std::chrono::steady_clock::now();
  // The collector: one thread, one poller over every result ring.
  std::thread collector([&] {
    try {
      shmring::poller poll;
      for (auto& c : from_worker) (void)poll.add(c);  // ids 0..workers-1: the worker's index
      std::uint64_t open = workers;
      while (open != 0) {
        for (const shmring::poller::id i : poll.wait()) {
          collected& f = found[i];
          result r{};
          while (!f.finished && from_worker[i].try_pop(r)) {
            if (r.id == stop_id) {
              f.reported = r.value;
              f.finished = true;
              poll.remove(i);
              --open;
              break;
            }
            ++f.results;
            if (r.id >= total || r.worker != i || r.value != work(mix(r.id), rounds)) {
              ++f.wrong;
              continue;
            }
            const std::uint64_t bit = std::uint64_t{1} << (r.id % 64);
            // relaxed: the bitmap is only read after the collector has been joined.
            if (seen[r.id / 64].fetch_or(bit, std::memory_order_relaxed) & bit) ++f.duplicates;
            f.id_sum += mix(r.id);
            // release: pairs with the dispatcher's acquire load when it picks the least-loaded worker.
            completed[i].store(f.results, std::memory_order_release);
          }
          // Ready with nothing to read: the worker may have died (everything it pushed first was read above).
          if (!f.finished && from_worker[i].producer_state() == shmring::peer_state::dead) {
            f.error = "the worker died before its final report";
            failed.store(true, std::memory_order_relaxed);
            poll.remove(i);
            --open;
          }
        }
      }
    } catch (const std::exception& e) {
      found[0].error = e.what();
      failed.store(true, std::memory_order_relaxed);
    }
  });

  // The dispatcher: this thread is the only producer of every task ring.
  std::vector<std::uint64_t> sent(workers, 0);
  std::string dispatch_error;
  try {
    for (std::uint64_t id = 0; id < total && !failed.load(std::memory_order_relaxed); ++id) {
      std::uint64_t w = id % workers;
      if (least_loaded) {
        std::uint64_t best = ~std::uint64_t{0};
        for (std::uint64_t i = 0; i < workers; ++i) {
          // acquire: pairs with the collector's release store of completed.
          const std::uint64_t outstanding = sent[i] - completed[i].load(std::memory_order_acquire);
          if (outstanding < best) {
            best = outstanding;
            w = i;
          }
        }
      }
      to_worker[w].push(task{id, mix(id)});
      ++sent[w];
    }
    for (auto& p : to_worker) p.push(task{stop_id, 0});
  } catch (const std::exception& e) {
    dispatch_error = e.what();
    failed.store(true, std::memory_order_relaxed);
  }
  if (failed.load(std::memory_order_relaxed))
    for (const pid_t pid : pids) ::kill(pid, SIGKILL);  // the collector's poller reports each death
  collector.join();
  const double secs = example::seconds_since(t0);

  bool ok = !failed.load(std::memory_order_relaxed);
  for (std::uint64_t i = 0; i < workers; ++i) {
    const int rc = wait_exit(pids[i]);
    if (rc != 0 && ok) {
      std::fprintf(stderr, "fan_out: worker %" PRIu64 " exited with %d\n", i, rc);
      ok = false;
    }
  }
  if (!dispatch_error.empty()) std::fprintf(stderr, "fan_out: dispatching: %s\n", dispatch_error.c_str());

  // The proof: every id exactly once, every value right, the checksums and the workers' own counts agree.
  std::uint64_t results = 0, wrong = 0, duplicates = 0, id_sum = 0, reported = 0, missing = 0;
  for (std::uint64_t i = 0; i < workers; ++i) {
    const collected& f = found[i];
    if (!f.error.empty()) std::fprintf(stderr, "fan_out: worker %" PRIu64 ": %s\n", i, f.error.c_str());
    if (!f.finished) ok = false;
    results += f.results;
    wrong += f.wrong;
    duplicates += f.duplicates;
    id_sum += f.id_sum;
    reported += f.reported;
  }
  std::uint64_t want_sum = 0;
  for (std::uint64_t id = 0; id < total; ++id) {
    want_sum += mix(id);
    if ((seen[id / 64].load(std::memory_order_relaxed) & (std::uint64_t{1} << (id % 64))) == 0) ++missing;
  }
  const bool exactly_once = ok && results == total && reported == total && wrong == 0 && duplicates == 0 &&
                            missing == 0 && id_sum == want_sum;

  std::printf("fan_out: %" PRIu64 " tasks over %" PRIu64 " workers (%s, wait %s, work %" PRIu64
              "): %.3f s, %.0f tasks/s\n",
              total, workers, strategy.c_str(), a.str("wait", "sleep").c_str(), rounds, secs,
              static_cast<double>(results) / secs);  // tasks that came back processed
  for (std::uint64_t i = 0; i < workers; ++i)
    std::printf("  worker %" PRIu64 ": %" PRIu64 " tasks (it counted %" PRIu64 ")\n", i, found[i].results,
                found[i].reported);
  std::printf("  %s: %" PRIu64 " results, %" PRIu64 " missing, %" PRIu64 " duplicates, %" PRIu64
              " wrong, id checksum %s\n",
              exactly_once ? "every task processed exactly once" : "FAILED", results, missing, duplicates, wrong,
              id_sum == want_sum ? "matches" : "differs");
  return exactly_once ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) try {
  shmring::termination_guard guard;  // Ctrl-C or SIGTERM detaches every ring first: none is left stale
  const example::args a(argc, argv, usage);
  const std::string role = a.str("role", "entry");
  if (role == "worker") return run_worker(a);
  if (role != "entry") throw std::invalid_argument("--role must be entry or worker");
  return run_entry(a);
} catch (const std::exception& e) {
  std::fprintf(stderr, "fan_out: %s\n", e.what());
  return 1;
}
