// shmring: a snapshot of a ring's header (kind, capacity, fill level, both sides' counters and attach state),
// readable by any process that may open the segment: shmring::status(name) opens it READ-ONLY, maps only the
// header, checks it, and reads it without attaching, locking or writing anything.
// May touch: the segment (open read-only, map its header, query its attach locks). Never the data area.
#pragma once

#include <shmring/config.hpp>
#include <shmring/detail/attachment.hpp>
#include <shmring/detail/segment.hpp>
#include <shmring/error.hpp>
#include <shmring/layout/header.hpp>
#include <shmring/layout/snapshot.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <new>
#include <ostream>
#include <string>
#include <string_view>

namespace shmring {


/// One side of a ring as its header shows it.
struct side_status {
  layout::attach_state state = layout::attach_state::never;  ///< never attached, attached, or detached cleanly
  bool alive = false;                        ///< a process holds this side's attach lock now
  std::uint32_t pid = 0;                     ///< the last attacher's pid (display only: pids are reused)
  std::uint64_t start_time = 0;              ///< its start time, clock ticks since boot
  std::uint64_t attach_count = 0;            ///< how many times this side has attached
  std::uint64_t attach_ns = 0;               ///< CLOCK_REALTIME of the last attach, ns
  std::uint64_t messages = 0;                ///< typed: elements pushed/popped; message: messages sent/received
  std::uint64_t bytes = 0;                   ///< payload bytes sent/received
  std::uint64_t stalls = 0;                  ///< producer: found the ring full; consumer: found it empty
  std::uint64_t wake_calls = 0;              ///< futex wake calls made for the peer
  std::uint64_t sleeps = 0;                  ///< futex waits made
  bool corrupted = false;                    ///< message rings: this side found the ring corrupted

