// shmring-bridge send: the consumer of a local ring. Reads its records ahead (message_consumer::try_peek_record),
// sends them in DATA frames within a window, and frees each record only when the receiver acknowledges it
// (docs/bridge.md, "Acknowledgement protocol"). One thread: it waits on the ring (a timed wait) while it has room
// to send, and on the socket (zmq_poll, bounded) while the window is full or a frame waits for the high-water mark.
// May touch: the local ring as its consumer, its ZeroMQ socket, standard output (status lines).
#include "config.hpp"
#include "link.hpp"
#include "report.hpp"
#include "wire.hpp"

#include <shmring/detail/copy.hpp>
#include <shmring/shmring.hpp>

#include <chrono>
#include <cstdio>
#include <deque>
#include <optional>
#include <random>
#include <string>

namespace shmring_bridge {
namespace {

namespace record = shmring::record;
using clock_type = std::chrono::steady_clock;

struct flight_entry {
  std::uint64_t to;        ///< the record's end in the local ring
  std::uint64_t sequence;  ///< its message's sequence
  std::uint32_t length;    ///< its payload bytes
  bool last;               ///< it ends its message
};

class sender {
 public:
  explicit sender(const config& c)
      : c_(c),
        ring_(shmring::message_consumer::open_or_create(c.ring, c.capacity, persistent_ring())),
        sock_(ctx_, ZMQ_DEALER),
        rep_("send", c.ring, c.status_interval, c.json),
        rng_(std::random_device{}()) {
    const auto st = ring_.status();
    stream_.created_ns = st.created_ns;
    stream_.name_hash = wire::fnv1a64(std::as_bytes(std::span(c.ring.data(), c.ring.size())));
    sock_.set_int(ZMQ_SNDHWM, c.sndhwm);
    sock_.set_int(ZMQ_RCVHWM, c.rcvhwm);
    sock_.set_int(ZMQ_RECONNECT_IVL, 100);
    sock_.set_int(ZMQ_RECONNECT_IVL_MAX, 1000);
    sock_.set_int(ZMQ_IMMEDIATE, 1);  // queue only to a completed connection: nothing waits in a dead pipe
    if (c.curve.any()) {
      sock_.set_str(ZMQ_CURVE_SERVERKEY, c.curve.server_public);
      sock_.set_str(ZMQ_CURVE_PUBLICKEY, c.curve.public_key);
      sock_.set_str(ZMQ_CURVE_SECRETKEY, c.curve.secret);
    }
    mon_.emplace(ctx_, sock_, "send-" + std::to_string(::getpid()));
    if (zmq_connect(sock_.get(), c.to.c_str()) != 0) throw_zmq("zmq_connect " + c.to);
  }

  int run() {
    while (!stop_requested()) {
      if (mon_->drain()) {  // a (re)connection: what was in flight may be lost with the old one
        if (connections_++ > 0) ++reconnects_;
        begin_session();
      }
      read_socket();
      const auto now = clock_type::now();
      const bool in_flight = !flight_.empty() || cur_.has_value();
      if (phase_ == phase::waiting && in_flight && now - progress_at_ > std::chrono::milliseconds(c_.resend_ms)) {
        ++resends_;
        begin_session();
      } else if (phase_ == phase::handshake && session_ != 0 && now - progress_at_ > std::chrono::milliseconds(c_.resend_ms)) {
        begin_session();
      }
      const bool sent_something = phase_ == phase::waiting && fill_and_send();
      if (rep_.due(now)) status("status");
      if (!sent_something) idle();
    }
    status("exit");
    return 0;
  }

 private:
  enum class phase { handshake, waiting };

  void status(const char* ev) {
    rep_.print(messages_, bytes_,
               {{"acked_index", ring_.released_index()},
                {"acked_sequence", acked_next_seq_},
                {"in_flight_bytes", flight_bytes_},
                {"in_flight_records", flight_.size()},
                {"window", c_.window},
                {"reconnects", reconnects_},
                {"sessions", sessions_},
                {"resends", resends_},
                {"refused", mon_->refused},
                {"lines_skipped", rep_.skipped()}},
               ev);
  }

