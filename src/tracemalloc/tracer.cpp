// The tracer's core: live blocks in a sharded open-addressing table, interned tracebacks in an
// arena, stacks captured by frame pointers or by the unwinder, all in mmap'd memory.
#include "tracer.hpp"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/single_threaded.h>
#include <unistd.h>
#include <unwind.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <ctime>
#include <type_traits>
#include <unordered_map>

#include <batteries/tracemalloc/tracing.hpp>

#include "dump.hpp"
#include "hot.hpp"

// Interned return addresses go to put_traceback() as they are: a 64-bit address space.
static_assert(std::is_same_v<std::uintptr_t, std::uint64_t>,
              "the tracer stores return addresses as 64-bit words");

namespace batteries::tracemalloc::detail {

namespace {

// ---- Memory the tracer owns: mmap'd, never malloc'd -----------------------------------------

std::atomic<std::size_t> g_own_memory{0};

void* map_pages(std::size_t bytes) noexcept {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return nullptr;
  }
  g_own_memory.fetch_add(bytes, std::memory_order_relaxed);
  return p;
}

void unmap_pages(void* p, std::size_t bytes) noexcept {
  if (p != nullptr) {
    ::munmap(p, bytes);
    g_own_memory.fetch_sub(bytes, std::memory_order_relaxed);
  }
}

// ---- A spin lock that yields: held for a few dozen instructions at a time --------------------

class SpinLock {
 public:
  void lock() noexcept {
    if (__libc_single_threaded != 0) {
      // No other thread exists (glibc clears the flag before the first pthread_create
      // returns): no lock-prefixed instruction needed.
      m_flag.store(true, std::memory_order_relaxed);
      return;
    }
    for (;;) {
      if (!m_flag.exchange(true, std::memory_order_acquire)) {
        return;
      }
      for (int spins = 0; m_flag.load(std::memory_order_relaxed); ++spins) {
        if (spins < 64) {
          __builtin_ia32_pause();
        } else {
          ::sched_yield();
        }
      }
    }
  }
  bool try_lock() noexcept {
    return !m_flag.load(std::memory_order_relaxed) &&
           !m_flag.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { m_flag.store(false, std::memory_order_release); }
  void reset() noexcept { m_flag.store(false, std::memory_order_relaxed); }

 private:
  std::atomic<bool> m_flag{false};
};

// ---- Per-thread state: initial-exec TLS, so that reaching it never calls malloc -------------

constexpr std::size_t kCacheSize = 256;
constexpr std::size_t kStackFrames = 128;  // frames captured on the stack; more go to a mapping

struct Tb;

struct ThreadState {
  bool busy;
  bool locks_held;
  bool stack_known;
  std::uintptr_t stack_hi;
  std::uint64_t cache_generation;
  struct {
    std::uint64_t hash;
    const Tb* tb;
  } cache[kCacheSize];
  std::uintptr_t* big_frames;  // mmap'd when the limit exceeds kStackFrames
  std::size_t big_capacity;
};

__thread ThreadState t_state __attribute__((tls_model("initial-exec")));

// ---- Interned tracebacks ---------------------------------------------------------------------

struct Tb {
  std::uint64_t hash;
  std::uint32_t n;
  std::uint32_t total;
  std::uint32_t id;
  std::uint32_t reserved;
  Tb* next;  // hash chain
  // The n return addresses follow the header.
  std::uintptr_t* frames() noexcept { return reinterpret_cast<std::uintptr_t*>(this + 1); }
  const std::uintptr_t* frames() const noexcept {
    return reinterpret_cast<const std::uintptr_t*>(this + 1);
  }
};

std::size_t tb_bytes(std::uint32_t n) noexcept { return sizeof(Tb) + n * sizeof(std::uintptr_t); }

// Bump allocation in chunks that are kept for the life of the process: clear_traces() rewinds
// the arena but never unmaps it, so a thread still holding a stale Tb* reads mapped memory
// (and then sees that the generation moved on).
class Arena {
 public:
  void* allocate(std::size_t bytes) noexcept {
    bytes = (bytes + 15) & ~std::size_t{15};
    while (m_current == nullptr || m_current->used + bytes > m_current->size) {
      Chunk* next = m_current != nullptr ? m_current->next : m_first;
      if (next == nullptr) {
        std::size_t size = std::max<std::size_t>(kChunk, bytes + sizeof(Chunk));
        next = static_cast<Chunk*>(map_pages(size));
        if (next == nullptr) {
          return nullptr;
        }
        next->next = nullptr;
        next->size = size - sizeof(Chunk);
        if (m_current != nullptr) {
          m_current->next = next;
        } else {
          m_first = next;
        }
      }
      next->used = 0;
      m_current = next;
    }
    void* p = m_current->data() + m_current->used;
    m_current->used += bytes;
    return p;
  }
  void rewind() noexcept {
    m_current = nullptr;
    for (Chunk* c = m_first; c != nullptr; c = c->next) {
      c->used = 0;
    }
  }
  /// Calls f(tb) for every traceback, in allocation (= id) order.
  template <class F>
  void for_each(F&& f) const noexcept {
    for (Chunk* c = m_first; c != nullptr; c = c->next) {
      std::size_t at = 0;
      while (at < c->used) {
        const Tb* tb = reinterpret_cast<const Tb*>(c->data() + at);
        f(*tb);
        at += (tb_bytes(tb->n) + 15) & ~std::size_t{15};
      }
      if (c == m_current) {
        break;
      }
    }
  }

