// The header layout: the documented offsets, and every refusal of layout::validate on a header built by hand.
#include <catch2/catch.hpp>

#include <shmring/layout/snapshot.hpp>

#include <cstddef>
#include <cstring>
#include <memory>

using namespace shmring;

namespace {
// A valid header for a typed ring of 8-byte elements, capacity 16, on the heap.
struct built {
  std::unique_ptr<layout::header> h = std::make_unique<layout::header>();
  layout::expectation want{segment_kind::typed, 8, 8, 16};
  std::uint64_t size;
  built() {
    std::memcpy(h->control.magic, layout_magic, 8);
    h->control.version = layout_version;
    h->control.kind = 1;
    h->control.cache_line_size = static_cast<std::uint32_t>(cache_line);
    h->control.element_size = 8;
    h->control.element_align = 8;
    h->control.capacity = 16;
    h->control.data_offset = layout::data_offset_for(8);
    h->info.slot_stride = 16;  // layout 4: an 8-byte element gets a turn word, in a 16-byte slot
    h->info.slot_format = 1;
    h->control.segment_size = h->control.data_offset + 16 * 16;
    size = h->control.segment_size;
  }
  errc check(std::uint64_t real) const {
    try {
      layout::validate(layout::read_snapshot(*h), real, want, "t");
    } catch (const error& e) {
      return e.code();
    }
    return errc::ok;
  }
  errc check() const { return check(size); }
};
}  // namespace

TEST_CASE("the header has the documented size and offsets", "[layout]") {
  if constexpr (cache_line == 64) {
    CHECK(sizeof(layout::header) == 576);
    CHECK(offsetof(layout::header, head) == 64);
    CHECK(offsetof(layout::header, tail) == 128);
    CHECK(offsetof(layout::header, consumer_wait) == 320);
    CHECK(offsetof(layout::header, producer_wait) == 384);
    CHECK(offsetof(layout::header, attach) == 448);
    CHECK(offsetof(layout::header, info) == 512);
    CHECK(layout::data_offset_for(8) == 576);
    CHECK(layout::data_offset_for(256) == 768);
    CHECK(offsetof(layout::header, info) + offsetof(layout::info_line, slot_stride) == 568);
    CHECK(offsetof(layout::header, info) + offsetof(layout::info_line, slot_format) == 572);
  }
  CHECK(std::memcmp(layout_magic, "SHMRING", 8) == 0);
}

TEST_CASE("a well-formed header passes validation", "[layout]") {
  built b;
  CHECK(b.check() == errc::ok);
  CHECK(b.check(b.size + 4096) == errc::ok);  // a bigger object (page rounding) is fine
  b.want.capacity = 0;                         // "any capacity"
  CHECK(b.check() == errc::ok);
}

TEST_CASE("validation names every wrong field", "[layout]") {
  built b;
  SECTION("magic") {
    b.h->control.magic[0] = 'X';
    CHECK(b.check() == errc::bad_magic);
  }
  SECTION("version") {
    b.h->control.version = layout_version + 1;
    CHECK(b.check() == errc::version_mismatch);
  }
  SECTION("kind") {
    b.h->control.kind = 2;
    CHECK(b.check() == errc::kind_mismatch);
  }
  SECTION("cache line") {
    b.h->control.cache_line_size = 32;
    CHECK(b.check() == errc::layout_mismatch);
  }
  SECTION("element size") {
    b.want.element_size = 4;
    CHECK(b.check() == errc::element_mismatch);
  }
  SECTION("element alignment") {
    b.want.element_align = 4;
    CHECK(b.check() == errc::element_mismatch);
  }
  SECTION("capacity not a power of two") {
    b.h->control.capacity = 12;
    CHECK(b.check() == errc::corrupted);
  }
  SECTION("capacity zero") {
    b.h->control.capacity = 0;
    CHECK(b.check() == errc::corrupted);
  }
  SECTION("capacity absurdly large") {
    b.h->control.capacity = std::uint64_t{1} << 62;
    CHECK(b.check() == errc::corrupted);
  }
  SECTION("capacity other than asked") {
    b.want.capacity = 32;
    CHECK(b.check() == errc::capacity_mismatch);
  }
  SECTION("data offset") {
    b.h->control.data_offset = 64;
    CHECK(b.check() == errc::layout_mismatch);
  }
  SECTION("declared size") {
    b.h->control.segment_size += 8;
    CHECK(b.check(b.size + 8) == errc::layout_mismatch);
  }
  SECTION("slot stride") {
    b.h->info.slot_stride = 8;  // the packed stride of layout 3
    CHECK(b.check() == errc::layout_mismatch);
  }
  SECTION("slot format") {
    b.h->info.slot_format = 0;
    CHECK(b.check() == errc::layout_mismatch);
  }
  SECTION("a typed segment sized for packed slots") {
    b.h->control.segment_size = b.h->control.data_offset + 16 * 8;
    CHECK(b.check() == errc::layout_mismatch);
  }
  SECTION("object smaller than declared") {
    CHECK(b.check(b.size - 1) == errc::truncated);
    CHECK(b.check(sizeof(layout::header)) == errc::truncated);
  }
}