  /// Anyone. Attached but nobody holds its lock: it died without detaching.
  [[nodiscard]] bool dead() const noexcept { return state == layout::attach_state::attached && !alive; }
};

/// What a ring's header says at one moment. Counters are read one by one while the sides run: each is exact,
/// the set is approximately simultaneous.
struct ring_status {
  std::string name;                           ///< the user name of the segment
  segment_kind kind = segment_kind::typed;    ///< typed ring or message ring
  std::uint32_t layout_version = 0;
  std::uint64_t capacity = 0;                 ///< typed: elements; message: data bytes
  std::uint32_t element_size = 0;             ///< typed: sizeof(T); message: 1
  std::uint32_t element_align = 0;            ///< typed: alignof(T); message: 8
  std::string element_type;                   ///< typed: the element type's declared name, "" when none
  std::uint64_t data_offset = 0;
  std::uint64_t segment_size = 0;
  std::uint64_t created_ns = 0;               ///< CLOCK_REALTIME at creation, ns
  std::uint32_t creator_uid = 0;
  bool persistent = false;
  std::uint64_t initial_index = 0;
  std::uint64_t head = 0;                     ///< the producer's index
  std::uint64_t tail = 0;                     ///< the consumer's index
  bool consistent = true;                     ///< 0 <= head - tail <= capacity
  std::uint64_t messages_in_ring = 0;         ///< typed: elements; message: whole messages (from the counters)
  std::uint64_t bytes_used = 0;               ///< typed: elements * size; message: head - tail (framing included)
  double usage_percent = 0;                   ///< bytes_used / (capacity * element_size) * 100
  std::uint64_t next_sequence = 0;            ///< message rings: sequence of the next message sent
  std::uint64_t aborted = 0;                  ///< message rings: fragmented messages a producer gave up half-sent
  std::uint64_t dropped = 0;                  ///< message rings: partial messages the consumer dropped
  side_status producer;
  side_status consumer;
  memory_status memory;                       ///< this process's mapping (an endpoint's status() only; options::memory)
};

/// "off", "prefer" or "require".
constexpr std::string_view to_string(huge_pages h) noexcept {
  return h == huge_pages::off ? "off" : h == huge_pages::prefer ? "prefer" : "require";
}

/// "typed" or "message".
constexpr std::string_view to_string(segment_kind k) noexcept {
  return k == segment_kind::typed ? "typed" : k == segment_kind::message ? "message" : "unknown";
}

/// "never", "attached", "detached" or "closed".
constexpr std::string_view to_string(layout::attach_state s) noexcept {
  switch (s) {
    case layout::attach_state::never: return "never";
    case layout::attach_state::attached: return "attached";
    case layout::attach_state::detached: return "detached";
    case layout::attach_state::closed: return "closed";
  }
  return "unknown";
}

namespace detail {

/// Reads the live words of a ready header whose fixed fields were validated as snap. alive(side) says whether
/// that side holds its attach lock (a system call).
template <class Alive>
ring_status read_status(const layout::header& h, const layout::header_snapshot& snap, std::string_view name,
                        Alive&& alive) {
  ring_status s;
  s.name = std::string(name);
  s.kind = snap.segment_kind_value();
  s.layout_version = snap.version;
  s.capacity = snap.capacity;
  s.element_size = snap.element_size;
  s.element_align = snap.element_align;
  s.element_type = std::string(snap.element_type_name());
  s.data_offset = snap.data_offset;
  s.segment_size = snap.segment_size;
  s.created_ns = snap.created_ns;
  s.creator_uid = snap.creator_uid;
  s.persistent = snap.persistent();
  s.initial_index = snap.initial_index;
  // Both acquire, tail first (as ring::size_approx): they pair with the sides' release stores of their index,
  // and reading tail first makes head - tail < 0 unlikely; it is still checked.
  s.tail = h.tail.value.load(std::memory_order_acquire);
  s.head = h.head.value.load(std::memory_order_acquire);
  s.consistent = s.head - s.tail <= s.capacity;
  const std::uint64_t in_ring = s.consistent ? s.head - s.tail : 0;

  auto side_of = [&](side which, const layout::attach_slot& slot, const layout::stats_line& st) {
    side_status r;
    // "dead" is attached-with-a-free-lock. An attacher locks, then stores attached; a detacher stores detached,
    // then unlocks. Reading state, lock, state again and retrying when the state moved keeps a side that is
    // attaching or detaching right now from being called dead. Acquire pairs with their release stores of state.
    for (int i = 0; i < 4; ++i) {
      const auto before = slot.state.load(std::memory_order_acquire);
      r.alive = alive(which);
      const auto after = slot.state.load(std::memory_order_acquire);
      r.state = static_cast<layout::attach_state>(after);
      if (before == after) break;
    }
    r.pid = slot.pid.load(std::memory_order_relaxed);
    r.start_time = slot.start_time.load(std::memory_order_relaxed);
    r.attach_count = slot.attach_count.load(std::memory_order_relaxed);
    r.attach_ns = slot.attach_ns.load(std::memory_order_relaxed);
    // Relaxed: single-writer counters, each exact on its own.
    r.messages = st.messages.load(std::memory_order_relaxed);
    r.bytes = st.bytes.load(std::memory_order_relaxed);
    r.stalls = st.stalls.load(std::memory_order_relaxed);
    r.wake_calls = st.wake_calls.load(std::memory_order_relaxed);
    r.sleeps = st.sleeps.load(std::memory_order_relaxed);
    return r;
  };
  s.producer = side_of(side::producer, h.attach.producer, h.producer_stats);
  s.consumer = side_of(side::consumer, h.attach.consumer, h.consumer_stats);

  if (s.kind == segment_kind::message) {
    s.producer.corrupted = (h.producer_stats.reserved[layout::stats_word::flags].load(std::memory_order_relaxed) & layout::stats_word::flag_corrupted) != 0;
    s.consumer.corrupted = (h.consumer_stats.reserved[layout::stats_word::flags].load(std::memory_order_relaxed) & layout::stats_word::flag_corrupted) != 0;
    s.next_sequence = h.producer_stats.reserved[layout::stats_word::next_sequence].load(std::memory_order_relaxed);
    s.aborted = h.producer_stats.reserved[layout::stats_word::aborted].load(std::memory_order_relaxed);
    s.dropped = h.consumer_stats.reserved[layout::stats_word::dropped].load(std::memory_order_relaxed);
    s.bytes_used = in_ring;
    // Records are not counted in the header: whole messages in the ring = completed by the producer (+ given up
    // half-sent) - delivered or dropped by the consumer. Exact while both sides live; a side that died between
    // its index store and its counter store skews it by one, so it is clamped to what the bytes can hold.
    const std::uint64_t out = s.producer.messages + s.aborted;
    const std::uint64_t in = s.consumer.messages + s.dropped;
    s.messages_in_ring = out > in ? std::min(out - in, in_ring / 32) : 0;
    s.usage_percent = s.capacity != 0 ? 100.0 * static_cast<double>(in_ring) / static_cast<double>(s.capacity) : 0;
  } else {
    // A typed ring counts in its indices: element n is pushed when head passes it.
    s.producer.messages = s.head - s.initial_index;
    s.producer.bytes = s.producer.messages * s.element_size;
    s.consumer.messages = s.tail - s.initial_index;
    s.consumer.bytes = s.consumer.messages * s.element_size;
    s.messages_in_ring = in_ring;
    s.bytes_used = in_ring * s.element_size;
    s.usage_percent = s.capacity != 0 ? 100.0 * static_cast<double>(in_ring) / static_cast<double>(s.capacity) : 0;
  }
  return s;
}

/// The status as seen by an attached side: its own side is alive; the peer is asked through the endpoint.
inline ring_status attachment_status(const attachment& ep) {
  const side mine = ep.which();
  ring_status r = read_status(ep.header(), ep.snapshot(), ep.name(),
                              [&](side s) { return s == mine || ep.peer() == peer_state::alive; });
  r.memory = ep.memory();
  return r;
}

inline void json_string(std::string& out, std::string_view s) {
  // Names are bytes. Valid UTF-8 passes through; any other byte >= 0x80 is written as \u00XX.
  auto valid_utf8 = [](std::string_view v) {
    for (std::size_t i = 0; i < v.size();) {
      const auto c = static_cast<unsigned char>(v[i]);
      const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
      if (n == 0 || i + n > v.size()) return false;
      for (std::size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(v[i + k]) >> 6) != 0x2) return false;
      i += n;
    }
    return true;
  };
  const bool utf8 = valid_utf8(s);
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
      out.append("\\u00");
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xf]);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

