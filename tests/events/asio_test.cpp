// <shmring/asio.hpp> between real processes: every completion token (callback, use_future, use_awaitable) on every
// endpoint kind, every value and sequence number checked; end of stream as eof; cancellation of a pending receive
// (operation_aborted, and the endpoint still usable afterwards); and examples/task_service end to end, finishing
// and cancelled.
#include <catch2/catch.hpp>

#include "process.hpp"
#include "sanitizers.hpp"
#include "segment_guard.hpp"

#include <shmring/asio.hpp>
#include <shmring/shmring.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

using namespace shmring;
using shmring_test::child_process;
using shmring_test::segment_guard;
namespace net = boost::asio;

namespace {
constexpr std::uint64_t count = shmring_test::scaled(20'000, 3'000);
std::uint64_t value_of(std::uint64_t i) { return i * 0x9E3779B97F4A7C15ull + 1; }
#if defined(BOOST_ASIO_HAS_CO_AWAIT)  // Boost 1.74 enables coroutines for gcc, not for clang with libstdc++
/// co_spawn's completion: a failed REQUIRE in a coroutine leaves io.run() as the exception it was.
void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}
/// Hands every value op() completes with to check, until the stream ends: eof says whether it ended with eof.
template <class Op, class Check>
net::awaitable<void> until_eof(Op op, Check check, bool& eof) {
  for (;;) {
    try {
      check(co_await op());
    } catch (const boost::system::system_error& e) {
      eof = e.code() == net::error::eof;
      co_return;
    }
  }
}
#endif
}  // namespace

// args: typed message count. Pushes count values on typed and sends count messages (8 bytes: value_of(i)) on
// message, then closes both.
SHMRING_CHILD(asio_feeder) {
  auto p = producer<std::uint64_t>::open(args.at(0));
  auto m = message_producer::open(args.at(1));
  const std::uint64_t n = std::stoull(args.at(2));
  for (std::uint64_t i = 0; i < n; ++i) {
    p.push(value_of(i));
    m.send_typed(value_of(i));
  }
  p.close();
  m.close();
  return 0;
}

// args: typed message count. Pops count values from typed and receives count messages from message (checked).
SHMRING_CHILD(asio_drain) {
  auto c = consumer<std::uint64_t>::open(args.at(0));
  auto m = message_consumer::open(args.at(1));
  const std::uint64_t n = std::stoull(args.at(2));
  for (std::uint64_t i = 0; i < n; ++i) {
    if (c.pop() != value_of(i)) return 3;
    const message msg = m.receive();
    if (msg.sequence != i || msg.payload.size() != 8 || msg.as<std::uint64_t>() != value_of(i)) return 4;
  }
  return 0;
}

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
TEST_CASE("asio: use_awaitable pops and receives everything, then eof", "[ipc][events][asio]") {
  segment_guard t("asio-t");
  segment_guard m("asio-m");
  auto c = consumer<std::uint64_t>::create(t.name(), 64);
  auto mc = message_consumer::create(m.name(), 1024);
  net::io_context io;
  asio::async_endpoint<consumer<std::uint64_t>> ac(io, c);
  asio::async_endpoint<message_consumer> am(io, mc);
  child_process child("asio_feeder", {t.name(), m.name(), std::to_string(count)});
  std::uint64_t typed_got = 0, messages_got = 0;
  bool typed_eof = false, message_eof = false;
  net::co_spawn(io, until_eof([&] { return ac.async_pop(net::use_awaitable); },
                               [&](std::uint64_t v) {
                                 REQUIRE(v == value_of(typed_got));
                                 ++typed_got;
                               },
                               typed_eof),
                rethrow);
  net::co_spawn(io, until_eof([&] { return am.async_receive(net::use_awaitable); },
                               [&](const message& msg) {
                                 REQUIRE(msg.sequence == messages_got);
                                 REQUIRE(msg.as<std::uint64_t>() == value_of(messages_got));
                                 ++messages_got;
                               },
                               message_eof),
                rethrow);
  io.run();  // one thread: both coroutines
  REQUIRE(child.wait() == 0);
  REQUIRE(typed_got == count);
  REQUIRE(messages_got == count);
  REQUIRE(typed_eof);
  REQUIRE(message_eof);
}
#endif