  /// A new session: forget what is in flight (the receiver says where to resume) and say hello.
  void begin_session() {
    session_ = 0;
    while (session_ == 0) session_ = rng_();
    ++sessions_;
    phase_ = phase::handshake;
    ring_.rewind_records();
    flight_.clear();
    flight_bytes_ = 0;
    cur_.reset();
    frame_pending_ = false;
    was_in_flight_ = false;
    progress_at_ = clock_type::now();
    const auto h = wire::encode(wire::hello{session_, stream_, ring_.released_index(), c_.window});
    (void)sock_.send(h, ZMQ_DONTWAIT);  // lost with a connection that is not up: the next one says hello again
  }

  void read_socket() {
    for (int i = 0; i < 4096; ++i) {
      zmq_frame f;
      if (!f.recv(sock_)) return;
      const auto b = f.bytes();
      const auto k = wire::kind_of(b);
      if (k == wire::kind::welcome) {
        if (auto w = wire::decode_welcome(b); w && w->session == session_ && phase_ == phase::handshake) on_welcome(*w);
      } else if (k == wire::kind::ack) {
        if (auto a = wire::decode_ack(b); a && a->session == session_ && phase_ == phase::waiting) on_ack(*a);
      }
      // Anything else from the receiver is ignored: it cannot change what this side frees.
    }
  }

  void on_welcome(const wire::welcome& w) {
    if (w.status == wire::welcome_status::other_stream)
      throw stream_refused("the receiver's ring carries another stream (its journal names another sending ring)");
    if (w.status == wire::welcome_status::behind)
      throw stream_refused("the receiver has not written records this ring already freed (its journal was reset?)");
    const std::uint64_t released = ring_.released_index();
    if (w.next < released) throw stream_refused("the receiver asks for records before this ring's tail");
    // Records before w.next were written by the receiver, but their acknowledgement was lost: free them now.
    std::uint64_t delivered = 0;
    for (int guard = 0; ring_.peek_index() != w.next; ++guard) {
      auto v = ring_.try_peek_record();
      if (!v || v->to > w.next || guard > (1 << 30))
        throw stream_refused("the receiver's position is not a record boundary of this ring");
      if ((v->header.flags & record::flag_last_fragment) != 0) delivered = v->header.sequence + 1;
    }
    if (!ring_.release_records(w.next, delivered)) throw stream_refused("cannot free up to the receiver's position");
    if (delivered != 0) acked_next_seq_ = delivered;
    phase_ = phase::waiting;
    progress_at_ = clock_type::now();
  }

  void on_ack(const wire::ack& a) {
    progress_at_ = clock_type::now();
    std::uint64_t delivered = 0;
    while (!flight_.empty() && flight_.front().to <= a.next) {
      const flight_entry& e = flight_.front();
      bytes_ += e.length;
      flight_bytes_ -= e.length;
      if (e.last) {
        ++messages_;
        delivered = e.sequence + 1;
      }
      flight_.pop_front();
    }
    if (a.next != ring_.released_index() && !ring_.release_records(a.next, delivered)) {
      begin_session();  // not a position we sent: start again from what the receiver says
      return;
    }
    if (delivered != 0) acked_next_seq_ = delivered;
    was_in_flight_ = !flight_.empty() || cur_.has_value();
    if ((a.flags & wire::ack_gap) != 0) {
      ++resends_;
      begin_session();
    }
  }