 private:
  static constexpr std::size_t kChunk = std::size_t{1} << 20;
  struct Chunk {
    Chunk* next;
    std::size_t size;
    std::size_t used;
    std::size_t pad;
    unsigned char* data() noexcept { return reinterpret_cast<unsigned char*>(this + 1); }
  };
  Chunk* m_first = nullptr;
  Chunk* m_current = nullptr;
};

struct Interned {
  SpinLock lock;
  Arena arena;
  Tb** buckets = nullptr;
  std::size_t nbuckets = 0;
  std::uint32_t count = 0;
};
Interned g_interned;

std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

std::uint64_t hash_frames(const std::uintptr_t* frames, std::size_t n,
                          std::uint32_t total) noexcept {
  // Independent multiplies summed: no serial dependency through the frames.
  std::uint64_t h = (n * 0x100000001b3ULL) ^ total;
  for (std::size_t i = 0; i < n; ++i) {
    h += (frames[i] ^ (i * 0x9e3779b97f4a7c15ULL)) * 0xff51afd7ed558ccdULL;
  }
  return mix(h) | 1;  // never 0: an empty cache slot has hash 0
}

bool same(const Tb& tb, std::uint64_t hash, const std::uintptr_t* frames, std::size_t n,
          std::uint32_t total) noexcept {
  return tb.hash == hash && tb.n == n && tb.total == total &&
         std::equal(frames, frames + n, tb.frames());
}

// The generation changes when traces are cleared; a Tb from an older generation is stale.
std::atomic<std::uint64_t> g_generation{1};

void grow_buckets() noexcept {
  std::size_t n = g_interned.nbuckets == 0 ? 4096 : g_interned.nbuckets * 2;
  auto* buckets = static_cast<Tb**>(map_pages(n * sizeof(Tb*)));
  if (buckets == nullptr) {
    return;  // keep the old table: chains just get longer
  }
  for (std::size_t i = 0; i < g_interned.nbuckets; ++i) {
    for (Tb* tb = g_interned.buckets[i]; tb != nullptr;) {
      Tb* next = tb->next;
      std::size_t b = tb->hash & (n - 1);
      tb->next = buckets[b];
      buckets[b] = tb;
      tb = next;
    }
  }
  unmap_pages(g_interned.buckets, g_interned.nbuckets * sizeof(Tb*));
  g_interned.buckets = buckets;
  g_interned.nbuckets = n;
}

/// The interned copy of a traceback (nullptr when out of memory), and the generation it
/// belongs to.
const Tb* intern(const std::uintptr_t* frames, std::size_t n, std::uint32_t total,
                 std::uint64_t& generation) noexcept {
  ThreadState& t = t_state;
  std::uint64_t h = hash_frames(frames, n, total);
  generation = g_generation.load(std::memory_order_acquire);
  if (t.cache_generation != generation) {
    std::memset(t.cache, 0, sizeof t.cache);
    t.cache_generation = generation;
  }
  auto& slot = t.cache[(h >> 7) & (kCacheSize - 1)];
  if (slot.hash == h && same(*slot.tb, h, frames, n, total)) {
    return slot.tb;
  }
  g_interned.lock.lock();
  generation = g_generation.load(std::memory_order_relaxed);
  const Tb* found = nullptr;
  if (g_interned.nbuckets != 0) {
    for (const Tb* tb = g_interned.buckets[h & (g_interned.nbuckets - 1)]; tb != nullptr;
         tb = tb->next) {
      if (same(*tb, h, frames, n, total)) {
        found = tb;
        break;
      }
    }
  }
  if (found == nullptr) {
    if (g_interned.count >= g_interned.nbuckets) {
      grow_buckets();
    }
    auto* tb = static_cast<Tb*>(
        g_interned.nbuckets != 0 ? g_interned.arena.allocate(tb_bytes(std::uint32_t(n))) : nullptr);
    if (tb != nullptr) {
      tb->hash = h;
      tb->n = std::uint32_t(n);
      tb->total = total;
      tb->id = g_interned.count++;
      tb->reserved = 0;
      std::memcpy(tb->frames(), frames, n * sizeof(std::uintptr_t));
      std::size_t b = h & (g_interned.nbuckets - 1);
      tb->next = g_interned.buckets[b];
      g_interned.buckets[b] = tb;
      found = tb;
    }
  }
  g_interned.lock.unlock();
  if (found != nullptr && t.cache_generation == generation) {
    slot.hash = h;
    slot.tb = found;
  }
  return found;
}

// ---- Live blocks: 64 shards, each an open-addressing table with tombstones -------------------

enum : std::uint32_t { kEmpty = 0, kFull = 1, kTomb = 2 };

struct Entry {
  std::uintptr_t key;
  std::uint64_t size;
  const Tb* tb;
  Domain domain;
  std::uint32_t state;
};

constexpr std::size_t kShards = 64;

struct alignas(64) Shard {
  SpinLock lock;
  Entry* slots = nullptr;
  std::size_t capacity = 0;  // a power of two
  std::size_t used = 0;      // full + tombstones
  std::size_t live = 0;
  // Bytes added or removed here and not yet moved to g_current (written under the lock, read
  // by anyone): the global counter is touched once per 64 KiB of change, not per block.
  std::atomic<std::int64_t> pending{0};
};
Shard g_shards[kShards];
constexpr std::int64_t kFlush = 64 * 1024;

std::uint64_t key_hash(std::uintptr_t key, Domain domain) noexcept {
  return mix(key ^ (std::uint64_t{domain} << 48) ^ domain);
}

// A block's shard: one of 8 groups, picked by the 64 MiB region the block lies in, then one of
// the group's 8 shards, picked by the block's hash. glibc gives each thread's arena a region
// of its own, so threads mostly keep to their own group's locks and counters (which stay in
// their own core's cache), while one thread's blocks still spread over 8 tables.
Shard& shard_for(std::uintptr_t key, Domain domain) noexcept {
  std::uint64_t group = mix((key >> 26) ^ (std::uint64_t{domain} * 0x9e3779b97f4a7c15ULL)) >> 62;
  return g_shards[(group << 4) | (key_hash(key, domain) >> 60)];
}

Entry* find(Shard& s, std::uint64_t h, std::uintptr_t key, Domain domain) noexcept {
  if (s.capacity == 0) {
    return nullptr;
  }
  std::size_t mask = s.capacity - 1;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    Entry& e = s.slots[i];
    if (e.state == kEmpty) {
      return nullptr;
    }
    if (e.state == kFull && e.key == key && e.domain == domain) {
      return &e;
    }
  }
}

bool rehash(Shard& s) noexcept {
  std::size_t capacity = s.capacity == 0 ? 1024 : s.capacity;
  while ((s.live + 1) * 2 > capacity) {
    capacity *= 2;
  }
  auto* slots = static_cast<Entry*>(map_pages(capacity * sizeof(Entry)));
  if (slots == nullptr) {
    return false;
  }
  std::size_t mask = capacity - 1;
  for (std::size_t i = 0; i < s.capacity; ++i) {
    const Entry& e = s.slots[i];
    if (e.state == kFull) {
      std::size_t j = key_hash(e.key, e.domain) & mask;
      while (slots[j].state != kEmpty) {
        j = (j + 1) & mask;
      }
      slots[j] = e;
    }
  }
  unmap_pages(s.slots, s.capacity * sizeof(Entry));
  s.slots = slots;
  s.capacity = capacity;
  s.used = s.live;
  return true;
}

// Current and peak traced bytes.
// Current and peak traced bytes. g_current lags by the shards' pending bytes; the current size
// is g_current plus them all (current_bytes()).
std::atomic<std::int64_t> g_current{0};
std::atomic<std::int64_t> g_peak{0};

void flush_bytes(std::int64_t delta) noexcept {
  if (delta == 0) {
    return;
  }
  std::int64_t now = 0;
  if (__libc_single_threaded != 0) {
    now = g_current.load(std::memory_order_relaxed) + delta;
    g_current.store(now, std::memory_order_relaxed);
  } else {
    now = g_current.fetch_add(delta, std::memory_order_relaxed) + delta;
  }
  std::int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

/// Counts a change of `delta` bytes in shard `s`, under its lock. Returns what the caller must
/// pass to flush_bytes() once the lock is released. One thread: every change, exactly (plain
/// stores). Several threads: once the shard's pending bytes reach 64 KiB either way.
std::int64_t account(Shard& s, std::int64_t delta) noexcept {
  std::int64_t pending = s.pending.load(std::memory_order_relaxed) + delta;
  if (__libc_single_threaded != 0 || pending >= kFlush || pending <= -kFlush) {
    s.pending.store(0, std::memory_order_relaxed);
    return pending;
  }
  s.pending.store(pending, std::memory_order_relaxed);
  return 0;
}

std::int64_t current_bytes() noexcept {
  std::int64_t total = g_current.load(std::memory_order_relaxed);
  for (const Shard& s : g_shards) {
    total += s.pending.load(std::memory_order_relaxed);
  }
  return std::max<std::int64_t>(total, 0);
}

/// Inserts or replaces the trace of (key, domain), under the shard's lock, unless the traces
/// were cleared since `generation` or tracing stopped. Returns false to ask for a retry.
bool insert(std::uintptr_t key, Domain domain, std::uint64_t size, const Tb* tb,
            std::uint64_t generation) noexcept {
  std::uint64_t h = key_hash(key, domain);
  Shard& s = shard_for(key, domain);
  s.lock.lock();
  if (g_generation.load(std::memory_order_relaxed) != generation) {
    s.lock.unlock();
    return false;
  }
  if (g_mode.load(std::memory_order_relaxed) == kModeOff) {
    s.lock.unlock();
    return true;
  }
  std::uint64_t replaced = 0;
  bool had = false;
  if (s.capacity == 0 && !rehash(s)) {
    s.lock.unlock();
    return true;  // out of memory: the block goes untraced
  }
  // One pass: the key's entry, or where a new one goes (the first tombstone on the way).
  std::size_t mask = s.capacity - 1;
  Entry* tomb = nullptr;
  Entry* slot = nullptr;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    Entry& e = s.slots[i];
    if (e.state == kEmpty) {
      slot = &e;
      break;
    }
    if (e.state == kTomb) {
      tomb = tomb != nullptr ? tomb : &e;
    } else if (e.key == key && e.domain == domain) {
      slot = &e;
      had = true;
      break;
    }
  }
  if (had) {
    replaced = slot->size;
    slot->size = size;
    slot->tb = tb;
  } else {
    if (tomb != nullptr) {
      slot = tomb;
    } else if ((s.used + 1) * 4 > s.capacity * 3) {
      if (!rehash(s)) {
        s.lock.unlock();
        return true;
      }
      mask = s.capacity - 1;
      std::size_t i = h & mask;
      while (s.slots[i].state != kEmpty) {
        i = (i + 1) & mask;
      }
      slot = &s.slots[i];
      ++s.used;
    } else {
      ++s.used;
    }
    *slot = Entry{key, size, tb, domain, kFull};
    ++s.live;
    if (g_mode.load(std::memory_order_relaxed) == kModeSampling) {
      filter_add(key);
    }
  }
  std::int64_t flush = account(s, std::int64_t(size) - (had ? std::int64_t(replaced) : 0));
  s.lock.unlock();
  flush_bytes(flush);
  return true;
}

/// Removes the trace of (key, domain); returns whether there was one, with its size and
/// traceback.
bool erase(std::uintptr_t key, Domain domain, std::uint64_t* size, const Tb** tb) noexcept {
  std::uint64_t h = key_hash(key, domain);
  Shard& s = shard_for(key, domain);
  s.lock.lock();
  Entry* e = find(s, h, key, domain);
  if (e == nullptr) {
    s.lock.unlock();
    return false;
  }
  std::uint64_t n = e->size;
  if (size != nullptr) {
    *size = n;
  }
  if (tb != nullptr) {
    *tb = e->tb;
  }
  e->state = kTomb;
  --s.live;
  filter_remove(key);
  std::int64_t flush = account(s, -std::int64_t(n));
  s.lock.unlock();
  flush_bytes(flush);
  return true;
}

/// Marks this thread as inside the tracer for a scope: what it allocates meanwhile is not
/// traced. Nests.
class BusyScope {
 public:
  BusyScope() noexcept : m_was(t_state.busy) { t_state.busy = true; }
  ~BusyScope() { t_state.busy = m_was; }
  BusyScope(const BusyScope&) = delete;
  BusyScope& operator=(const BusyScope&) = delete;