TEST_CASE("error messages name the segment and the field", "[layout]") {
  built b;
  b.want.element_size = 4;
  try {
    layout::validate(layout::read_snapshot(*b.h), b.size, b.want, "orders");
    FAIL("validate accepted a wrong element size");
  } catch (const error& e) {
    const std::string what = e.what();
    CHECK(what.find("\"orders\"") != std::string::npos);
    CHECK(what.find("element_mismatch") != std::string::npos);
    CHECK(what.find("element size is 8 in the segment, 4 in this program") != std::string::npos);
  }
}

TEST_CASE("a typed slot has a turn word wherever element and word fit a cache line", "[layout]") {
  using layout::slot_format;
  using layout::typed_slot_shape;
  if (cache_line != 64) return;  // the rows below are for 64-byte lines
  // element size, alignment -> format, stride, element offset (docs/layout.md, "Typed ring data area")
  struct row {
    std::uint64_t size, align;
    slot_format format;
    std::uint32_t stride, offset;
  };
  const row rows[] = {
      {1, 1, slot_format::turn, 16, 8},      {4, 4, slot_format::turn, 16, 8},
      {8, 8, slot_format::turn, 16, 8},      {16, 8, slot_format::turn, 32, 8},
      {24, 8, slot_format::turn, 32, 8},     {32, 16, slot_format::turn, 64, 16},
      {48, 16, slot_format::turn, 64, 16},   {56, 8, slot_format::turn, 64, 8},
      {32, 32, slot_format::turn, 64, 32},   {48, 48 / 3, slot_format::turn, 64, 16},
      {52, 4, slot_format::turn, 64, 8},     {57, 1, slot_format::packed, 57, 0},
      {64, 8, slot_format::packed, 64, 0},   {64, 64, slot_format::packed, 64, 0},
      {4096, 4096, slot_format::packed, 4096, 0}, {1u << 20, 8, slot_format::packed, 1u << 20, 0},
  };
  for (const row& r : rows) {
    INFO("size " << r.size << ", alignment " << r.align);
    const layout::slot_shape s = typed_slot_shape(r.size, r.align);
    CHECK(s.format == r.format);
    CHECK(s.stride == r.stride);
    CHECK(s.element_offset == r.offset);
    if (s.format == slot_format::turn) {
      CHECK(cache_line % s.stride == 0);       // a slot never straddles a line
      CHECK(s.element_offset % r.align == 0);  // the element is aligned in its slot
      CHECK(s.element_offset + r.size <= s.stride);
    }
  }
  // A message ring has no slots: both fields 0, one byte of data area per unit of capacity.
  const layout::data_shape m = layout::data_shape_for({segment_kind::message, 1, 8, 4096});
  CHECK(m.slot_stride == 0);
  CHECK(m.slot_format == 0);
  CHECK(m.unit == 1);
}