inline std::string fixed2(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 2);
  return std::string(buf, r.ptr);
}

}  // namespace detail

/// Anyone, any process that may read the segment. Opens the segment READ-ONLY, maps its header, checks it (magic,
/// version, kind, sizes; any kind) and returns what it says, without attaching, locking or writing anything.
/// Throws shmring::error: not_found, not_ready (the creator has not finished), bad_magic, version_mismatch,
/// kind_mismatch (an unknown kind), layout_mismatch, truncated, corrupted, permission_denied, not_a_segment (a
/// FIFO, directory... under the name: refused at once, never waited on), system_error.
inline ring_status status(std::string_view name) {
  segment seg = segment::open(name, segment::access::read_only);
  const std::uint64_t real = seg.real_size();
  if (real < sizeof(layout::header))
    throw error(errc::not_ready, name,
                "the segment is " + std::to_string(real) + " bytes, smaller than a header: its creator has not sized it (or died)");
  seg.map(sizeof(layout::header));
  const auto* h = std::launder(reinterpret_cast<const layout::header*>(seg.data()));
  // SYNC POINT READ: header. Pairs with the creator's release store of ready in endpoint::create().
  if (h->control.ready.load(std::memory_order_acquire) != ready_value)
    throw error(errc::not_ready, name, "the header is not marked ready: its creator has not finished (or died)");
  // The fixed fields are read once, here; everything below uses the validated copy.
  const layout::header_snapshot snap = layout::read_snapshot(*h);
  layout::expectation e{segment_kind::message, 1, 8, 0};
  if (snap.kind == static_cast<std::uint32_t>(segment_kind::typed)) {
    const std::uint32_t size = snap.element_size, align = snap.element_align;
    if (size == 0 || align == 0 || !std::has_single_bit(align) || align > 4096)
      throw error(errc::corrupted, name,
                  "typed ring with element size " + std::to_string(size) + " and alignment " + std::to_string(align));
    e = {segment_kind::typed, size, align, 0, {}, slots::turn, /*any_slots=*/true};  // either slot format
  }  // any other kind: validate() throws kind_mismatch naming it
  layout::validate(snap, real, e, name);
  if (e.kind == segment_kind::message && (snap.capacity < 128 || snap.initial_index % 8 != 0))
    throw error(errc::corrupted, name, "message ring with a capacity under 128 bytes or an unaligned initial index");
  return detail::read_status(*h, snap, name, [&](side s) { return seg.locked_by_other(detail::lock_of(s)); });
}