 private:
  bool m_was;
};

/// Marks this thread as holding tracer locks for a scope: its frees then skip the tables,
/// whose locks it would wait on itself.
class LocksHeldScope {
 public:
  LocksHeldScope() noexcept { t_state.locks_held = true; }
  ~LocksHeldScope() { t_state.locks_held = false; }
  LocksHeldScope(const LocksHeldScope&) = delete;
  LocksHeldScope& operator=(const LocksHeldScope&) = delete;
};

void lock_all() noexcept {
  g_interned.lock.lock();
  for (Shard& s : g_shards) {
    s.lock.lock();
  }
}

void unlock_all() noexcept {
  for (Shard& s : g_shards) {
    s.lock.unlock();
  }
  g_interned.lock.unlock();
}

/// Holds every lock of the tracer for a scope.
class AllLocked {
 public:
  AllLocked() noexcept { lock_all(); }
  ~AllLocked() { unlock_all(); }
  AllLocked(const AllLocked&) = delete;
  AllLocked& operator=(const AllLocked&) = delete;

 private:
  LocksHeldScope m_held;  // constructed before lock_all(), destroyed after unlock_all()
};
/// Forgets every trace and traceback; call with every lock held.
void clear_locked() noexcept {
  for (Shard& s : g_shards) {
    unmap_pages(s.slots, s.capacity * sizeof(Entry));
    s.slots = nullptr;
    s.capacity = s.used = s.live = 0;
    s.pending.store(0, std::memory_order_relaxed);
  }
  g_interned.arena.rewind();
  if (g_interned.buckets != nullptr) {
    std::memset(g_interned.buckets, 0, g_interned.nbuckets * sizeof(Tb*));
  }
  g_interned.count = 0;
  for (auto& counter : g_filter) {
    counter.store(0, std::memory_order_relaxed);
  }
  g_current.store(0, std::memory_order_relaxed);
  g_peak.store(0, std::memory_order_relaxed);
  g_generation.fetch_add(1, std::memory_order_release);
}

// ---- Stack capture ---------------------------------------------------------------------------

std::atomic<std::size_t> g_limit{1};
std::atomic<std::uint64_t> g_rate{0};

enum class Unwind { kAuto, kFramePointers, kUnwinder };
Unwind g_unwind = Unwind::kAuto;

// The C and C++ runtime libraries, built without frame pointers: an allocation they make is
// captured with the unwinder, and a frame-pointer walk stops at their frames.
struct Range {
  std::uintptr_t lo, hi;
};
constexpr std::size_t kMaxRuntime = 16;
Range g_runtime[kMaxRuntime];
std::atomic<std::size_t> g_runtime_count{0};

std::uintptr_t g_runtime_lo = ~std::uintptr_t{0};
std::uintptr_t g_runtime_hi = 0;

bool in_runtime(std::uintptr_t pc) noexcept {
  if (pc - g_runtime_lo >= g_runtime_hi - g_runtime_lo) {
    return false;  // outside every runtime library: the common case, one comparison
  }
  std::size_t n = g_runtime_count.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    if (pc - g_runtime[i].lo < g_runtime[i].hi - g_runtime[i].lo) {
      return true;
    }
  }
  return false;
}

