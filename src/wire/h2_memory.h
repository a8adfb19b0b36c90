// Memory for the nghttp2 sessions of one worker thread: nghttp2 allocates and frees a few small
// blocks for every stream (the stream, its queued frames, a copy of its header array), and
// with many streams completing in one read the freed blocks overflow glibc's per-thread cache.
// This pool keeps freed blocks of each size class on a free list of its own and hands them out
// again, so steady-state streams cost no malloc. Single-threaded (one per worker); blocks over
// kMaxPooledBytes go to malloc. Freed memory is kept until the pool is destroyed, which must
// happen after every nghttp2 session using it.
#pragma once

#include <nghttp2/nghttp2.h>

#include <array>
#include <cstddef>
#include <cstdint>

namespace pelt {

class H2Memory {
 public:
  H2Memory();
  ~H2Memory();
  H2Memory(const H2Memory&) = delete;
  H2Memory& operator=(const H2Memory&) = delete;

  // The allocator to give nghttp2_session_client_new3 (points at this pool).
  nghttp2_mem* mem() { return &mem_; }

  void* allocate(size_t bytes);
  void release(void* p);
  void* reallocate(void* p, size_t bytes);

  static constexpr size_t kClassBytes = 16;        // size classes step by this many bytes
  static constexpr size_t kMaxPooledBytes = 1024;  // larger blocks are malloc's

 private:
  static constexpr size_t kClasses = kMaxPooledBytes / kClassBytes;
  // Every block starts with this header (16 bytes, so the payload stays 16-byte aligned).
  struct alignas(16) Header {
    uint32_t size_class;  // 1..kClasses, or kHuge
    uint32_t unused;      // padding
    Header* next;         // the next free block of the class (on a free list only)
  };
  static constexpr uint32_t kHuge = 0xffffffffu;

  nghttp2_mem mem_;                           // the callbacks nghttp2 calls
  std::array<Header*, kClasses + 1> free_{};  // free blocks by class (index 0 unused)
};

}  // namespace pelt
