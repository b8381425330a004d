// shmring-bridge recv: the producer of a local ring. Takes DATA frames of one session at a time, checks every
// chunk against where the stream stands (journal.hpp), writes it into the ring with the sender's header fields
// (message_producer::relay_until), journals each head before it is published, and acknowledges after each frame
// (docs/bridge.md). A malformed or out-of-place frame is counted and dropped; nothing of it reaches the ring.
// May touch: the local ring as its producer, its journal file, its ZeroMQ socket, standard output.
#include "config.hpp"
#include "journal.hpp"
#include "link.hpp"
#include "report.hpp"
#include "wire.hpp"

#include <shmring/shmring.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace shmring_bridge {
namespace {

namespace record = shmring::record;
using clock_type = std::chrono::steady_clock;

enum class verdict { ok, gap, violation, stopped };

class receiver {
 public:
  explicit receiver(const config& c)
      : c_(c),
        ring_(shmring::message_producer::open_or_create(c.ring, c.capacity, persistent_ring())),
        journal_(c.journal.empty() ? "/dev/shm/shmbridge-" + c.ring + ".journal" : c.journal),
        sock_(ctx_, ZMQ_ROUTER),
        rep_("recv", c.ring, c.status_interval, c.json) {
    recover();
    ring_.relay_defer(true);  // a frame's chunks are published with one index store (and one journal entry)
    sock_.set_int(ZMQ_SNDHWM, c.sndhwm);
    sock_.set_int(ZMQ_RCVHWM, c.rcvhwm);
    sock_.set_i64(ZMQ_MAXMSGSIZE, static_cast<std::int64_t>(c.max_frame));
    sock_.set_int(ZMQ_ROUTER_HANDOVER, 1);
    if (c.curve.any()) {
      sock_.set_int(ZMQ_CURVE_SERVER, 1);
      sock_.set_str(ZMQ_CURVE_SECRETKEY, c.curve.secret);
    }
    mon_.emplace(ctx_, sock_, "recv-" + std::to_string(::getpid()));
    if (zmq_bind(sock_.get(), c.listen.c_str()) != 0) throw_zmq("zmq_bind " + c.listen);
  }

  int run() {
    while (!stop_requested()) {
      zmq_pollitem_t items[2] = {{sock_.get(), 0, ZMQ_POLLIN, 0}, {mon_->socket(), 0, ZMQ_POLLIN, 0}};
      (void)zmq_poll(items, 2, 50);
      if (mon_->drain()) ++connections_;
      for (int i = 0; i < 1024 && !stop_requested(); ++i)
        if (!read_one()) break;
      if (rep_.due(clock_type::now())) status("status");
    }
    status("exit");
    return 0;
  }

 private:
  void status(const char* ev) {
    rep_.print(messages_, bytes_,
               {{"next_index", state_.next},
                {"next_sequence", state_.has_last ? state_.last_sequence + 1 : 0},
                {"in_message_bytes", state_.in_message ? state_.sent : 0},
                {"sessions", sessions_},
                {"malformed", malformed_},
                {"stale", stale_},
                {"violations", violations_},
                {"gaps", gaps_},
                {"orphans", orphans_},
                {"aborted", aborted_},
                {"refused", refused_ + mon_->refused},
                {"connections", connections_},
                {"lines_skipped", rep_.skipped()}},
               ev);
  }

  /// Where the stream stands: the journal entry whose head is the ring's head.
  void recover() {
    bool any = false;
    const std::uint64_t head = ring_.head_index();
    if (auto s = journal_.recover(head, any)) {
      state_ = *s;
    } else if (any) {
      throw stream_refused("the journal " + journal_.path() + " does not match the ring's head " + std::to_string(head) +
                           " (another producer wrote the ring?): remove both to start a new stream");
    } else {
      state_ = {};
      state_.head = head;
      journal_.write(state_);
    }
    if (state_.in_message) {
      out_ = {};
      out_.size = state_.size;
      out_.type = state_.type;
      out_.flags = state_.flags;
      out_.timestamp_ns = state_.timestamp_ns;
      out_.type_tag = state_.type_tag;
      out_.sequence = state_.sequence;
      out_.sent = state_.sent;
      out_.started = state_.sent != 0;
    }
  }