bool is_runtime_name(const char* path) noexcept {
  const char* base = std::strrchr(path, '/');
  base = base != nullptr ? base + 1 : path;
  for (const char* prefix : {"libc.so", "libstdc++.so", "libc++.so", "libc++abi.so", "libgcc_s.so",
                             "ld-linux", "libm.so"}) {
    if (std::strncmp(base, prefix, std::strlen(prefix)) == 0) {
      return true;
    }
  }
  return false;
}

int note_runtime(dl_phdr_info* info, std::size_t, void*) noexcept {
  if (info->dlpi_name == nullptr || !is_runtime_name(info->dlpi_name)) {
    return 0;
  }
  std::size_t n = g_runtime_count.load(std::memory_order_relaxed);
  for (int i = 0; i < info->dlpi_phnum && n < kMaxRuntime; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) != 0) {
      Range r{info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz};
      g_runtime[n++] = r;
      g_runtime_lo = std::min(g_runtime_lo, r.lo);
      g_runtime_hi = std::max(g_runtime_hi, r.hi);
    }
  }
  g_runtime_count.store(n, std::memory_order_release);
  return 0;
}

void find_stack(ThreadState& t) noexcept {
  t.stack_known = true;
  t.stack_hi = 0;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr = nullptr;
    std::size_t size = 0;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
      t.stack_hi = reinterpret_cast<std::uintptr_t>(addr) + size;
    }
    pthread_attr_destroy(&attr);
  }
}