  /// Adds chunks to the batch while the window allows, then sends it. True if a frame went out.
  bool fill_and_send() {
    if (!frame_pending_) {
      batch_.start(session_);
      for (bool first_peek = true;;) {
        if (!cur_) {
          if (!flight_.empty() && flight_bytes_ >= c_.window) break;
          if (batch_.bytes() + wire::chunk_header_size + 64 > c_.batch) break;
          std::optional<shmring::record_view> v;
          if (first_peek && batch_.chunks() == 0) v = wait_record();
          else v = ring_.try_peek_record();
          first_peek = false;
          if (!v) break;
          cur_ = *v;
          cur_off_ = 0;
        }
        const std::uint32_t rec_len = cur_->header.length;
        const std::size_t room = c_.batch - batch_.bytes() - wire::chunk_header_size;
        const std::uint32_t len = static_cast<std::uint32_t>(std::min<std::uint64_t>(rec_len - cur_off_, room & ~std::size_t{7}));
        if (len == 0 && rec_len != 0) break;
        const auto& h = cur_->header;
        batch_.add(wire::chunk{cur_->from, cur_->to, h.sequence, h.timestamp_ns, h.type, h.message_length, rec_len,
                               cur_off_, len, h.type_tag, h.flags, cur_->payload + cur_off_},
                   [](std::byte* d, const std::byte* s, std::size_t n) { shmring::detail::copy_from_peer(d, s, n); });
        cur_off_ += len;
        flight_bytes_ += len;
        if (cur_off_ == rec_len) {
          flight_.push_back({cur_->to, h.sequence, rec_len, (h.flags & record::flag_last_fragment) != 0});
          cur_.reset();
        }
      }
      if (batch_.chunks() == 0) return false;
      frame_pending_ = true;
    }
    if (!sock_.send(batch_.finish(), ZMQ_DONTWAIT)) return false;  // the high-water mark: wait for POLLOUT
    if (!was_in_flight_) progress_at_ = clock_type::now();  // the resend clock starts with the first frame in flight
    was_in_flight_ = true;
    frame_pending_ = false;
    return true;
  }

  /// The next record, waiting briefly for one when nothing else is to be done.
  std::optional<shmring::record_view> wait_record() {
    if (producer_gone_) return ring_.try_peek_record();
    try {
      return ring_.peek_record_for(std::chrono::milliseconds(flight_.empty() ? 20 : 1));
    } catch (const shmring::error& e) {
      if (e.code() != shmring::errc::peer_dead && e.code() != shmring::errc::closed) throw;
      producer_gone_ = true;  // the socket's wait paces the loop until a producer attaches again
      return ring_.try_peek_record();
    }
  }

  void idle() {
    zmq_pollitem_t items[2] = {{sock_.get(), 0, ZMQ_POLLIN, 0}, {mon_->socket(), 0, ZMQ_POLLIN, 0}};
    if (frame_pending_) items[0].events |= ZMQ_POLLOUT;
    // The ring's own wait (wait_record) already paced the loop when the window has room and no frame waits.
    const bool ring_waited = phase_ == phase::waiting && !frame_pending_ && !producer_gone_ &&
                             (flight_.empty() || flight_bytes_ < c_.window);
    const long timeout = ring_waited ? 0 : (producer_gone_ ? 20 : 50);
    (void)zmq_poll(items, 2, timeout);
    if (producer_gone_ && ring_.producer_state() == shmring::peer_state::alive) producer_gone_ = false;
  }

  config c_;
  shmring::message_consumer ring_;
  zmq_context ctx_;
  zmq_socket sock_;
  std::optional<link_monitor> mon_;
  reporter rep_;
  std::mt19937_64 rng_;
  wire::stream_id stream_;
  wire::data_builder batch_;
  phase phase_ = phase::handshake;
  std::uint64_t session_ = 0;
  std::deque<flight_entry> flight_;  // sent, not acknowledged: bounded by the window (bytes) and the ring
  std::uint64_t flight_bytes_ = 0;
  std::optional<shmring::record_view> cur_;  // a record whose chunks are being added (larger than a batch)
  std::uint32_t cur_off_ = 0;
  bool frame_pending_ = false;
  bool was_in_flight_ = false;  // something was in flight after the last acknowledgement (see on_ack)
  bool producer_gone_ = false;
  clock_type::time_point progress_at_{};
  std::uint64_t messages_ = 0, bytes_ = 0, acked_next_seq_ = 0, connections_ = 0, reconnects_ = 0, sessions_ = 0,
                resends_ = 0;
};

}  // namespace

int run_send(const config& c) {
  return run_mode("send", [&] { return sender(c).run(); });
}

}  // namespace shmring_bridge