  bool read_one() {
    zmq_frame id;
    if (!id.recv(sock_)) return false;
    if (!id.more()) {  // a ROUTER always prefixes the peer's routing id: nothing else can come alone
      ++malformed_;
      return true;
    }
    zmq_frame body;
    if (!body.recv(sock_)) return true;
    if (body.more()) {  // the protocol's frames are single parts: drop the whole multi-part message
      ++malformed_;
      for (int i = 0; i < 1024; ++i) {
        zmq_frame rest;
        if (!rest.recv(sock_) || !rest.more()) break;
      }
      return true;
    }
    const auto peer = id.bytes();
    const auto b = body.bytes();
    const auto k = wire::kind_of(b);
    if (!k) ++malformed_;
    else if (*k == wire::kind::hello) on_hello(peer, b);
    else if (*k == wire::kind::data) on_data(peer, b);
    else ++malformed_;  // welcome and ack travel the other way
    return true;
  }

  void reply(std::span<const std::byte> peer, const std::vector<std::byte>& msg) {
    if (!sock_.send(peer, ZMQ_SNDMORE | ZMQ_DONTWAIT)) return;
    (void)sock_.send(msg, ZMQ_DONTWAIT);  // lost if the peer is gone or slow: it asks again (resend timeout)
  }

  void on_hello(std::span<const std::byte> peer, std::span<const std::byte> b) {
    const auto h = wire::decode_hello(b);
    if (!h) {
      ++malformed_;
      return;
    }
    wire::welcome w{h->session, wire::welcome_status::accepted, 0};
    if (!state_.bound) {
      state_.bound = 1;
      state_.stream = h->stream;
      state_.next = h->released;
      state_.head = ring_.head_index();
      journal_.write(state_);
    }
    if (state_.stream != h->stream) {
      w.status = wire::welcome_status::other_stream;
      ++refused_;
    } else if (h->released > state_.next) {
      w.status = wire::welcome_status::behind;
      ++refused_;
    } else {
      session_ = h->session;
      peer_.assign(peer.begin(), peer.end());
      rec_off_ = 0;
      ++sessions_;
      w.next = state_.next;
    }
    reply(peer, wire::encode(w));
  }

  void on_data(std::span<const std::byte> peer, std::span<const std::byte> b) {
    wire::data_reader r;
    if (!r.open(b)) {
      ++malformed_;
      return;
    }
    if (r.session != session_ || session_ == 0 || !std::equal(peer.begin(), peer.end(), peer_.begin(), peer_.end())) {
      ++stale_;  // an old session's frame, or another peer's: the current session resends what it needs
      return;
    }
    std::uint32_t flags = 0;
    for (std::uint32_t i = 0; i < r.count; ++i) {
      const auto c = r.next_chunk();
      if (!c) {
        ++malformed_;
        flags = wire::ack_gap;
        break;
      }
      const verdict v = apply(*c);
      if (v == verdict::stopped) return;
      if (v != verdict::ok) {
        if (v == verdict::violation) ++violations_;
        if (v == verdict::gap) ++gaps_;
        flags = wire::ack_gap;
        break;
      }
    }
    if (flags == 0 && !r.done()) {
      ++malformed_;  // bytes after the last chunk
      flags = wire::ack_gap;
    }
    // Publishes what the frame wrote, journaled first; only then is any of it acknowledged.
    ring_.relay_flush([&](std::uint64_t head) {
      stream_state s = state_;
      s.head = head;
      journal_.write(s);
    });
    const std::uint64_t next_seq = state_.has_last ? state_.last_sequence + 1 : 0;
    reply(peer, wire::encode(wire::ack{session_, state_.next, flags, next_seq}));
  }

  /// The state once the bytes of c up to out_.sent are published at head.
  stream_state after(const wire::chunk& c, std::uint64_t head) const noexcept {
    stream_state s = state_;
    s.head = head;
    s.sent = out_.sent;
    if (std::uint64_t{c.piece_offset} + c.length == c.record_length && out_.sent == state_.record_base + c.record_length) {
      s.next = c.to;
      s.record_base = out_.sent;
      if ((c.flags & record::flag_last_fragment) != 0) {
        s.in_message = 0;
        s.has_last = 1;
        s.last_sequence = c.sequence;
        s.record_base = s.sent = s.size = 0;
      }
    }
    return s;
  }