struct UnwindState {
  std::uintptr_t* out;
  std::size_t limit;
  std::size_t n;
  std::uintptr_t first;
  bool found;
  bool skip_runtime;
  bool truncated;
};

_Unwind_Reason_Code unwind_one(_Unwind_Context* ctx, void* arg) {
  auto& st = *static_cast<UnwindState*>(arg);
  auto ip = static_cast<std::uintptr_t>(_Unwind_GetIP(ctx));
  if (ip == 0) {
    return _URC_END_OF_STACK;
  }
  if (!st.found) {
    // The tracer's own frames, up to the hook's caller.
    if (ip != st.first) {
      return _URC_NO_REASON;
    }
    st.found = true;
  }
  bool runtime = g_unwind == Unwind::kAuto && in_runtime(ip);
  if (st.n == 0 && st.skip_runtime && runtime) {
    return _URC_NO_REASON;  // inside the C/C++ runtime: the interesting caller is further out
  }
  st.out[st.n++] = ip;
  if (runtime && st.n > 1) {
    // Back in the runtime after the program's frames (libc's start-up code, a thread's
    // trampoline): stop there, as a frame-pointer walk does, so both give the same stacks.
    return _URC_END_OF_STACK;
  }
  if (st.n >= st.limit) {
    st.truncated = true;
    return _URC_END_OF_STACK;
  }
  return _URC_NO_REASON;
}

/// Captures up to `limit` return addresses, most recent first, starting with `ret`, the
/// hook's return address; `fp` is the hook's frame. Sets total to the depth when the whole
/// stack fit, else kNoTotal.
[[gnu::noinline]] std::size_t capture(std::uintptr_t* out, std::size_t limit, std::uintptr_t ret,
                                      void* fp, std::uint32_t& total) noexcept {
  out[0] = ret;
  total = kNoTotal;
  bool runtime_caller = g_unwind != Unwind::kFramePointers && in_runtime(ret);
  if (g_unwind == Unwind::kUnwinder || runtime_caller) {
    UnwindState st{out, limit, 0, ret, false, runtime_caller, false};
    _Unwind_Backtrace(unwind_one, &st);
    if (st.n == 0) {
      out[0] = ret;
      return 1;
    }
    if (!st.truncated) {
      total = std::uint32_t(st.n);
    }
    return st.n;
  }
  if (limit == 1) {
    return 1;
  }
  ThreadState& t = t_state;
  if (!t.stack_known) {
    find_stack(t);
  }
  auto* frame = static_cast<std::uintptr_t*>(fp);
  std::size_t n = 1;
  while (n < limit) {
    auto* next = reinterpret_cast<std::uintptr_t*>(frame[0]);
    auto at = reinterpret_cast<std::uintptr_t>(next);
    if (next <= frame || at + 16 > t.stack_hi || (at & 7) != 0) {
      total = std::uint32_t(n);
      return n;
    }
    std::uintptr_t r = next[1];
    if (r == 0) {
      total = std::uint32_t(n);
      return n;
    }
    out[n++] = r;
    if (g_unwind == Unwind::kAuto && in_runtime(r)) {
      total = std::uint32_t(n);  // frame pointers end where the runtime's code begins
      return n;
    }
    frame = next;
  }
  return n;
}

std::uintptr_t* frame_buffer(ThreadState& t, std::size_t limit, std::uintptr_t* on_stack) noexcept {
  if (limit <= kStackFrames) {
    return on_stack;
  }
  if (t.big_capacity < limit) {
    std::size_t bytes = kMaxFrames * sizeof(std::uintptr_t);
    auto* p = static_cast<std::uintptr_t*>(map_pages(bytes));
    if (p == nullptr) {
      return on_stack;
    }
    t.big_frames = p;
    t.big_capacity = kMaxFrames;
  }
  return t.big_frames;
}

// ---- Sampling --------------------------------------------------------------------------------

std::uint64_t next_random(std::uint64_t& state) noexcept {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

__thread std::uint64_t t_rng __attribute__((tls_model("initial-exec")));
__thread std::uint64_t t_sample_epoch __attribute__((tls_model("initial-exec")));
std::atomic<std::uint64_t> g_sample_epoch{1};

std::int64_t draw_interval(std::uint64_t rate) noexcept {
  if (t_rng == 0) {
    t_rng = mix(reinterpret_cast<std::uintptr_t>(&t_rng) ^ std::uint64_t(::time(nullptr)) ^
                std::uint64_t(::gettid()) << 32) |
            1;
  }
  double u = double(next_random(t_rng) >> 11) * 0x1p-53;  // [0, 1)
  double gap = -std::log1p(-u) * double(rate);
  return std::int64_t(std::min(gap, 0x1p62)) + 1;
}

void record(void* ptr, Domain domain, std::uint64_t size, std::uintptr_t ret, void* fp) noexcept {
  ThreadState& t = t_state;
  std::size_t limit = g_limit.load(std::memory_order_relaxed);
  std::uintptr_t on_stack[kStackFrames];
  std::uintptr_t* frames = frame_buffer(t, limit, on_stack);
  if (frames == on_stack) {
    limit = std::min(limit, kStackFrames);
  }
  std::uint32_t total = kNoTotal;
  std::size_t n = capture(frames, limit, ret, fp, total);
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::uint64_t generation = 0;
    const Tb* tb = intern(frames, n, total, generation);
    if (tb == nullptr ||
        insert(reinterpret_cast<std::uintptr_t>(ptr), domain, size, tb, generation)) {
      return;
    }
  }
}