/// A few lines for people:
/// `shmring "orders": message ring, 1048576 bytes; 12 messages, 4096 bytes in the ring (0.39%)` and one line per side.
inline std::string to_string(const ring_status& s) {
  std::string out = "shmring ";
  detail::json_string(out, s.name);
  const bool msg = s.kind == segment_kind::message;
  out += ": " + std::string(to_string(s.kind)) + " ring, layout " + std::to_string(s.layout_version) + ", capacity " +
         std::to_string(s.capacity) + (msg ? " bytes"
                                     : " elements of " + std::to_string(s.element_size) + " bytes" +
                                           (s.element_type.empty() ? std::string() : " (\"" + s.element_type + "\")")) +
         ", segment " + std::to_string(s.segment_size) + " bytes" + (s.persistent ? ", persistent" : "") + "\n";
  out += "  in the ring: " + std::to_string(s.messages_in_ring) + (msg ? " messages, " : " elements, ") +
         std::to_string(s.bytes_used) + " bytes (" + detail::fixed2(s.usage_percent) + "%); head " +
         std::to_string(s.head) + ", tail " + std::to_string(s.tail) + (s.consistent ? "" : " INCONSISTENT") + "\n";
  if (msg)
    out += "  next sequence " + std::to_string(s.next_sequence) + ", aborted " + std::to_string(s.aborted) +
           ", dropped " + std::to_string(s.dropped) + "\n";
  auto side_line = [&](const char* what, const side_status& d, bool producer) {
    std::string l = std::string("  ") + what + ": ";
    l += d.alive ? "alive" : d.dead() ? "DEAD" : std::string(to_string(d.state));
    if (d.state != layout::attach_state::never) l += ", pid " + std::to_string(d.pid);
    l += ", attached " + std::to_string(d.attach_count) + "x; ";
    l += std::to_string(d.messages) + (msg ? " messages, " : " elements, ") + std::to_string(d.bytes) + " bytes " +
         (producer ? "sent" : "received") + "; found " + (producer ? "full " : "empty ") + std::to_string(d.stalls) +
         "x; " + std::to_string(d.wake_calls) + " wake calls, " + std::to_string(d.sleeps) + " sleeps" +
         (d.corrupted ? "; found the ring CORRUPTED" : "") + "\n";
    return l;
  };
  out += side_line("producer", s.producer, true);
  out += side_line("consumer", s.consumer, false);
  if (s.memory.applied) {
    const memory_status& m = s.memory;
    out += std::string("  this mapping: ") + (m.locked ? "locked" : m.prefaulted ? "prefaulted" : "faulted on use") +
           "; huge pages " + std::string(to_string(m.huge)) +
           (m.huge == huge_pages::off ? std::string() : ", " + std::to_string(m.huge_bytes) + " bytes in 2 MiB pages") +
           (m.huge_note.empty() ? std::string() : " (" + m.huge_note + ")") + "\n";
  }
  return out;
}

/// One JSON object on one line (for `--json`). Field names are those of ring_status and side_status, plus
/// "dead" per side; kind and state are strings.
inline std::string to_json(const ring_status& s) {
  std::string o = "{\"name\":";
  detail::json_string(o, s.name);
  auto num = [&](const char* k, std::uint64_t v) { o += std::string(",\"") + k + "\":" + std::to_string(v); };
  auto boolean = [&](const char* k, bool v) { o += std::string(",\"") + k + "\":" + (v ? "true" : "false"); };
  auto str = [&](const char* k, std::string_view v) { o += std::string(",\"") + k + "\":\"" + std::string(v) + "\""; };
  str("kind", to_string(s.kind));
  num("layout_version", s.layout_version);
  num("capacity", s.capacity);
  num("element_size", s.element_size);
  num("element_align", s.element_align);
  o += ",\"element_type\":";
  detail::json_string(o, s.element_type);
  num("data_offset", s.data_offset);
  num("segment_size", s.segment_size);
  num("created_ns", s.created_ns);
  num("creator_uid", s.creator_uid);
  boolean("persistent", s.persistent);
  num("initial_index", s.initial_index);
  num("head", s.head);
  num("tail", s.tail);
  boolean("consistent", s.consistent);
  num("messages_in_ring", s.messages_in_ring);
  num("bytes_used", s.bytes_used);
  o += ",\"usage_percent\":" + detail::fixed2(s.usage_percent);
  num("next_sequence", s.next_sequence);
  num("aborted", s.aborted);
  num("dropped", s.dropped);
  for (int i = 0; i < 2; ++i) {
    const side_status& d = i == 0 ? s.producer : s.consumer;
    o += i == 0 ? ",\"producer\":{" : ",\"consumer\":{";
    o += "\"state\":\"" + std::string(to_string(d.state)) + "\"";
    boolean("alive", d.alive);
    boolean("dead", d.dead());
    num("pid", d.pid);
    num("start_time", d.start_time);
    num("attach_count", d.attach_count);
    num("attach_ns", d.attach_ns);
    num("messages", d.messages);
    num("bytes", d.bytes);
    num("stalls", d.stalls);
    num("wake_calls", d.wake_calls);
    num("sleeps", d.sleeps);
    boolean("corrupted", d.corrupted);
    o += "}";
  }
  if (s.memory.applied) {
    o += ",\"memory\":{";
    o += "\"huge\":\"" + std::string(to_string(s.memory.huge)) + "\"";
    boolean("prefaulted", s.memory.prefaulted);
    boolean("locked", s.memory.locked);
    num("huge_bytes", s.memory.huge_bytes);
    o += ",\"huge_note\":";
    detail::json_string(o, s.memory.huge_note);
    o += "}";
  }
  o += "}";
  return o;
}

/// Writes to_string(s).
inline std::ostream& operator<<(std::ostream& os, const ring_status& s) { return os << to_string(s); }

}  // namespace shmring
