// shmring: a private copy of a segment header's fixed fields, read once from shared memory, and its validation.
// May touch: the header it is given, once per field, only after the acquire load of its ready word; nothing else.
//
// WHY A COPY
// Another process (a buggy or hostile one of the same user) can rewrite the header at any moment. A field read
// twice can pass the check on the first read and be something else on the second: a capacity that flips from 16
// to 2^20 between validate() and the mapping would give a ring of 2^20 slots over a 16-slot mapping. So the opener
// copies every field it will use into a header_snapshot, validates the copy, and builds every mapping size,
// capacity and data offset from the copy only (the Linux kernel's copy_from_user rule). The header's fields are
// immutable by protocol once ready: the copy is what an honest creator wrote.
#pragma once

#include <shmring/config.hpp>
#include <shmring/error.hpp>
#include <shmring/layout/header.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace shmring::layout {

/// The fields of lines 0 and 8 that never change after the header is ready, in private memory.
struct header_snapshot {
  std::uint8_t magic[8] = {};
  std::uint32_t version = 0;
  std::uint32_t kind = 0;
  std::uint32_t cache_line_size = 0;
  std::uint32_t element_size = 0;
  std::uint32_t element_align = 0;
  std::uint64_t capacity = 0;
  std::uint64_t data_offset = 0;
  std::uint64_t segment_size = 0;
  std::uint64_t initial_index = 0;
  std::uint64_t created_ns = 0;
  std::uint32_t flags = 0;
  std::uint32_t creator_uid = 0;
  std::uint8_t type_name[max_type_name] = {};
  std::uint32_t slot_stride = 0;  // layout 4: typed rings' bytes per slot; message rings 0
  std::uint32_t slot_format = 0;  // layout 4: typed rings' slot_format; message rings 0

  /// The segment kind, if it is one this build knows (validated snapshots always are).
  [[nodiscard]] segment_kind segment_kind_value() const noexcept { return static_cast<segment_kind>(kind); }
  [[nodiscard]] bool persistent() const noexcept { return (flags & flag_persistent) != 0; }
  /// The element type's declared name ("" when none): up to the first NUL of the 40 bytes.
  [[nodiscard]] std::string_view element_type_name() const noexcept {
    std::size_t n = 0;
    while (n < max_type_name && type_name[n] != 0) ++n;
    return {reinterpret_cast<const char*>(type_name), n};
  }
};

namespace detail {
template <class F>
void copy_field(F& to, const F& from) noexcept {
  // A byte copy, not an assignment: the compiler may not read the shared field twice for one use of the copy.
  std::memcpy(&to, &from, sizeof(F));
}
}  // namespace detail

/// Copies the fixed fields of h, each read once. Call only after the acquire load of h.control.ready saw
/// ready_value (that load pairs with the creator's release store, which makes the fields visible).
inline header_snapshot read_snapshot(const header& h) noexcept {
  header_snapshot s;
  std::memcpy(s.magic, h.control.magic, sizeof s.magic);
  detail::copy_field(s.version, h.control.version);
  detail::copy_field(s.kind, h.control.kind);
  detail::copy_field(s.cache_line_size, h.control.cache_line_size);
  detail::copy_field(s.element_size, h.control.element_size);
  detail::copy_field(s.element_align, h.control.element_align);
  detail::copy_field(s.capacity, h.control.capacity);
  detail::copy_field(s.data_offset, h.control.data_offset);
  detail::copy_field(s.segment_size, h.control.segment_size);
  detail::copy_field(s.initial_index, h.control.initial_index);
  detail::copy_field(s.created_ns, h.info.created_ns);
  detail::copy_field(s.flags, h.info.flags);
  detail::copy_field(s.creator_uid, h.info.creator_uid);
  std::memcpy(s.type_name, h.info.type_name, sizeof s.type_name);
  detail::copy_field(s.slot_stride, h.info.slot_stride);
  detail::copy_field(s.slot_format, h.info.slot_format);
  return s;
}

