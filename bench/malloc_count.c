// Counts heap allocations of a process: LD_PRELOAD=malloc_count.so pelt ...
//
// Wraps malloc, calloc, realloc, aligned allocations and free (C++ operator new ends in malloc
// with glibc's libstdc++), forwarding to glibc's own __libc_* entry points so no dlsym is
// needed. At exit it writes one line to the file named by MALLOC_COUNT_OUT (or stderr):
//   mallocs=N callocs=N reallocs=N frees=N bytes=N
// Build: cc -O2 -shared -fPIC -o malloc_count.so bench/malloc_count.c
// Used by bench/alloc.sh; see bench/alloc.md.
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void* __libc_malloc(size_t size);
extern void* __libc_calloc(size_t n, size_t size);
extern void* __libc_realloc(void* p, size_t size);
extern void* __libc_memalign(size_t align, size_t size);
extern void __libc_free(void* p);

static atomic_ullong g_mallocs;   // malloc and aligned allocations
static atomic_ullong g_callocs;   // calloc calls
static atomic_ullong g_reallocs;  // realloc calls
static atomic_ullong g_frees;     // free calls with a non-null pointer
static atomic_ullong g_bytes;     // bytes requested by all of the above

void* malloc(size_t size) {
  atomic_fetch_add_explicit(&g_mallocs, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&g_bytes, size, memory_order_relaxed);
  return __libc_malloc(size);
}

void* calloc(size_t n, size_t size) {
  atomic_fetch_add_explicit(&g_callocs, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&g_bytes, n * size, memory_order_relaxed);
  return __libc_calloc(n, size);
}

void* realloc(void* p, size_t size) {
  atomic_fetch_add_explicit(&g_reallocs, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&g_bytes, size, memory_order_relaxed);
  return __libc_realloc(p, size);
}

void* memalign(size_t align, size_t size) {
  atomic_fetch_add_explicit(&g_mallocs, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&g_bytes, size, memory_order_relaxed);
  return __libc_memalign(align, size);
}

void* aligned_alloc(size_t align, size_t size) { return memalign(align, size); }

int posix_memalign(void** out, size_t align, size_t size) {
  void* p = memalign(align, size);
  if (p == NULL) return 12;  // ENOMEM
  *out = p;
  return 0;
}

void free(void* p) {
  if (p != NULL) atomic_fetch_add_explicit(&g_frees, 1, memory_order_relaxed);
  __libc_free(p);
}

__attribute__((destructor)) static void report(void) {
  char line[256];
  int n = snprintf(line, sizeof(line), "mallocs=%llu callocs=%llu reallocs=%llu frees=%llu bytes=%llu\n",
                   (unsigned long long)atomic_load(&g_mallocs), (unsigned long long)atomic_load(&g_callocs),
                   (unsigned long long)atomic_load(&g_reallocs), (unsigned long long)atomic_load(&g_frees),
                   (unsigned long long)atomic_load(&g_bytes));
  const char* path = getenv("MALLOC_COUNT_OUT");
  FILE* f = path ? fopen(path, "a") : NULL;
  if (f) {
    fputs(line, f);
    fclose(f);
  } else if (n > 0) {
    ssize_t ignored = write(2, line, (size_t)n);
    (void)ignored;
  }
}
