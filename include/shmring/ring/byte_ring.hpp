// shmring: the message ring's algorithm over memory it is given: the record writer, the record reader, and
// that memory on the heap (heap_byte_ring, for two threads of one process, tests and the fuzzer). message/
// joins them to a segment; layout/record.hpp and docs/layout.md ("Message ring data area") document the bytes.
// May touch: nothing by itself; it gathers the three headers below.
#pragma once

#include <shmring/ring/byte_memory.hpp>
#include <shmring/ring/record_reader.hpp>
#include <shmring/ring/record_writer.hpp>