TEST_CASE("asio: callbacks push and send, waiting for room", "[ipc][events][asio]") {
  segment_guard t("asio-pt");
  segment_guard m("asio-pm");
  auto p = producer<std::uint64_t>::create(t.name(), 8);
  auto mp = message_producer::create(m.name(), 256);
  net::io_context io;
  asio::async_endpoint<producer<std::uint64_t>> ap(io, p);
  asio::async_endpoint<message_producer> amp(io, mp);
  child_process child("asio_drain", {t.name(), m.name(), std::to_string(count)});
  std::uint64_t pushed = 0, sent = 0;
  std::function<void(boost::system::error_code)> push_next = [&](boost::system::error_code ec) {
    REQUIRE_FALSE(ec);
    if (++pushed < count) ap.async_push(value_of(pushed), push_next);
  };
  std::uint64_t body = 0;
  std::function<void(boost::system::error_code)> send_next = [&](boost::system::error_code ec) {
    REQUIRE_FALSE(ec);
    if (++sent < count) {
      body = value_of(sent);
      amp.async_send(object_bytes(body), send_next);
    }
  };
  ap.async_push(value_of(0), push_next);
  body = value_of(0);
  amp.async_send(object_bytes(body), send_next);
  io.run();
  REQUIRE(pushed == count);
  REQUIRE(sent == count);
  REQUIRE(child.wait() == 0);  // the child checked every value and sequence number
  // A message no try_send takes is refused, not waited on for ever.
  std::vector<std::byte> huge(mp.max_try_send() + 1);
  boost::system::error_code refused;
  amp.async_send(huge, [&](boost::system::error_code ec) { refused = ec; });
  io.restart();
  io.run();
  REQUIRE(refused == asio::make_error_code(errc::message_too_large));
}

TEST_CASE("asio: a pending receive is cancelled, the next one (use_future) still receives; async_wait", "[ipc][events][asio]") {
  segment_guard t("asio-ct");
  segment_guard m("asio-cm");
  auto c = consumer<std::uint64_t>::create(t.name(), 64);
  auto mc = message_consumer::create(m.name(), 1024);
  net::io_context io;
  asio::async_endpoint<message_consumer> am(io, mc);
  boost::system::error_code first;
  bool called = false;
  am.async_receive([&](boost::system::error_code ec, message) {
    first = ec;
    called = true;
  });
  net::post(io, [&] { am.cancel(); });  // runs after the receive has armed and waits: nothing was sent
  io.run();
  REQUIRE(called);
  REQUIRE(first == net::error::operation_aborted);

  // The same endpoint afterwards: a producer process sends; use_future from another thread.
  io.restart();
  auto work = net::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  child_process child("asio_feeder", {t.name(), m.name(), "3"});
  bool ok = true;
  for (std::uint64_t i = 0; i < 3; ++i) {
    std::future<message> f = am.async_receive(net::use_future);
    const message msg = f.get();
    ok = ok && msg.sequence == i && msg.as<std::uint64_t>() == value_of(i);
  }
  std::future<message> end = am.async_receive(net::use_future);
  bool eof = false;
  try {
    (void)end.get();
  } catch (const boost::system::system_error& e) {
    eof = e.code() == net::error::eof;
  }
  work.reset();
  runner.join();
  REQUIRE(ok);
  REQUIRE(eof);
  REQUIRE(child.wait() == 0);
  // The typed ring got 3 values too: async_wait completions, drained with try_pop, until the producer's close.
  asio::async_endpoint<consumer<std::uint64_t>> ac(io, c);
  std::uint64_t got = 0;
  std::function<void(boost::system::error_code)> on_ready = [&](boost::system::error_code ec) {
    REQUIRE_FALSE(ec);
    std::uint64_t v = 0;
    while (c.try_pop(v)) REQUIRE(v == value_of(got++));
    if (c.producer_state() != peer_state::closed || got < 3) ac.async_wait(on_ready);
  };
  ac.async_wait(on_ready);
  io.restart();
  io.run();
  REQUIRE(got == 3);
}

#if defined(SHMRING_TASK_SERVICE)
TEST_CASE("examples/task_service end to end: finishing, and cancelled by its deadline", "[ipc][events][asio]") {
  segment_guard g("asio-svc");
  {
    shmring_test::command_process svc({SHMRING_TASK_SERVICE, "--name", g.name(), "--workers", "3", "--tasks",
                                       std::to_string(shmring_test::scaled(50'000, 5'000))});
    const std::string out = svc.read_output();
    REQUIRE(svc.wait() == 0);
    REQUIRE(out.find("every task processed exactly once") != std::string::npos);
  }
  {
    // 10^9 tasks cannot finish before the deadline: every pending operation is cancelled, exit 2.
    shmring_test::command_process svc({SHMRING_TASK_SERVICE, "--name", g.name() + "c", "--workers", "2", "--tasks",
                                       "1000000000", "--deadline-ms", "200"});
    const std::string out = svc.read_output();
    REQUIRE(svc.wait() == 2);
    REQUIRE(out.find("cancelled after 200 ms") != std::string::npos);
  }
}
#endif