// ---- Modules ---------------------------------------------------------------------------------

char g_exe_path[4096];

const char* exe_path() noexcept {
  if (g_exe_path[0] == '\0') {
    ssize_t n = ::readlink("/proc/self/exe", g_exe_path, sizeof g_exe_path - 1);
    g_exe_path[n > 0 ? n : 0] = '\0';
  }
  return g_exe_path;
}

struct ModuleView {
  const char* path;
  std::uint64_t bias, start, end;
  const unsigned char* build_id;
  std::size_t build_id_size;
};

ModuleView view_of(const dl_phdr_info* info) noexcept {
  ModuleView m{};
  m.path = info->dlpi_name != nullptr && info->dlpi_name[0] != '\0' ? info->dlpi_name : exe_path();
  m.bias = info->dlpi_addr;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) != 0) {
      std::uint64_t lo = info->dlpi_addr + ph.p_vaddr;
      std::uint64_t hi = lo + ph.p_memsz;
      m.start = m.start == 0 ? lo : std::min(m.start, lo);
      m.end = std::max(m.end, hi);
    } else if (ph.p_type == PT_NOTE && m.build_id == nullptr) {
      const auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
      const unsigned char* end = p + ph.p_memsz;
      while (p + sizeof(ElfW(Nhdr)) <= end) {
        const auto* note = reinterpret_cast<const ElfW(Nhdr)*>(p);
        const unsigned char* name = p + sizeof(ElfW(Nhdr));
        const unsigned char* desc = name + ((note->n_namesz + 3) & ~3u);
        const unsigned char* next = desc + ((note->n_descsz + 3) & ~3u);
        if (next > end) {
          break;
        }
        if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 &&
            std::memcmp(name, "GNU", 4) == 0) {
          m.build_id = desc;
          m.build_id_size = note->n_descsz;
          break;
        }
        p = next;
      }
    }
  }
  return m;
}

}  // namespace

// ---- The hooks' entry points -----------------------------------------------------------------

bool& busy() noexcept { return t_state.busy; }

bool tracing() noexcept { return g_mode.load(std::memory_order_relaxed) != kModeOff; }

void on_alloc(void* ptr, std::size_t size, std::uintptr_t ret, void* fp) noexcept {
  ThreadState& t = t_state;
  if (ptr == nullptr || t.busy) {
    return;
  }
  if (g_dump_request.load(std::memory_order_relaxed)) [[unlikely]] {
    if (g_dump_request.exchange(false) && g_dump_callback != nullptr) {
      g_dump_callback();
    }
  }
  t.busy = true;
  std::uint64_t recorded = size;
  std::uint64_t rate = g_rate.load(std::memory_order_relaxed);
  if (rate != 0) {
    // The hook has already counted `size` down and found a sample point inside this block.
    if (t_sample_epoch != g_sample_epoch.load(std::memory_order_relaxed)) {
      // This thread's first block since sampling (re)started: its countdown was never drawn.
      t_sample_epoch = g_sample_epoch.load(std::memory_order_relaxed);
      hot_countdown() = draw_interval(rate) - std::int64_t(size);
      if (hot_countdown() > 0) {
        t.busy = false;
        return;
      }
    }
    hot_countdown() = draw_interval(rate);
    double p = -std::expm1(-double(size) / double(rate));
    recorded = p > 0 ? std::uint64_t(std::llround(double(size) / p)) : 0;
  }
  record(ptr, kDefaultDomain, recorded, ret, fp);
  t.busy = false;
}

void on_free(void* ptr) noexcept {
  ThreadState& t = t_state;
  if (ptr == nullptr || t.locks_held) {
    return;
  }
  BusyScope scope;
  erase(reinterpret_cast<std::uintptr_t>(ptr), kDefaultDomain, nullptr, nullptr);
}

TakenTrace take_trace(void* ptr) noexcept {
  TakenTrace taken;
  ThreadState& t = t_state;
  if (ptr == nullptr || t.locks_held) {
    return taken;
  }
  BusyScope scope;
  taken.generation = g_generation.load(std::memory_order_acquire);
  const Tb* tb = nullptr;
  taken.found = erase(reinterpret_cast<std::uintptr_t>(ptr), kDefaultDomain, &taken.size, &tb);
  taken.traceback = tb;
  return taken;
}

void restore_trace(void* ptr, const TakenTrace& taken) noexcept {
  if (!taken.found || t_state.locks_held) {
    return;
  }
  BusyScope scope;
  insert(reinterpret_cast<std::uintptr_t>(ptr), kDefaultDomain, taken.size,
         static_cast<const Tb*>(taken.traceback), taken.generation);
}

// ---- The API's side --------------------------------------------------------------------------