/// Writes the fixed fields of s into a header that nobody else reads yet (the creator, before ready).
inline void write_snapshot(header& h, const header_snapshot& s) noexcept {
  std::memcpy(h.control.magic, s.magic, sizeof s.magic);
  h.control.version = s.version;
  h.control.kind = s.kind;
  h.control.cache_line_size = s.cache_line_size;
  h.control.element_size = s.element_size;
  h.control.element_align = s.element_align;
  h.control.capacity = s.capacity;
  h.control.data_offset = s.data_offset;
  h.control.segment_size = s.segment_size;
  h.control.initial_index = s.initial_index;
  h.info.created_ns = s.created_ns;
  h.info.flags = s.flags;
  h.info.creator_uid = s.creator_uid;
  std::memcpy(h.info.type_name, s.type_name, sizeof s.type_name);
  h.info.slot_stride = s.slot_stride;
  h.info.slot_format = s.slot_format;
}

/// What an opener expects of a header. capacity 0 means "whatever the segment has".
struct expectation {
  segment_kind kind;
  std::uint32_t element_size;
  std::uint32_t element_align;
  std::uint64_t capacity;
  std::string_view type_name = {};  ///< typed rings: the element type's declared name, or empty
  slots slot_choice = slots::turn;   ///< typed rings: the slot format a creator gives the ring, an opener expects
  bool any_slots = false;            ///< typed openers: accept either format the ring was created with (dynamic
                                     ///< endpoints, which take the shape from the header); slot_choice then only
                                     ///< says what a creator gives
};

/// What info_line::slot_stride / slot_format hold for a ring of this expectation, and the bytes of data area per
/// unit of capacity (typed: the slot stride; message: element_size, i.e. 1). Computed by creator and opener alike.
struct data_shape {
  std::uint32_t slot_stride;  ///< the header field: typed_slot_shape().stride, or 0 for a message ring
  std::uint32_t slot_format;  ///< the header field: typed_slot_shape().format, or 0 for a message ring
  std::uint64_t unit;         ///< data-area bytes per unit of capacity
};
constexpr data_shape data_shape_for(const expectation& e) noexcept {
  if (e.kind != segment_kind::typed) return {0, 0, e.element_size};
  const slot_shape sh = typed_slot_shape(e.element_size, e.element_align, e.slot_choice);
  return {sh.stride, static_cast<std::uint32_t>(sh.format), sh.stride};
}

/// The expectation an opener checks a header against: want itself, except that an opener that accepts either slot
/// format (expectation::any_slots) expects the packed one of a header that says packed.
constexpr expectation opened_as(const expectation& want, std::uint32_t header_slot_format) noexcept {
  expectation e = want;
  if (e.kind == segment_kind::typed && e.any_slots)
    e.slot_choice = header_slot_format == static_cast<std::uint32_t>(slot_format::packed) ? slots::packed : slots::turn;
  return e;
}

/// What a slot format is called in errors.
inline const char* slot_format_name(std::uint32_t f) noexcept {
  return f == static_cast<std::uint32_t>(slot_format::packed) ? "packed"
         : f == static_cast<std::uint32_t>(slot_format::turn) ? "turn"
                                                               : "unknown";
}