  verdict apply(const wire::chunk& c) {
    if (c.from != state_.next || c.piece_offset != rec_off_) return verdict::gap;
    const bool first = (c.flags & record::flag_first_fragment) != 0;
    const bool last = (c.flags & record::flag_last_fragment) != 0;
    const bool record_ends = std::uint64_t{c.piece_offset} + c.length == c.record_length;
    if (state_.in_message && first && c.sequence != state_.sequence) {
      // The sending ring's producer gave its message up and began another: give ours up too.
      if (c.sequence < state_.sequence) return verdict::violation;
      (void)ring_.relay_abort(out_);
      ++aborted_;
      state_.in_message = 0;
    }
    if (!state_.in_message) {
      if (!first) {  // the rest of a message whose start this stream never carried: it cannot arrive whole
        if (record_ends) {
          ++orphans_;
          state_.next = c.to;
          rec_off_ = 0;
        } else {
          rec_off_ += c.length;
        }
        return verdict::ok;
      }
      if (c.piece_offset == 0) {
        if (state_.has_last && c.sequence <= state_.last_sequence) return verdict::violation;
        out_ = {};
        out_.size = c.message_length;
        out_.type = c.type;
        out_.flags = c.flags & record::user_flags;
        out_.timestamp_ns = c.timestamp_ns;
        out_.type_tag = c.type_tag;
        ring_.set_next_sequence(c.sequence);
        state_.in_message = 1;
        state_.sequence = c.sequence;
        state_.size = c.message_length;
        state_.sent = 0;
        state_.record_base = 0;
        state_.type = c.type;
        state_.flags = out_.flags;
        state_.timestamp_ns = c.timestamp_ns;
        state_.type_tag = c.type_tag;
      } else {
        return verdict::violation;  // a later piece of a first record we never began
      }
    } else if (c.sequence != state_.sequence || c.message_length != state_.size || c.type != state_.type ||
               c.timestamp_ns != state_.timestamp_ns || c.type_tag != state_.type_tag ||
               (c.flags & record::user_flags) != state_.flags || (first && state_.record_base != 0)) {
      return verdict::violation;  // not the next piece of the message being written
    }
    // Where this piece lies in its message, and how much of it an earlier run already wrote.
    const std::uint64_t record_end = state_.record_base + c.record_length;
    if (record_end > state_.size || last != (record_end == state_.size)) return verdict::violation;
    const std::uint64_t at = state_.record_base + c.piece_offset;
    if (at > out_.sent) return verdict::violation;
    const std::uint64_t skip = std::min<std::uint64_t>(out_.sent - at, c.length);
    const std::span<const std::byte> piece(c.payload + skip, c.length - skip);
    if (!piece.empty() || (state_.size == 0 && !out_.started)) {
      if (!write(c, piece)) return verdict::stopped;
    }
    rec_off_ += c.length;
    const bool message_done = record_ends && last;
    state_ = after(c, ring_.head_index());
    if (record_ends) rec_off_ = 0;
    if (message_done) {
      ++messages_;
      bytes_ += c.message_length;
    }
    return verdict::ok;
  }

  /// Writes piece into the ring, waiting for room in bounded steps (a stop request ends the wait). False if stopped.
  bool write(const wire::chunk& c, std::span<const std::byte> piece) {
    const std::uint64_t start = out_.sent;
    for (;;) {
      if (stop_requested()) return false;
      const std::span<const std::byte> rest = piece.subspan(static_cast<std::size_t>(out_.sent - start));
      try {
        if (ring_.relay_until(out_, rest, clock_type::now() + std::chrono::milliseconds(100),
                              [&](std::uint64_t head) { journal_.write(after(c, head)); }))
          return true;
      } catch (const shmring::error& e) {
        // The consumer died: the ring stays, and a new consumer takes over from where it stopped.
        if (e.code() != shmring::errc::peer_dead) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (rep_.due(clock_type::now())) status("status");
    }
  }

  config c_;
  shmring::message_producer ring_;
  journal journal_;
  zmq_context ctx_;
  zmq_socket sock_;
  std::optional<link_monitor> mon_;
  reporter rep_;
  stream_state state_;
  shmring::message_producer::relay_message out_{};
  std::uint64_t session_ = 0;
  std::vector<std::byte> peer_;
  std::uint64_t rec_off_ = 0;  // bytes of record state_.next received in this session
  std::uint64_t messages_ = 0, bytes_ = 0, sessions_ = 0, malformed_ = 0, stale_ = 0, violations_ = 0, orphans_ = 0,
                aborted_ = 0, refused_ = 0, connections_ = 0, gaps_ = 0;
};

}  // namespace

int run_recv(const config& c) {
  return run_mode("recv", [&] { return receiver(c).run(); });
}

}  // namespace shmring_bridge