namespace {

std::atomic<bool> g_initialized{false};
SpinLock g_init_lock;

void fork_prepare() noexcept {
  t_state.locks_held = true;
  lock_all();
}
void fork_parent() noexcept {
  unlock_all();
  t_state.locks_held = false;
}
void fork_child() noexcept {
  for (Shard& s : g_shards) {
    s.lock.reset();
  }
  g_interned.lock.reset();
  t_state.locks_held = false;
}

void initialize() noexcept {
  if (g_initialized.load(std::memory_order_acquire)) {
    return;
  }
  g_init_lock.lock();
  if (!g_initialized.load(std::memory_order_relaxed)) {
    if (const char* mode = ::getenv("BATTERIES_TRACEMALLOC_UNWIND")) {
      if (std::strcmp(mode, "fp") == 0) {
        g_unwind = Unwind::kFramePointers;
      } else if (std::strcmp(mode, "unwind") == 0) {
        g_unwind = Unwind::kUnwinder;
      }
    }
    dl_iterate_phdr(note_runtime, nullptr);
    g_interned.lock.lock();
    grow_buckets();  // the first table, so that the first allocations find one
    g_interned.lock.unlock();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    // Warm the unwinder up (it may load libgcc_s and allocate) before any hook needs it.
    std::uintptr_t frames[2];
    std::uint32_t total = 0;
    UnwindState st{frames, 2, 0, 0, true, false, false};
    _Unwind_Backtrace(unwind_one, &st);
    (void)total;
    g_initialized.store(true, std::memory_order_release);
  }
  g_init_lock.unlock();
}

}  // namespace

void tracer_start(std::size_t nframes, std::uint64_t sample_rate) noexcept {
  BusyScope scope;
  initialize();
  g_limit.store(std::clamp<std::size_t>(nframes, 1, kMaxFrames), std::memory_order_relaxed);
  if (g_rate.exchange(sample_rate, std::memory_order_relaxed) != sample_rate) {
    g_sample_epoch.fetch_add(1, std::memory_order_relaxed);
  }
  int before =
      g_mode.exchange(sample_rate != 0 ? kModeSampling : kModeFull, std::memory_order_seq_cst);
  if (sample_rate != 0 && before != kModeSampling) {
    // Blocks traced so far were not counted in the filter that free() consults.
    AllLocked locked;
    for (auto& counter : g_filter) {
      counter.store(0, std::memory_order_relaxed);
    }
    for (Shard& s : g_shards) {
      for (std::size_t i = 0; i < s.capacity; ++i) {
        if (s.slots[i].state == kFull && s.slots[i].domain == kDefaultDomain) {
          filter_add(s.slots[i].key);
        }
      }
    }
  }
}

void tracer_stop() noexcept {
  g_mode.store(kModeOff, std::memory_order_seq_cst);
  tracer_clear();
}

std::size_t tracer_limit() noexcept { return g_limit.load(std::memory_order_relaxed); }
std::uint64_t tracer_sample_rate() noexcept { return g_rate.load(std::memory_order_relaxed); }

std::pair<std::size_t, std::size_t> tracer_traced_memory() noexcept {
  std::int64_t current = current_bytes();
  std::int64_t peak = g_peak.load(std::memory_order_relaxed);
  return {std::size_t(current), std::size_t(std::max(current, peak))};
}

void tracer_reset_peak() noexcept { g_peak.store(current_bytes(), std::memory_order_relaxed); }

void tracer_clear() noexcept {
  BusyScope scope;
  AllLocked locked;
  clear_locked();
}

std::size_t tracer_memory() noexcept { return g_own_memory.load(std::memory_order_relaxed); }

RawSnapshot tracer_snapshot() {
  BusyScope scope;
  RawSnapshot raw;
  raw.pid = std::uint64_t(::getpid());
  raw.traceback_limit = g_limit.load(std::memory_order_relaxed);
  raw.sample_rate = g_rate.load(std::memory_order_relaxed);
  raw.time = double(::time(nullptr));
  std::size_t live = 0;
  for (Shard& s : g_shards) {
    live += s.live;  // a hint for reserve(); read without the lock
  }
  raw.traces.reserve(live + live / 8 + 16);
  std::vector<const Tb*> used;
  std::unordered_map<const Tb*, std::uint32_t> index;
  {
    // Allocating while every lock is held is safe: this thread is busy, so its allocations are
    // not traced and its frees skip the tables.
    AllLocked locked;
    for (Shard& s : g_shards) {
      for (std::size_t i = 0; i < s.capacity; ++i) {
        const Entry& e = s.slots[i];
        if (e.state != kFull) {
          continue;
        }
        auto [it, added] = index.try_emplace(e.tb, std::uint32_t(used.size()));
        if (added) {
          used.push_back(e.tb);
        }
        raw.traces.push_back(RawTrace{e.domain, e.size, it->second});
      }
    }
    raw.tracebacks.reserve(used.size());
    for (const Tb* tb : used) {
      raw.tracebacks.push_back(
          RawTraceback{std::vector<std::uint64_t>(tb->frames(), tb->frames() + tb->n), tb->total});
    }
    std::int64_t current = current_bytes();
    raw.traced_current = std::uint64_t(current);
    raw.traced_peak = std::uint64_t(std::max(current, g_peak.load(std::memory_order_relaxed)));
  }
  raw.modules = collect_modules();
  return raw;
}

bool tracer_traceback_of(Domain domain, std::uintptr_t ptr, RawTraceback& out) {
  BusyScope scope;
  out.frames = {};  // freed here: under the lock below, the copy only allocates
  std::uint64_t h = key_hash(ptr, domain);
  Shard& s = shard_for(ptr, domain);
  bool found = false;
  s.lock.lock();
  try {
    LocksHeldScope held;
    if (const Entry* e = find(s, h, ptr, domain)) {
      found = true;
      out.frames.assign(e->tb->frames(), e->tb->frames() + e->tb->n);
      out.total_nframe = e->tb->total;
    }
  } catch (...) {
    s.lock.unlock();
    throw;
  }
  s.lock.unlock();
  return found;
}