/// Checks every field of a snapshot against this build and the opener's expectation, and the declared size
/// against the real one. Throws shmring::error naming the field. After it returns, every size the snapshot
/// declares is consistent: data_offset + capacity * unit == segment_size <= real_size (unit: data_shape_for(want),
/// the slot stride of a typed ring), and slot_stride / slot_format are what this program computes for the element.
inline void validate(const header_snapshot& h, std::uint64_t real_size, const expectation& want, std::string_view name) {
  auto num = [](std::uint64_t v) { return std::to_string(v); };
  if (std::memcmp(h.magic, layout_magic, sizeof layout_magic) != 0)
    throw error(errc::bad_magic, name, "the first 8 bytes are not \"SHMRING\\0\"");
  if (h.version != layout_version)
    throw error(errc::version_mismatch, name,
                "layout version is " + num(h.version) + " in the segment, " + num(layout_version) + " in this program");
  if (h.kind != static_cast<std::uint32_t>(want.kind))
    throw error(errc::kind_mismatch, name,
                std::string("the segment holds a ") +
                    (h.kind == 1 ? "typed ring" : h.kind == 2 ? "message ring" : "ring of unknown kind " + num(h.kind)) +
                    ", this program opened it as a " + (want.kind == segment_kind::typed ? "typed ring" : "message ring"));
  if (h.cache_line_size != cache_line)
    throw error(errc::layout_mismatch, name,
                "cache-line size is " + num(h.cache_line_size) + " in the segment, " + num(cache_line) + " in this program");
  if (h.element_size != want.element_size)
    throw error(errc::element_mismatch, name,
                "element size is " + num(h.element_size) + " in the segment, " + num(want.element_size) + " in this program");
  if (h.element_align != want.element_align)
    throw error(errc::element_mismatch, name,
                "element alignment is " + num(h.element_align) + " in the segment, " + num(want.element_align) +
                    " in this program");
  // A name on both sides must match; a type without one is compared by size and alignment only (above).
  if (const std::string_view stored = h.element_type_name();
      !want.type_name.empty() && !stored.empty() && stored != want.type_name)
    throw error(errc::element_mismatch, name,
                "element type is \"" + std::string(stored) + "\" in the segment, \"" + std::string(want.type_name) +
                    "\" in this program");
  const std::uint64_t cap = h.capacity;
  if (cap == 0 || !std::has_single_bit(cap) || cap > max_capacity)
    throw error(errc::corrupted, name, "capacity " + num(cap) + " is not a power of two in [1, 2^40]");
  if (want.capacity != 0 && cap != want.capacity)
    throw error(errc::capacity_mismatch, name,
                "capacity is " + num(cap) + " in the segment, " + num(want.capacity) + " was asked for");
  const data_shape shape = data_shape_for(opened_as(want, h.slot_format));
  if (want.kind == segment_kind::typed && h.slot_format != shape.slot_format && !want.any_slots &&
      (h.slot_format == static_cast<std::uint32_t>(slot_format::packed) ||
       typed_slot_shape(want.element_size, want.element_align).format == slot_format::turn))
    throw error(errc::layout_mismatch, name,
                std::string("the segment has ") + slot_format_name(h.slot_format) + " slots, this program opens it " +
                    "with " + slot_format_name(shape.slot_format) + " slots (shmring::slots: producer<T, S> and " +
                    "consumer<T, S> must name the format the ring was created with)");
  if (h.slot_stride != shape.slot_stride || h.slot_format != shape.slot_format)
    throw error(errc::layout_mismatch, name,
                "slot stride " + num(h.slot_stride) + " and format " + num(h.slot_format) + " in the segment, " +
                    num(shape.slot_stride) + " and " + num(shape.slot_format) + " in this program");
  if (shape.unit == 0 || cap > (std::uint64_t{1} << 46) / shape.unit)
    throw error(errc::corrupted, name, "capacity " + num(cap) + " times slot size exceeds 2^46 bytes");
  const std::uint64_t offset = data_offset_for(want.element_align);
  if (h.data_offset != offset)
    throw error(errc::layout_mismatch, name,
                "data offset is " + num(h.data_offset) + " in the segment, " + num(offset) + " in this program");
  const std::uint64_t declared = offset + cap * shape.unit;
  if (h.segment_size != declared)
    throw error(errc::layout_mismatch, name,
                "declared size is " + num(h.segment_size) + ", its fields make " + num(declared));
  if (real_size < declared)
    throw error(errc::truncated, name,
                "the segment is " + num(real_size) + " bytes, its header declares " + num(declared));
}

}  // namespace shmring::layout
