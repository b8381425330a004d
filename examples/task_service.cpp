// task_service: the coroutine form of fan_out. One io_context thread runs everything of the entry process: a
// coroutine per worker hands it tasks (co_await async_push), a coroutine per worker collects its results
// (co_await async_receive on a message ring), and a timer coroutine reports progress; each worker is a separate
// process (this program with --role worker). The entry checks that every task came back exactly once with the
// right value and exits 1 otherwise. --deadline-ms D cancels every pending operation after D ms (the cancellation
// path: each coroutine then ends with operation_aborted, and the entry exits 2).
#include <shmring/asio.hpp>
#include <shmring/shmring.hpp>

#include "common.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

static const char* usage =
    "usage: task_service [--name NAME] [--workers N] [--tasks T] [--work W] [--deadline-ms D]\n"
    "  Starts N worker processes (default 3) and hands them T tasks (default 100000) over typed rings\n"
    "  NAME-task-I; each worker sends every result back as a message on NAME-result-I. All of the entry's waiting\n"
    "  is coroutines on one io_context thread (Boost.Asio, shmring/asio.hpp), with a timer printing progress.\n"
    "  --deadline-ms D cancels every pending operation after D ms (exit 2). Exit 1 unless every task came back\n"
    "  exactly once.\n";

namespace {

namespace net = boost::asio;
using net::awaitable;
using net::use_awaitable;

constexpr std::uint64_t stop_id = ~std::uint64_t{0};

struct task {
  std::uint64_t id;  // 0..T-1, or stop_id
  std::uint64_t payload;
};
struct result {
  std::uint64_t id;     // the task's id, or stop_id in the worker's last message
  std::uint64_t value;  // work(payload), or in the last message the worker's count
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
std::string task_ring(const std::string& b, std::uint64_t i) { return b + "-task-" + std::to_string(i); }
std::string result_ring(const std::string& b, std::uint64_t i) { return b + "-result-" + std::to_string(i); }

int run_worker(const example::args& a) {
  const std::string base = a.str("name", "task-service");
  const std::uint64_t index = a.num("index", 0);
  const std::uint64_t rounds = a.num("work", 100);
  auto tasks = shmring::consumer<task>::open(task_ring(base, index));
  auto results = shmring::message_producer::open(result_ring(base, index));
  std::uint64_t n = 0;
  for (;;) {
    const task t = tasks.pop();
    if (t.id == stop_id) break;
    results.send_typed(result{t.id, work(t.payload, rounds)});
    ++n;
  }
  results.send_typed(result{stop_id, n});
  return 0;
}

struct worker_link {
  shmring::producer<task> tasks;
  shmring::message_consumer results;
  std::unique_ptr<shmring::asio::async_endpoint<shmring::producer<task>>> to;
  std::unique_ptr<shmring::asio::async_endpoint<shmring::message_consumer>> from;
  std::uint64_t received = 0;
  std::uint64_t reported = 0;
  bool finished = false;
};

struct tally {
  std::vector<std::uint64_t> seen;  // one bit per task id
  std::uint64_t wrong = 0, duplicates = 0, done = 0;
  std::string error;
};

awaitable<void> hand_out(worker_link& w, std::uint64_t index, std::uint64_t workers, std::uint64_t total) {
  for (std::uint64_t id = index; id < total; id += workers) co_await w.to->async_push(task{id, mix(id)}, use_awaitable);
  co_await w.to->async_push(task{stop_id, 0}, use_awaitable);
}

awaitable<void> collect(worker_link& w, tally& t, std::uint64_t total, std::uint64_t rounds) {
  for (;;) {
    const shmring::message m = co_await w.from->async_receive(use_awaitable);
    const auto r = m.as<result>();
    if (r.id == stop_id) {
      w.reported = r.value;
      w.finished = true;
      ++t.done;
      co_return;
    }
    ++w.received;
    if (r.id >= total || r.value != work(mix(r.id), rounds)) {
      ++t.wrong;
      continue;
    }
    const std::uint64_t bit = std::uint64_t{1} << (r.id % 64);
    if (t.seen[r.id / 64] & bit) ++t.duplicates;
    t.seen[r.id / 64] |= bit;
  }
}

awaitable<void> progress(net::steady_timer& timer, const std::vector<worker_link>& links, const tally& t) {
  for (;;) {
    timer.expires_after(std::chrono::milliseconds(200));
    co_await timer.async_wait(use_awaitable);
    std::uint64_t got = 0;
    for (const auto& l : links) got += l.received;
    std::printf("task_service: %" PRIu64 " results so far, %" PRIu64 " workers done\n", got, t.done);
  }
}

int run_entry(const example::args& a) {
  const std::string base = a.str("name", "task-service");
  const std::uint64_t workers = std::clamp<std::uint64_t>(a.num("workers", 3), 1, 64);
  const std::uint64_t total = a.num("tasks", 100'000);
  const std::uint64_t rounds = a.num("work", 100);
  const std::uint64_t deadline_ms = a.num("deadline-ms", 0);

  net::io_context io;
  std::vector<worker_link> links;
  links.reserve(workers);
  for (std::uint64_t i = 0; i < workers; ++i) {
    (void)shmring::remove_stale(task_ring(base, i));
    (void)shmring::remove_stale(result_ring(base, i));
    links.push_back(worker_link{shmring::producer<task>::create(task_ring(base, i), 1024),
                                shmring::message_consumer::create(result_ring(base, i), 64 * 1024), nullptr, nullptr});
  }
  for (auto& l : links) {  // after the vector stops moving: a wrapper holds its endpoint's address
    l.to = std::make_unique<shmring::asio::async_endpoint<shmring::producer<task>>>(io, l.tasks);
    l.from = std::make_unique<shmring::asio::async_endpoint<shmring::message_consumer>>(io, l.results);
  }
  std::vector<pid_t> pids;
  for (std::uint64_t i = 0; i < workers; ++i)
    pids.push_back(example::spawn_self({"--role", "worker", "--name", base, "--index", std::to_string(i), "--work",
                                        std::to_string(rounds)}));

  tally t;
  t.seen.assign((total + 63) / 64, 0);
  net::steady_timer ticker(io);
  net::steady_timer deadline(io);
  bool cancelled = false;
  const auto t0 = std::chrono::steady_clock::now();
  const auto on_end = [&](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const boost::system::system_error& x) {
        if (x.code() != net::error::operation_aborted && t.error.empty()) t.error = x.what();
      } catch (const std::exception& x) {
        if (t.error.empty()) t.error = x.what();
      }
    }
    if (t.done == workers || !t.error.empty() || cancelled) {
      ticker.cancel();
      deadline.cancel();
    }
  };
  for (std::uint64_t i = 0; i < workers; ++i) {
    net::co_spawn(io, hand_out(links[i], i, workers, total), on_end);
    net::co_spawn(io, collect(links[i], t, total, rounds), on_end);
  }
  net::co_spawn(io, progress(ticker, links, t), [](std::exception_ptr) {});
  if (deadline_ms != 0) {
    deadline.expires_after(std::chrono::milliseconds(deadline_ms));
    deadline.async_wait([&](boost::system::error_code ec) {
      if (ec) return;  // cancelled: everything finished first
      cancelled = true;
      for (auto& l : links) {  // per operation: each wrapper's one pending push or receive
        l.to->cancel();
        l.from->cancel();
      }
      ticker.cancel();
    });
  }
  io.run();  // the one thread
  const double secs = example::seconds_since(t0);
  if (cancelled)
    for (const pid_t pid : pids) ::kill(pid, SIGKILL);
  bool ok = t.error.empty() && !cancelled;
  for (std::uint64_t i = 0; i < workers; ++i)
    if (example::wait_exit(pids[i]) != 0 && ok) ok = false;
  std::uint64_t received = 0, reported = 0, missing = 0;
  for (const auto& l : links) {
    received += l.received;
    reported += l.reported;
    if (!l.finished) ok = false;
  }
  for (std::uint64_t id = 0; id < total; ++id)
    if ((t.seen[id / 64] & (std::uint64_t{1} << (id % 64))) == 0) ++missing;
  if (cancelled) {
    for (std::uint64_t i = 0; i < workers; ++i) {  // undelivered tasks and results: nobody will want them
      (void)shmring::remove(task_ring(base, i));
      (void)shmring::remove(result_ring(base, i));
    }
    std::printf("task_service: cancelled after %" PRIu64 " ms with %" PRIu64 " results in\n", deadline_ms, received);
    return 2;
  }
  if (!t.error.empty()) std::fprintf(stderr, "task_service: %s\n", t.error.c_str());
  const bool exactly_once = ok && received == total && reported == total && t.wrong == 0 && t.duplicates == 0 &&
                            missing == 0;
  std::printf("task_service: %" PRIu64 " tasks over %" PRIu64 " workers on one io_context thread: %.3f s, %.0f tasks/s\n",
              total, workers, secs, static_cast<double>(received) / secs);
  std::printf("  %s: %" PRIu64 " results, %" PRIu64 " missing, %" PRIu64 " duplicates, %" PRIu64 " wrong\n",
              exactly_once ? "every task processed exactly once" : "FAILED", received, missing, t.duplicates, t.wrong);
  return exactly_once ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) try {
  shmring::termination_guard guard;
  const example::args a(argc, argv, usage);
  const std::string role = a.str("role", "entry");
  if (role == "worker") return run_worker(a);
  return run_entry(a);
} catch (const std::exception& e) {
  std::fprintf(stderr, "task_service: %s\n", e.what());
  return 1;
}