bool tracer_track(Domain domain, std::uintptr_t ptr, std::size_t size, std::uintptr_t ret,
                  void* fp) noexcept {
  if (!tracing()) {
    return false;
  }
  BusyScope scope;
  record(reinterpret_cast<void*>(ptr), domain, size, ret, fp);
  return true;
}

bool tracer_untrack(Domain domain, std::uintptr_t ptr) noexcept {
  if (!tracing()) {
    return false;
  }
  BusyScope scope;
  erase(ptr, domain, nullptr, nullptr);
  return true;
}

std::vector<ModuleInfo> collect_modules() {
  std::vector<ModuleInfo> modules;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* arg) -> int {
        auto& out = *static_cast<std::vector<ModuleInfo>*>(arg);
        ModuleView m = view_of(info);
        if (m.end == 0) {
          return 0;  // nothing executable
        }
        out.push_back(
            ModuleInfo{m.path, m.bias, m.start, m.end,
                       std::string(reinterpret_cast<const char*>(m.build_id), m.build_id_size)});
        return 0;
      },
      &modules);
  return modules;
}

bool tracer_write_dump(DumpWriter& writer, std::uint64_t pid, bool from_signal) noexcept {
  BusyScope scope;
  LocksHeldScope held;
  bool locked[kShards] = {};
  bool interned_locked = false;
  if (from_signal) {
    // Bounded tries: the interrupted code may hold a lock and never give it back.
    for (int attempt = 0; attempt < 1000 && !interned_locked; ++attempt) {
      interned_locked = g_interned.lock.try_lock();
    }
    for (std::size_t i = 0; i < kShards; ++i) {
      for (int attempt = 0; attempt < 1000 && !locked[i]; ++attempt) {
        locked[i] = g_shards[i].lock.try_lock();
      }
    }
  } else {
    g_interned.lock.lock();
    interned_locked = true;
    for (std::size_t i = 0; i < kShards; ++i) {
      g_shards[i].lock.lock();
      locked[i] = true;
    }
  }

  writer.header();
  std::int64_t current = current_bytes();
  put_meta(writer, pid, g_limit.load(std::memory_order_relaxed),
           g_rate.load(std::memory_order_relaxed), std::uint64_t(current),
           std::uint64_t(std::max(current, g_peak.load(std::memory_order_relaxed))),
           double(::time(nullptr)));

  // Modules: counted first, then written, without allocating.
  struct ModuleCount {
    std::uint32_t n = 0;
  } count;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* arg) -> int {
        if (view_of(info).end != 0) {
          ++static_cast<ModuleCount*>(arg)->n;
        }
        return 0;
      },
      &count);
  writer.begin_section(Section::kModules);
  writer.u32(count.n);
  struct ModuleWrite {
    DumpWriter* w;
    std::uint32_t left;
  } mw{&writer, count.n};
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* arg) -> int {
        auto& st = *static_cast<ModuleWrite*>(arg);
        ModuleView m = view_of(info);
        if (m.end == 0 || st.left == 0) {
          return 0;
        }
        --st.left;
        put_module(*st.w, m.path, m.bias, m.start, m.end,
                   std::string_view(reinterpret_cast<const char*>(m.build_id), m.build_id_size));
        return 0;
      },
      &mw);
  for (; mw.left != 0; --mw.left) {  // a module unloaded between the two passes
    put_module(writer, "", 0, 0, 0, "");
  }
  writer.end_section();

  // Tracebacks in id order; a traceback interned while its lock was unavailable is skipped
  // together with its traces below.
  std::uint32_t ntb = interned_locked ? g_interned.count : 0;
  writer.begin_section(Section::kTracebacks);
  writer.u32(ntb);
  if (interned_locked) {
    std::uint32_t written = 0;
    g_interned.arena.for_each([&](const Tb& tb) {
      if (written < ntb) {
        put_traceback(writer, tb.total, tb.frames(), tb.n);
        ++written;
      }
    });
    for (; written < ntb; ++written) {
      put_traceback(writer, kNoTotal, nullptr, 0);
    }
  }
  writer.end_section();

  std::uint64_t ntraces = 0;
  for (std::size_t i = 0; i < kShards; ++i) {
    if (!locked[i]) {
      continue;
    }
    for (std::size_t j = 0; j < g_shards[i].capacity; ++j) {
      const Entry& e = g_shards[i].slots[j];
      ntraces += e.state == kFull && e.tb->id < ntb;
    }
  }
  writer.begin_section(Section::kTraces);
  writer.u64(ntraces);
  for (std::size_t i = 0; i < kShards; ++i) {
    if (!locked[i]) {
      continue;
    }
    for (std::size_t j = 0; j < g_shards[i].capacity; ++j) {
      const Entry& e = g_shards[i].slots[j];
      if (e.state == kFull && e.tb->id < ntb) {
        put_trace(writer, e.domain, e.size, e.tb->id);
      }
    }
  }
  writer.end_section();
  bool ok = writer.finish();

  for (std::size_t i = 0; i < kShards; ++i) {
    if (locked[i]) {
      g_shards[i].lock.unlock();
    }
  }
  if (interned_locked) {
    g_interned.lock.unlock();
  }
  return ok;
}

}  // namespace batteries::tracemalloc::detail
