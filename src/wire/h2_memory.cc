#include "wire/h2_memory.h"

#include <cstdlib>
#include <cstring>

namespace pelt {
namespace {

void* pool_malloc(size_t size, void* pool) {
  return static_cast<H2Memory*>(pool)->allocate(size);
}

void pool_free(void* p, void* pool) {
  static_cast<H2Memory*>(pool)->release(p);
}

void* pool_calloc(size_t n, size_t size, void* pool) {
  if (size != 0 && n > SIZE_MAX / size) return nullptr;
  void* p = static_cast<H2Memory*>(pool)->allocate(n * size);
  if (p != nullptr) std::memset(p, 0, n * size);
  return p;
}

void* pool_realloc(void* p, size_t size, void* pool) {
  return static_cast<H2Memory*>(pool)->reallocate(p, size);
}

}  // namespace

H2Memory::H2Memory() : mem_{this, &pool_malloc, &pool_free, &pool_calloc, &pool_realloc} {}

H2Memory::~H2Memory() {
  for (Header* h : free_) {
    while (h != nullptr) {
      Header* next = h->next;
      std::free(h);
      h = next;
    }
  }
}

void* H2Memory::allocate(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes > kMaxPooledBytes) {
    auto* h = static_cast<Header*>(std::malloc(sizeof(Header) + bytes));
    if (h == nullptr) return nullptr;
    h->size_class = kHuge;
    return h + 1;
  }
  const auto c = static_cast<uint32_t>((bytes + kClassBytes - 1) / kClassBytes);
  Header* h = free_[c];
  if (h != nullptr) {
    free_[c] = h->next;
  } else {
    h = static_cast<Header*>(std::malloc(sizeof(Header) + c * kClassBytes));
    if (h == nullptr) return nullptr;
    h->size_class = c;
  }
  return h + 1;
}

void H2Memory::release(void* p) {
  if (p == nullptr) return;
  Header* h = static_cast<Header*>(p) - 1;
  if (h->size_class == kHuge) {
    std::free(h);
    return;
  }
  h->next = free_[h->size_class];
  free_[h->size_class] = h;
}

void* H2Memory::reallocate(void* p, size_t bytes) {
  if (p == nullptr) return allocate(bytes);
  if (bytes == 0) {
    release(p);
    return nullptr;
  }
  Header* h = static_cast<Header*>(p) - 1;
  if (h->size_class == kHuge) {
    if (bytes > kMaxPooledBytes) {
      auto* grown = static_cast<Header*>(std::realloc(h, sizeof(Header) + bytes));
      return grown == nullptr ? nullptr : grown + 1;
    }
  } else if (bytes <= h->size_class * kClassBytes) {
    return p;  // still fits
  }
  void* q = allocate(bytes);
  if (q == nullptr) return nullptr;
  const size_t old = h->size_class == kHuge ? bytes : h->size_class * kClassBytes;
  std::memcpy(q, p, old < bytes ? old : bytes);
  release(p);
  return q;
}

}  // namespace pelt
